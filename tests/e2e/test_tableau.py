"""The staff's dashboard (`GET /api/v1/staff/candidatures/tableau`): per formation, the candidatures
by statut du dossier, the validated decisions, the confirmations and désistements and the capacity,
as the candidatures service keeps them (triggers, migrations 0009 and 0012) — always what counting
the candidatures one by one gives — and, for a commission member, what the commission examines."""

from __future__ import annotations

import pytest

from ecandidat.contracts.candidatures import Filters
from services.candidatures import store
from tests.e2e.test_accounts import api
from tests.e2e.test_accounts_staff import admin, invited
from tests.e2e.test_guide_journey import whole_platform
from tests.e2e.test_journey_defects import apply, candidate, own_formation, staff_decides

pytestmark = pytest.mark.slow


@pytest.fixture
async def platform(start_platform):
    return await whole_platform(start_platform)


async def test_the_dashboard_follows_each_candidature_and_shows_each_reader_their_part(platform, smtp_sink):
    root = await admin(platform)
    code = await own_formation(root, platform.clock.now().date(), capacite=2)

    async def tableau(who, query: str) -> dict:
        status, body, _ = await who.call("GET", f"/api/v1/staff/candidatures/tableau?{query}")
        assert status == 200, body
        return {item["formation_code"]: item for item in body["items"]}

    async def kept_equals_counted() -> dict:
        """The formation's figures as the API gives them, checked against its candidatures counted."""
        mine = (await tableau(root, f"formation_code={code}"))[code]
        async with platform.services["candidatures"].pool.acquire() as conn:
            statuts, suivis = await store.counted_suivi(conn, store.ListScope(), Filters(formation_code=code))
        counted = suivis.get(code, {})
        assert mine["statuts"] == statuts.get(code, {}) and mine["total"] == sum(mine["statuts"].values())
        assert mine["decisions"] == {k[9:]: n for k, n in counted.items() if k.startswith("decision:")}
        assert (mine["confirmees"], mine["desistees"]) == (counted.get("confirmee", 0), counted.get("desistee", 0))
        return mine

    empty = await kept_equals_counted()
    assert empty == {
        "formation_code": code,
        "formation_libelle": f"DU de la liste {code}",
        "capacite": 2,
        "total": 0,
        "statuts": {},
        "decisions": {},
        "decisions_a_valider": 0,
        "confirmees": 0,
        "desistees": 0,
    }

    admitted, waiting, refused, pending, leaving = [await candidate(platform, smtp_sink) for _ in range(5)]
    ids = {id(who): (await apply(platform, who, code))["id"] for who in (admitted, waiting, refused, pending, leaving)}
    assert (await kept_equals_counted())["statuts"] == {"en_attente": 5}

    await staff_decides(root, ids[id(admitted)], "favorable")
    await staff_decides(root, ids[id(waiting)], "liste_complementaire", rang=1)
    await staff_decides(root, ids[id(refused)], "defavorable", motif="Prérequis non satisfaits")
    status, body, _ = await api(
        platform, "POST", f"/api/v1/candidatures/{ids[id(leaving)]}/annulation", token=leaving["token"]
    )
    assert status == 200, body
    status, body, _ = await api(
        platform, "POST", f"/api/v1/candidatures/{ids[id(admitted)]}/confirmation", token=admitted["token"]
    )
    assert status == 200, body
    figures = await kept_equals_counted()
    assert figures["statuts"] == {"complet": 3, "en_attente": 1, "annulee": 1} and figures["total"] == 5
    assert figures["decisions"] == {"favorable": 1, "liste_complementaire": 1, "defavorable": 1}
    assert (figures["confirmees"], figures["desistees"]) == (1, 0)

    # The confirmed candidate withdraws: the place goes to the liste complémentaire's first.
    status, body, _ = await api(
        platform, "POST", f"/api/v1/candidatures/{ids[id(admitted)]}/desistement", token=admitted["token"]
    )
    assert status == 200, body
    figures = await kept_equals_counted()
    assert figures["desistees"] == 1 and figures["decisions"].get("liste_complementaire", 0) == 0
    assert figures["decisions"]["favorable"] == 2

    # A decision entered and not validated yet: the gestionnaire's work, counted and listed.
    pending_id = ids[id(pending)]
    for path, body in (
        ("/api/v1/staff/candidatures/statut", {"candidature_ids": [pending_id], "statut": "complet"}),
        (f"/api/v1/staff/candidatures/{pending_id}/decision", {"kind": "defavorable", "motif": "Dossier incomplet"}),
        (f"/api/v1/staff/candidatures/{pending_id}/decision", {"kind": "favorable"}),  # a second thought
    ):
        status, reply, _ = await root.call("POST", path, body)
        assert status in (200, 201), reply
    figures = await kept_equals_counted()
    assert figures["decisions_a_valider"] == 1 and figures["decisions"]["favorable"] == 2

    async def to_validate() -> list[str]:
        status, page, _ = await root.call("GET", f"/api/v1/staff/candidatures?formation_code={code}&decision=a_valider")
        assert status == 200, page
        return [row["id"] for row in page["items"]]

    assert await to_validate() == [pending_id]
    status, reply, _ = await root.call(
        "POST", "/api/v1/staff/candidatures/decisions/validation", {"candidature_ids": [pending_id]}
    )
    assert status == 200, reply
    figures = await kept_equals_counted()
    assert figures["decisions_a_valider"] == 0 and figures["decisions"]["favorable"] == 3
    assert await to_validate() == []

    # The centre's dashboard shows the formation with the same figures, beside the centre's others.
    centre = await tableau(root, "centre_code=FC-DIPL")
    assert centre[code] == figures and len(centre) > 1

    # A member of the formation's commission sees what the commission examines: the complet ones.
    member = await invited(platform, smtp_sink, root, ["commission"], commissions=["COM-FC"])
    seen = (await tableau(member, "commission_code=COM-FC"))[code]
    assert seen["statuts"] == {"complet": 4} and seen["total"] == 4
    assert seen["decisions"] == figures["decisions"] and seen["desistees"] == 1

    # Outside one's scope, or with nothing to select on, or an unknown formation: refused, in French.
    elsewhere = await invited(platform, smtp_sink, root, ["gestionnaire"], centres=["DAEU"])
    status, body, _ = await elsewhere.call("GET", "/api/v1/staff/candidatures/tableau?centre_code=FC-DIPL")
    assert status == 403 and body["detail"] == "Cette liste ne relève pas de votre périmètre.", body
    status, body, _ = await member.call("GET", "/api/v1/staff/candidatures/tableau?centre_code=FC-DIPL")
    assert status == 403, body
    status, body, _ = await root.call("GET", "/api/v1/staff/candidatures/tableau")
    assert status == 422 and body["detail"] == "Précisez une formation, un centre de candidature ou une commission."
    status, body, _ = await root.call("GET", "/api/v1/staff/candidatures/tableau?formation_code=NOPE")
    assert status == 404 and body["detail"] == "Cette formation n'existe pas.", body
    status, body, _ = await root.call("GET", "/api/v1/staff/candidatures/tableau?statut=complet&centre_code=FC-DIPL")
    assert status == 422 and body["errors"][0]["field"] == "statut", body
