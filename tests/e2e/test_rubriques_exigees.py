"""The dossier's optional sections a formation requires (the guide, étape 2: « Les rubriques
cursus, stages et expériences sont facultatives pour les candidats au DAEU »): optional unless the
formation says otherwise, checked when the candidate applies, set by an administrator."""

from __future__ import annotations

import pytest

from tests.e2e.test_accounts import api
from tests.e2e.test_accounts_staff import admin
from tests.e2e.test_guide_journey import whole_platform
from tests.e2e.test_journey_defects import candidate
from tests.unit.dossiers.samples import experiences

pytestmark = pytest.mark.slow


@pytest.fixture
async def platform(start_platform):
    return await whole_platform(start_platform)


def offered(offre: dict) -> dict[str, dict]:
    return {f["code"]: f for centre in offre["centres"] for t in centre["types"] for f in t["formations"]}


async def test_a_formation_s_required_sections_are_checked_when_the_candidate_applies(platform, smtp_sink):
    token = (await candidate(platform, smtp_sink))["token"]  # the three sections, and a stage

    status, offre, _ = await api(platform, "GET", "/api/v1/offre")
    assert status == 200, offre
    formations = offered(offre)
    assert formations["VA85-LIC"]["rubriques_exigees"] == ["experiences_professionnelles"]
    assert formations["DAEU-A"]["rubriques_exigees"] == []

    # The VA85 asks for the professional experience the dossier does not have yet: refused, in
    # French, naming the section, and no candidature is made.
    status, problem, _ = await api(
        platform, "POST", "/api/v1/candidatures", {"formation_code": "VA85-LIC"}, token=token
    )
    assert status == 409 and problem["reason"] == "dossier_incomplet", problem
    assert "Expériences professionnelles : rubrique à renseigner, exigée par cette formation" in problem["detail"]
    assert problem["rubriques"] == ["experiences_professionnelles"], problem
    status, mine, _ = await api(platform, "GET", "/api/v1/candidatures", token=token)
    assert status == 200 and mine["items"] == [], mine

    # For the DAEU cursus, stages and expériences are optional: the same dossier applies.
    status, daeu, _ = await api(platform, "POST", "/api/v1/candidatures", {"formation_code": "DAEU-A"}, token=token)
    assert status == 201, daeu

    # An empty list is no experience; one line is.
    status, body, _ = await api(
        platform,
        "PUT",
        "/api/v1/dossier/sections/experiences-professionnelles",
        {"items": []},
        token=token,
        headers={"If-Match": '"0"'},
    )
    assert status == 200, body
    status, problem, _ = await api(
        platform, "POST", "/api/v1/candidatures", {"formation_code": "VA85-LIC"}, token=token
    )
    assert status == 409 and problem["reason"] == "dossier_incomplet", problem
    status, body, _ = await api(
        platform,
        "PUT",
        "/api/v1/dossier/sections/experiences-professionnelles",
        experiences(),
        token=token,
        headers={"If-Match": '"1"'},
    )
    assert status == 200, body
    status, va85, _ = await api(platform, "POST", "/api/v1/candidatures", {"formation_code": "VA85-LIC"}, token=token)
    assert status == 201, va85
    status, mine, _ = await api(platform, "GET", "/api/v1/candidatures", token=token)
    assert sorted(item["formation_code"] for item in mine["items"]) == ["DAEU-A", "VA85-LIC"], mine


async def test_an_administrator_sets_a_formation_s_required_sections_and_a_wrong_one_changes_nothing(platform):
    boss = await admin(platform)
    status, offer, _ = await boss.call("GET", "/api/v1/staff/offre")
    assert status == 200, offer
    musico = next(f for f in offer["formations"] if f["code"] == "DU-MUSICO")
    assert musico["rubriques_exigees"] == []
    body = {k: v for k, v in musico.items() if k != "code" and v is not None}

    status, problem, _ = await boss.call(
        "PUT", "/api/v1/staff/offre/formations/DU-MUSICO", {**body, "rubriques_exigees": ["stages", "cursus_interne"]}
    )
    assert status == 422 and problem["errors"][0]["field"].startswith("rubriques_exigees"), problem
    status, again, _ = await boss.call("GET", "/api/v1/staff/offre")
    assert next(f for f in again["formations"] if f["code"] == "DU-MUSICO") == musico

    status, saved, _ = await boss.call(
        "PUT",
        "/api/v1/staff/offre/formations/DU-MUSICO",
        {**body, "rubriques_exigees": ["stages", "cursus_externe", "stages"]},
    )
    assert status == 200, saved
    status, offre, _ = await api(platform, "GET", "/api/v1/offre")
    assert offered(offre)["DU-MUSICO"]["rubriques_exigees"] == ["stages", "cursus_externe"]


async def test_a_section_emptied_after_applying_is_asked_for_again_at_the_transmission(platform, smtp_sink):
    """Only the informations personnelles are locked by a candidature: a candidate who empties the
    expériences the VA85 requires cannot transmit it until they are back."""
    token = (await candidate(platform, smtp_sink))["token"]
    section = "/api/v1/dossier/sections/experiences-professionnelles"
    status, body, _ = await api(platform, "PUT", section, experiences(), token=token, headers={"If-Match": '"0"'})
    assert status == 200, body
    status, va85, _ = await api(platform, "POST", "/api/v1/candidatures", {"formation_code": "VA85-LIC"}, token=token)
    assert status == 201, va85
    status, body, _ = await api(platform, "PUT", section, {"items": []}, token=token, headers={"If-Match": '"1"'})
    assert status == 200, body

    transmission = f"/api/v1/candidatures/{va85['id']}/transmission"
    status, problem, _ = await api(platform, "POST", transmission, token=token)
    assert status == 409 and problem["reason"] == "dossier_incomplet", problem
    assert problem["detail"] == (
        "Votre dossier doit être complété avant de transmettre votre candidature : "
        "Expériences professionnelles : rubrique à renseigner, exigée par cette formation."
    ), problem
    assert problem["rubriques"] == ["experiences_professionnelles"], problem
    status, after, _ = await api(platform, "GET", f"/api/v1/candidatures/{va85['id']}", token=token)
    assert status == 200 and after["statut"] == va85["statut"] and after["date_reception"] is None, after
    assert after["rubriques_a_completer"] == ["experiences_professionnelles"] and not after["can_transmit"], after

    # The expériences back, the transmission goes on to its own checks: the pieces, none sent yet.
    status, body, _ = await api(platform, "PUT", section, experiences(), token=token, headers={"If-Match": '"2"'})
    assert status == 200, body
    status, after, _ = await api(platform, "GET", f"/api/v1/candidatures/{va85['id']}", token=token)
    assert status == 200 and after["rubriques_a_completer"] == [], after
    status, problem, _ = await api(platform, "POST", transmission, token=token)
    assert status == 409 and problem["reason"] == "pieces_manquantes", problem
