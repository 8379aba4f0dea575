"""The étiquettes staff put on candidatures to sort their work: defined by an administrator, put on
and taken off a candidature within the staff member's scope (kept in its history), shown and
filtered on in the lists, written in the exports; a wrong one changes nothing."""

from __future__ import annotations

import csv
import io
import uuid

import pytest

from tests.e2e.test_accounts_staff import admin, invited
from tests.e2e.test_guide_journey import whole_platform
from tests.e2e.test_journey_defects import apply, candidate

pytestmark = pytest.mark.slow


@pytest.fixture
async def platform(start_platform):
    return await whole_platform(start_platform)


async def test_etiquettes_are_defined_put_on_filtered_on_and_exported(platform, smtp_sink):
    boss = await admin(platform)
    gestionnaire = await invited(platform, smtp_sink, boss, ["gestionnaire"], centres=["DAEU"])
    first = await apply(platform, await candidate(platform, smtp_sink), "DAEU-A")
    second = await apply(platform, await candidate(platform, smtp_sink), "DAEU-A")
    view = f"/api/v1/staff/candidatures/{first['id']}"

    # The demo's three first, in their order, for any staff member (the suite's other tests share
    # the database and add their own after them).
    status, listed, _ = await gestionnaire.call("GET", "/api/v1/staff/etiquettes")
    assert status == 200, listed
    assert [(e["code"], e["libelle"], e["couleur"]) for e in listed["items"]][:3] == [
        ("A-REVOIR", "À revoir", "orange-terre-battue"),
        ("PRIORITAIRE", "Dossier prioritaire", "green-emeraude"),
        ("RELANCE", "Candidat à relancer", "blue-ecume"),
    ]

    # An administrator adds one; a colour the DSFR has not is refused, a gestionnaire may not.
    code = f"ENTRETIEN-{uuid.uuid4().hex[:6].upper()}"
    definition = f"/api/v1/staff/offre/etiquettes/{code}"
    entretien = {"libelle": "Entretien à prévoir", "couleur": "purple-glycine", "ordre": 4}
    status, problem, _ = await boss.call("PUT", definition, {**entretien, "couleur": "rouge"})
    assert status == 422 and problem["errors"][0]["field"] == "couleur", problem
    status, problem, _ = await gestionnaire.call("PUT", definition, entretien)
    assert status == 403, problem
    status, listed, _ = await boss.call("GET", "/api/v1/staff/etiquettes")
    assert code not in [e["code"] for e in listed["items"]]
    status, saved, _ = await boss.call("PUT", definition, entretien)
    assert status == 201 and saved["created"], saved
    status, offer, _ = await boss.call("GET", "/api/v1/staff/offre")
    codes = [e["code"] for e in offer["etiquettes"]]
    assert codes[:3] == ["A-REVOIR", "PRIORITAIRE", "RELANCE"] and code in codes, codes

    # The gestionnaire of the centre puts two on a candidature: kept in the étiquettes' order, and
    # in the history with who did it.
    status, done, _ = await gestionnaire.call("PUT", f"{view}/etiquettes", {"etiquettes": [code, "A-REVOIR"]})
    assert status == 200 and done["etiquettes"] == ["A-REVOIR", code], done
    status, seen, _ = await gestionnaire.call("GET", view)
    assert status == 200 and seen["etiquettes"] == ["A-REVOIR", code], seen
    [entry] = [h for h in seen["history"] if h["action"] == "etiquettes"]
    assert entry["actor"] == gestionnaire.email and entry["details"] == {"old": [], "new": ["A-REVOIR", code]}

    # An unknown étiquette: refused in French, nothing changed.
    status, problem, _ = await gestionnaire.call("PUT", f"{view}/etiquettes", {"etiquettes": ["A-REVOIR", "FAUX"]})
    assert status == 422, problem
    assert problem["errors"] == [{"field": "etiquettes", "message": "Étiquette inconnue : FAUX."}], problem
    status, seen, _ = await gestionnaire.call("GET", view)
    assert seen["etiquettes"] == ["A-REVOIR", code]
    assert len([h for h in seen["history"] if h["action"] == "etiquettes"]) == 1

    # Archived: it stays where it is, and can no longer be put on another candidature.
    status, saved, _ = await boss.call("PUT", definition, {**entretien, "archivee": True})
    assert status == 200 and not saved["created"], saved
    status, done, _ = await gestionnaire.call("PUT", f"{view}/etiquettes", {"etiquettes": [code]})
    assert status == 200 and done["etiquettes"] == [code], done
    status, problem, _ = await gestionnaire.call(
        "PUT", f"/api/v1/staff/candidatures/{second['id']}/etiquettes", {"etiquettes": [code]}
    )
    assert status == 422, problem
    assert problem["errors"][0]["message"] == (
        "L'étiquette « Entretien à prévoir » est archivée : elle ne peut plus être ajoutée."
    ), problem
    status, done, _ = await gestionnaire.call(
        "PUT", f"/api/v1/staff/candidatures/{second['id']}/etiquettes", {"etiquettes": ["PRIORITAIRE"]}
    )
    assert status == 200, done

    # The list filtered on one étiquette shows the candidatures that have it, with their étiquettes.
    status, page, _ = await gestionnaire.call(
        "GET", f"/api/v1/staff/candidatures?formation_code=DAEU-A&etiquette={code}&limit=500"
    )
    assert status == 200, page
    assert [(r["id"], r["etiquettes"]) for r in page["items"]] == [(first["id"], [code])]
    status, page, _ = await gestionnaire.call(
        "GET", "/api/v1/staff/candidatures?formation_code=DAEU-A&etiquette=PRIORITAIRE&limit=500"
    )
    ids = [r["id"] for r in page["items"]]
    assert second["id"] in ids and first["id"] not in ids, ids
    status, problem, _ = await gestionnaire.call(
        "GET", "/api/v1/staff/candidatures?formation_code=DAEU-A&etiquette=pas%20un%20code"
    )
    assert status == 422 and problem["errors"][0]["field"] == "etiquette", problem

    # The export writes them by their libellés.
    async with platform.http.get(
        platform.url(f"/api/v1/staff/candidatures/export.csv?formation_code=DAEU-A&etiquette={code}"),
        headers={"Authorization": f"Bearer {gestionnaire.token}"},
    ) as resp:
        assert resp.status == 200
        rows = list(csv.DictReader(io.StringIO((await resp.read()).decode("utf-8-sig")), delimiter=";"))
    assert [(r["Numéro de dossier"], r["Étiquettes"]) for r in rows] == [
        (first["numero_dossier"], "Entretien à prévoir")
    ]

    # All taken off: an empty list.
    status, done, _ = await gestionnaire.call("PUT", f"{view}/etiquettes", {"etiquettes": []})
    assert status == 200 and done["etiquettes"] == [], done
    status, seen, _ = await gestionnaire.call("GET", view)
    assert seen["etiquettes"] == [] and seen["history"][-1]["details"] == {"old": [code], "new": []}
