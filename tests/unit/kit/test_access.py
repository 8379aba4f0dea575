"""The staff scope rules (ecandidat.contracts.access), role by role and statut by statut.

The expected tables are written out here, not computed with the module's own functions, so that
a change of rule has to change this table too.
"""

from __future__ import annotations

import uuid

import pytest

from ecandidat.contracts import access
from ecandidat.contracts.access import CandidatureScope
from ecandidat.contracts.auth import Principal
from ecandidat.contracts.errors import Forbidden

STATUTS = ("en_attente", "receptionne", "incomplet", "complet")


def staff(*roles: str, centres=(), commissions=()) -> Principal:
    return Principal(
        realm="staff",
        account_id=uuid.uuid4(),
        email="agent@univ.example",
        roles=roles,
        centres=centres,
        commissions=commissions,
    )


PEOPLE = {
    "admin": staff("admin"),
    "scolarite": staff("scolarite"),
    "scolarite_lecture": staff("scolarite_lecture"),
    "gestionnaire": staff("gestionnaire", centres=("DAEU",)),
    "gestionnaire_ailleurs": staff("gestionnaire", centres=("FC-DIPL",)),
    "gestionnaire_lecture": staff("gestionnaire_lecture", centres=("DAEU",)),
    "commission": staff("commission", commissions=("COM-DAEU",)),
    "commission_lecture": staff("commission_lecture", commissions=("COM-DAEU",)),
    "commission_ailleurs": staff("commission", commissions=("COM-FC",)),
}
ALL, COMPLET, NONE = set(STATUTS), {"complet"}, set()
# who → (statuts they read, statuts they manage, statuts they may decide on)
EXPECTED = {
    "admin": (ALL, ALL, ALL),
    "scolarite": (ALL, ALL, ALL),
    "scolarite_lecture": (ALL, NONE, NONE),
    "gestionnaire": (ALL, ALL, ALL),
    "gestionnaire_ailleurs": (NONE, NONE, NONE),
    "gestionnaire_lecture": (ALL, NONE, NONE),
    "commission": (COMPLET, NONE, COMPLET),
    "commission_lecture": (COMPLET, NONE, NONE),
    "commission_ailleurs": (NONE, NONE, NONE),
}


@pytest.mark.parametrize("who", sorted(PEOPLE))
@pytest.mark.parametrize("statut", STATUTS)
def test_the_matrix(who, statut):
    principal, scope = PEOPLE[who], CandidatureScope("DAEU", "COM-DAEU", statut)
    reads, manages, decides = EXPECTED[who]
    assert access.may_read(principal, scope) == (statut in reads)
    assert access.may_manage(principal, scope) == (statut in manages)
    assert access.may_decide(principal, scope) == (statut in decides)
    if statut not in reads:
        with pytest.raises(Forbidden) as refused:
            access.check_read(principal, scope)
        assert refused.value.extra["reason"] == "hors_perimetre"


def test_a_candidate_is_never_staff():
    me = Principal(
        realm="candidate", account_id=uuid.uuid4(), email="c@example.org", roles=("admin",), centres=("DAEU",)
    )
    scope = CandidatureScope("DAEU", "COM-DAEU", "complet")
    assert not (access.may_read(me, scope) or access.may_manage(me, scope) or access.may_decide(me, scope))


def test_a_formation_without_commission_is_seen_by_no_commission():
    scope = CandidatureScope("DAEU", None, "complet")
    assert not access.may_read(PEOPLE["commission"], scope)
    assert access.may_read(PEOPLE["gestionnaire"], scope)


def test_a_candidates_dossier_follows_their_candidatures():
    waiting, complete = (
        CandidatureScope("DAEU", "COM-DAEU", "receptionne"),
        CandidatureScope("DAEU", "COM-DAEU", "complet"),
    )
    assert not access.may_read_candidate(PEOPLE["commission"], [waiting])
    assert access.may_read_candidate(PEOPLE["commission"], [waiting, complete])
    assert access.may_read_candidate(PEOPLE["scolarite_lecture"], []), "admin and scolarité read every dossier"
    assert not access.may_read_candidate(PEOPLE["gestionnaire"], [])
    assert access.may_manage_candidate(PEOPLE["gestionnaire"], [waiting])
    assert not access.may_manage_candidate(PEOPLE["commission"], [complete])
    assert not access.may_manage_candidate(PEOPLE["gestionnaire_lecture"], [waiting])
