"""The espace gestion offers an action only when the API would accept it: its role groups are the
API's (`ecandidat/contracts/access.py`), restated in `web/gestion/roles.py` because the web front
imports no contract."""

from ecandidat.contracts import access
from web.gestion import roles
from web.gestion.roles import Can


def test_the_pages_role_groups_are_the_api_s():
    assert roles.STAFF_ROLES == access.STAFF_ROLES
    assert roles.EVERYWHERE == access.EVERYWHERE
    assert roles.MANAGERS == access.MANAGERS
    assert roles.DECIDERS == access.DECIDERS
    assert roles.OFFER_ADMINS == access.OFFER_ADMINS
    assert roles.ADMIN == access.REGISTRY_ADMINS


def test_what_each_role_is_offered():
    offered = {role: (Can((role,)).manage, Can((role,)).decide) for role in access.STAFF_ROLES}
    assert offered == {
        "admin": (True, True), "scolarite": (True, True), "scolarite_lecture": (False, False),
        "gestionnaire": (True, True), "gestionnaire_lecture": (False, False),
        "commission": (False, True), "commission_lecture": (False, False),
    }
    administration = {role: (Can((role,)).administer_offer, Can((role,)).administer) for role in access.STAFF_ROLES}
    assert administration == {
        "admin": (True, True), "scolarite": (True, False), "scolarite_lecture": (False, False),
        "gestionnaire": (False, False), "gestionnaire_lecture": (False, False),
        "commission": (False, False), "commission_lecture": (False, False),
    }
    gestionnaire = Can(("gestionnaire",), centres=("DAEU",))
    assert gestionnaire.sees_centre("DAEU") and not gestionnaire.sees_centre("MUSICO")
    assert not Can(("commission",), commissions=("COM-DAEU",)).sees_centre("DAEU")
    assert Can(("commission",), commissions=("COM-DAEU",)).sees_commission("COM-DAEU")
