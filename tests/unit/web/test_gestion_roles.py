"""The espace gestion offers an action only when the API would accept it: its role groups are the
API's (`ecandidat/contracts/access.py`), restated in `web/gestion/roles.py` because the web front
imports no contract."""

import uuid

from ecandidat.contracts import access
from web.gestion import roles
from web.gestion.roles import Can


def test_the_pages_role_groups_are_the_api_s():
    assert roles.STAFF_ROLES == access.STAFF_ROLES
    assert roles.EVERYWHERE == access.EVERYWHERE
    assert roles.CENTRE_ROLES == access.CENTRE_ROLES
    assert roles.COMMISSION_ROLES == access.COMMISSION_ROLES
    assert roles.MANAGERS == access.MANAGERS
    assert roles.DECIDERS == access.DECIDERS
    assert roles.OFFER_ADMINS == access.OFFER_ADMINS
    assert roles.ACCOUNT_READERS == access.ACCOUNT_READERS
    assert roles.ADMIN == access.ADMINS == access.REGISTRY_ADMINS


def test_each_role_has_its_name_in_the_pages():
    """The pages name the roles (« Gestionnaire (lecture seule) »), not their codes, all distinctly."""
    assert set(roles.ROLE_LABELS) == set(access.STAFF_ROLES)
    assert len(set(roles.ROLE_LABELS.values())) == len(roles.ROLE_LABELS)
    assert roles.role_label("gestionnaire_lecture") == "Gestionnaire (lecture seule)"


def test_the_pages_see_what_the_api_lets_read():
    """`Can.sees_centre` / `sees_commission` answer as the API's scope rules for every role."""
    from ecandidat.contracts.auth import Principal

    for role in access.STAFF_ROLES:
        can = Can((role,), centres=("DAEU",), commissions=("COM-DAEU",))
        who = Principal(
            realm="staff",
            account_id=uuid.UUID(int=1),
            email="x@univ.example",
            roles=(role,),
            centres=("DAEU",),
            commissions=("COM-DAEU",),
        )
        for centre in ("DAEU", "FC-DIPL"):
            assert can.sees_centre(centre) == access.covers_centre(who, centre), (role, centre)
        for commission in ("COM-DAEU", "COM-FC"):
            assert can.sees_commission(commission) == who.sits_on_commission(commission), (role, commission)


def test_what_each_role_is_offered():
    offered = {role: (Can((role,)).manage, Can((role,)).decide) for role in access.STAFF_ROLES}
    assert offered == {
        "admin": (True, True),
        "scolarite": (True, True),
        "scolarite_lecture": (False, False),
        "gestionnaire": (True, True),
        "gestionnaire_lecture": (False, False),
        "commission": (False, True),
        "commission_lecture": (False, False),
    }
    administration = {role: (Can((role,)).administer_offer, Can((role,)).administer) for role in access.STAFF_ROLES}
    assert administration == {
        "admin": (True, True),
        "scolarite": (True, False),
        "scolarite_lecture": (False, False),
        "gestionnaire": (False, False),
        "gestionnaire_lecture": (False, False),
        "commission": (False, False),
        "commission_lecture": (False, False),
    }
    gestionnaire = Can(("gestionnaire",), centres=("DAEU",))
    assert gestionnaire.sees_centre("DAEU") and not gestionnaire.sees_centre("MUSICO")
    assert not Can(("commission",), commissions=("COM-DAEU",)).sees_centre("DAEU")
    assert Can(("commission",), commissions=("COM-DAEU",)).sees_commission("COM-DAEU")
