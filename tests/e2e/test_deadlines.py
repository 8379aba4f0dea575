"""Dates limites de retour after the candidatures are made, through the gateway: a formation's new
date reaches its candidatures (except those with their own date), staff give one candidature its
own date, and after an incident an administrator extends every open deadline of the campaign by N
hours — each candidate told by mail, each change in the candidature's history (who, when, why)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import pytest

from ecandidat.runtime.french import PARIS
from services.candidatures.seed import seed_demo
from tests.conftest import eventually
from tests.e2e.test_accounts import api, mail_to, text_of
from tests.e2e.test_accounts_staff import admin
from tests.e2e.test_guide_journey import whole_platform
from tests.e2e.test_journey_defects import candidate, upload
from tests.unit.documents import corpus

pytestmark = pytest.mark.slow


@pytest.fixture
async def platform(start_platform):
    return await whole_platform(start_platform)


async def own_formation(root, today: date, *, centre: str = "FC-DIPL", retour_days: int = 10) -> str:
    code = f"DL-{uuid.uuid4().hex[:8].upper()}"
    body = {
        "libelle": f"DU Échéances {code}",
        "centre_code": centre,
        "type_code": "U-B3",
        "commission_code": "COM-FC",
        "type_traitement": "acces_controle",
        "depot_debut": str(today - timedelta(days=1)),
        "depot_fin": str(today + timedelta(days=10)),
        "date_retour": str(today + timedelta(days=retour_days)),
    }
    status, reply, _ = await root.call("PUT", f"/api/v1/staff/offre/formations/{code}", body)
    assert status == 201, reply
    return code


async def seen(platform, who: dict, cid: str) -> dict:
    status, view, _ = await api(platform, "GET", f"/api/v1/candidatures/{cid}", token=who["token"])
    assert status == 200, view
    return view


async def history(root, cid: str) -> list[dict]:
    status, view, _ = await root.call("GET", f"/api/v1/staff/candidatures/{cid}")
    assert status == 200, view
    return [h for h in view["history"] if h["action"] == "date_limite_retour"]


async def test_a_formations_new_date_reaches_its_candidatures_unless_they_have_their_own(platform, smtp_sink):
    root = await admin(platform)
    today = platform.clock.now().astimezone(PARIS).date()
    code = await own_formation(root, today, retour_days=20)
    follower, pinned = await candidate(platform, smtp_sink), await candidate(platform, smtp_sink)
    status, a, _ = await api(
        platform, "POST", "/api/v1/candidatures", {"formation_code": code}, token=follower["token"]
    )
    status, b, _ = await api(platform, "POST", "/api/v1/candidatures", {"formation_code": code}, token=pinned["token"])
    assert a["date_limite_retour"] == b["date_limite_retour"] == str(today + timedelta(days=20))

    # One candidature gets its own date (a gestionnaire's decision, with why).
    own = str(today + timedelta(days=25))
    status, body, _ = await root.call(
        "PUT",
        f"/api/v1/staff/candidatures/{b['id']}/date-limite-retour",
        {"date_retour": own, "motif": "Pièce attendue de l'ambassade"},
    )
    assert status == 200 and body["updated"] == [b["id"]], body
    assert (await seen(platform, pinned, b["id"]))["date_limite_retour"] == own
    mail = await mail_to(smtp_sink, pinned["email"], "Date limite de retour prolongée")
    assert "Pièce attendue de l'ambassade" in text_of(mail)
    [entry] = await history(root, b["id"])
    assert entry["actor"] == root.email and entry["details"]["cause"] == "candidature"
    assert entry["details"]["motif"] == "Pièce attendue de l'ambassade"

    # The formation's date moves: the candidature that follows it moves too, the other keeps its own.
    later = str(today + timedelta(days=30))
    status, body, _ = await root.call(
        "PUT",
        f"/api/v1/staff/offre/formations/{code}/date-limite-retour",
        {"date_retour": later, "motif": "Calendrier du jury décalé"},
    )
    assert status == 200 and body["updated"] == [a["id"]], body
    assert (await seen(platform, follower, a["id"]))["date_limite_retour"] == later
    assert (await seen(platform, pinned, b["id"]))["date_limite_retour"] == own
    mail = await mail_to(smtp_sink, follower["email"], "Date limite de retour prolongée")
    assert f"désormais fixée au {date.fromisoformat(later):%d/%m/%Y}" in text_of(mail)
    assert [h["details"]["cause"] for h in await history(root, a["id"])] == ["formation"]

    # The offer's own form reaches them the same way; the same date again changes nothing.
    status, formation, _ = await root.call(
        "PUT",
        f"/api/v1/staff/offre/formations/{code}",
        {
            "libelle": f"DU Échéances {code}",
            "centre_code": "FC-DIPL",
            "type_code": "U-B3",
            "commission_code": "COM-FC",
            "type_traitement": "acces_controle",
            "depot_debut": str(today - timedelta(days=1)),
            "depot_fin": str(today + timedelta(days=10)),
            "date_retour": str(today + timedelta(days=12)),
        },
    )
    assert status == 200, formation
    assert (await seen(platform, follower, a["id"]))["date_limite_retour"] == str(today + timedelta(days=12))
    status, body, _ = await root.call(
        "PUT",
        f"/api/v1/staff/offre/formations/{code}/date-limite-retour",
        {"date_retour": str(today + timedelta(days=12))},
    )
    assert status == 200 and body["updated"] == []
    # Following the formation again: the pinned candidature takes the formation's date.
    status, body, _ = await root.call(
        "PUT", f"/api/v1/staff/candidatures/{b['id']}/date-limite-retour", {"date_retour": None, "motif": "Pièce reçue"}
    )
    assert status == 200 and (await seen(platform, pinned, b["id"]))["date_limite_retour"] == str(
        today + timedelta(days=12)
    )


async def test_after_an_incident_every_open_deadline_of_the_campaign_is_extended_once(platform, smtp_sink):
    root = await admin(platform)
    now = platform.clock.now()
    today = now.astimezone(PARIS).date()
    campagne = f"INC{uuid.uuid4().hex[:6].upper()}"
    status, body, _ = await root.call(
        "PUT",
        f"/api/v1/staff/offre/campagnes/{campagne}",
        {
            "libelle": "Campagne de l'incident",
            "debut": str(today - timedelta(days=5)),
            "fin": str(today + timedelta(days=30)),
            "prefix": "26",
            "en_service": True,
        },
    )
    assert status == 201, body
    try:
        code = await own_formation(root, today)
        people = {
            name: await candidate(platform, smtp_sink)
            for name in ("ouverte", "echue", "ancienne", "transmise", "annulee")
        }
        ids = {}
        for name, who in people.items():
            status, view, _ = await api(
                platform, "POST", "/api/v1/candidatures", {"formation_code": code}, token=who["token"]
            )
            assert status == 201, view
            ids[name] = view["id"]
        # "echue" ended at midnight, during the incident; "ancienne" ended three days ago, before it.
        for name, day in (("echue", today - timedelta(days=1)), ("ancienne", today - timedelta(days=3))):
            status, body, _ = await root.call(
                "PUT", f"/api/v1/staff/candidatures/{ids[name]}/date-limite-retour", {"date_retour": str(day)}
            )
            assert status == 200, body
        status, body, _ = await root.call(
            "POST",
            "/api/v1/staff/candidatures/statut",
            {"candidature_ids": [ids["transmise"]], "statut": "receptionne"},
        )
        assert status == 200, body
        status, body, _ = await api(
            platform, "POST", f"/api/v1/candidatures/{ids['annulee']}/annulation", token=people["annulee"]["token"]
        )
        assert status == 200, body
        echue = people["echue"]
        status, pieces, _ = await api(
            platform, "GET", f"/api/v1/candidatures/{ids['echue']}/pieces", token=echue["token"]
        )
        slot = pieces["items"][0]["slot_id"]

        async def echue_locked() -> bool:
            return (await upload(platform, echue["token"], ids["echue"], slot, corpus.reportlab_pdf()))[0] == 409

        await eventually(echue_locked, message="documents applies the passed deadline")
        assert (await seen(platform, echue, ids["echue"]))["can_transmit"] is False

        incident = (now - timedelta(hours=30)).astimezone(PARIS)
        request = {
            "incident_debut": incident.isoformat(),
            "heures": 48,
            "motif": "Plateforme inaccessible pendant une panne du réseau de l'université.",
        }
        before = {name: (await seen(platform, who, ids[name]))["limite_retour"] for name, who in people.items()}
        status, done, _ = await root.call("POST", f"/api/v1/staff/offre/campagnes/{campagne}/prolongations", request)
        assert status == 201 and done["candidatures"] == 2 and not done["deja_appliquee"], done
        assert done["par"] == root.email and done["heures"] == 48

        after = {name: (await seen(platform, who, ids[name]))["limite_retour"] for name, who in people.items()}
        for name in ("ouverte", "echue"):
            gained = datetime.fromisoformat(after[name]) - datetime.fromisoformat(before[name])
            assert gained == timedelta(hours=48), (name, before[name], after[name])
        for name in ("ancienne", "transmise", "annulee"):
            assert after[name] == before[name], name

        # Each extended candidate is told, with why; the history says who, when and why.
        for name in ("ouverte", "echue"):
            mail = await mail_to(smtp_sink, people[name]["email"], "Date limite de retour prolongée")
            assert "À la suite d'un incident" in text_of(mail) and "panne du réseau" in text_of(mail)
            [entry] = [h for h in await history(root, ids[name]) if h["details"]["cause"] == "incident"]
            assert entry["actor"] == root.email and entry["details"]["motif"] == request["motif"]
            assert entry["details"]["heures"] == 48 and entry["details"]["prolongation"] == done["id"]
        # The candidature whose deadline passed during the incident is open again, documents included.
        assert (await seen(platform, echue, ids["echue"]))["can_change_pieces"] is True

        async def echue_reopened() -> bool:
            return (await upload(platform, echue["token"], ids["echue"], slot, corpus.reportlab_pdf()))[0] == 201

        await eventually(echue_reopened, message="documents learned the extended deadline")

        # A retry (after a gateway timeout) is the same extension: nothing changes twice.
        status, again, _ = await root.call("POST", f"/api/v1/staff/offre/campagnes/{campagne}/prolongations", request)
        assert status == 200 and again["deja_appliquee"] and again["id"] == done["id"], again
        assert (await seen(platform, people["ouverte"], ids["ouverte"]))["limite_retour"] == after["ouverte"]
        assert len(await history(root, ids["ouverte"])) == 1
        status, refused, _ = await root.call(
            "POST", f"/api/v1/staff/offre/campagnes/{campagne}/prolongations", {**request, "heures": 24}
        )
        assert status == 409 and refused["reason"] == "deja_prolongee", refused
        status, refused, _ = await root.call(
            "POST",
            f"/api/v1/staff/offre/campagnes/{campagne}/prolongations",
            {**request, "incident_debut": (now + timedelta(hours=1)).isoformat()},
        )
        assert status == 422 and refused["errors"][0]["field"] == "incident_debut", refused
    finally:
        await seed_demo(platform.services["candidatures"].pool, date.today())  # the demo campaign in service again
