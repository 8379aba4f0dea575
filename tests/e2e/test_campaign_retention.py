"""How long a campaign's candidatures are kept (the reference system's campaign archiving and
destruction of old dossiers): a campaign that leaves service is archived; CANDIDATURES_RETENTION_DAYS
later its candidatures are destroyed with their files, each with a `candidature.erased` that every
service acts on; the campaign in service keeps all of its own; the candidates keep their accounts
and dossiers. Through the gateway, on the whole platform, with the platform's clock moved a year."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

import pytest

from ecandidat.runtime.jobs import run_job_once
from ecandidat.runtime.nats import flush
from services.candidatures.seed import seed_demo
from tests.conftest import eventually
from tests.e2e.test_account_deletion import count, erased_everywhere
from tests.e2e.test_accounts import api, login
from tests.e2e.test_accounts_staff import admin
from tests.e2e.test_guide_journey import whole_platform
from tests.e2e.test_journey_defects import apply, candidate, own_formation, staff_decides, upload
from tests.unit.documents import corpus

pytestmark = pytest.mark.slow


@pytest.fixture
async def platform(start_platform):
    return await whole_platform(start_platform)


async def _campagne(root, code: str) -> dict:
    status, offer, _ = await root.call("GET", "/api/v1/staff/offre")
    assert status == 200, offer
    return next(c for c in offer["campagnes"] if c["code"] == code)


async def campaign_in_service(root, today: date, libelle: str) -> str:
    """A new campaign put in service through the API (the one in service leaves it, archived); its code."""
    code = f"C{uuid.uuid4().hex[:8].upper()}"
    campagne = {
        "libelle": libelle,
        "debut": str(today - timedelta(days=1)),
        "fin": str(today + timedelta(days=60)),
        "prefix": "27",
        "en_service": True,
    }
    status, body, _ = await root.call("PUT", f"/api/v1/staff/offre/campagnes/{code}", campagne)
    assert status == 201, body
    return code


async def test_an_archived_campaigns_candidatures_are_destroyed_once_kept_long_enough(platform, smtp_sink):
    root = await admin(platform)
    today = platform.clock.now().date()
    demo = next(c for c in (await root.call("GET", "/api/v1/staff/offre"))[1]["campagnes"] if c["en_service"])
    code = await campaign_in_service(root, today, "Campagne conservée puis détruite")
    try:
        replaced = await _campagne(root, demo["code"])
        assert replaced["en_service"] is False and replaced["archivee_le"] is not None  # left service: archived
        formation = await own_formation(root, today)
        kept, cancelled = await candidate(platform, smtp_sink), await candidate(platform, smtp_sink)
        cid = (await apply(platform, kept, formation))["id"]
        status, pieces, _ = await api(platform, "GET", f"/api/v1/candidatures/{cid}/pieces", token=kept["token"])
        slot = next(p["slot_id"] for p in pieces["items"] if not p["conditionnelle"])
        assert (await upload(platform, kept["token"], cid, slot, corpus.reportlab_pdf()))[0] == 201
        gone = (await apply(platform, cancelled, formation))["id"]
        status, body, _ = await api(
            platform, "POST", f"/api/v1/candidatures/{gone}/annulation", token=cancelled["token"]
        )
        assert status == 200, body
    finally:
        await seed_demo(platform.services["candidatures"].pool, date.today())  # the demo campaign in service again

    ours = [uuid.UUID(cid), uuid.UUID(gone)]
    archived = await _campagne(root, code)
    assert archived["en_service"] is False and archived["detruite_le"] is None
    archived_at = datetime.fromisoformat(archived["archivee_le"])
    assert datetime.fromisoformat(archived["destruction_prevue"]) == archived_at + timedelta(days=365)
    demo_back = await _campagne(root, demo["code"])
    assert demo_back["en_service"] is True and demo_back["archivee_le"] is None  # back in service: not archived

    documents = platform.services["documents"]
    async with documents.pool.acquire() as conn:
        [file_key] = await conn.fetch(
            "SELECT file_key FROM piece_slots WHERE candidature_id = $1 AND file_key IS NOT NULL", ours[0]
        )
    file_key = file_key["file_key"]
    assert file_key in await documents.storage.keys()

    erased: list[dict] = []

    async def on_erased(msg) -> None:
        event = json.loads(msg.data)
        if uuid.UUID(event["data"]["candidature_id"]) in ours:
            erased.append(event)

    nc = platform.services["candidatures"].nc
    sub = await nc.subscribe("evt.candidatures.candidature.erased", cb=on_erased)
    await flush(nc)
    service = platform.services["candidatures"]
    in_service = "SELECT count(*) FROM candidatures WHERE campagne_code = $1"
    demo_before = await count(platform, "candidatures", in_service, demo["code"])

    # Kept for now: nothing is destroyed before its time.
    await run_job_once(service.pool, service.destruction_job, platform.clock, force=True)
    assert (
        await count(platform, "candidatures", "SELECT count(*) FROM candidatures WHERE id = ANY($1::uuid[])", ours) == 2
    )
    assert erased == []

    platform.clock.advance(days=366)
    while await run_job_once(service.pool, service.destruction_job, platform.clock, force=True):
        pass  # the job goes a batch a run; other tests' archived campaigns may be due too

    # Destroyed in candidatures, told once each, and erased by every service that held them.
    assert (
        await count(platform, "candidatures", "SELECT count(*) FROM candidatures WHERE id = ANY($1::uuid[])", ours) == 0
    )
    assert await count(platform, "candidatures", in_service, demo["code"]) == demo_before  # in service: all kept
    await eventually(lambda: len(erased) == 2, timeout=30, message="candidature.erased published")
    assert sorted(e["data"]["candidature_id"] for e in erased) == sorted(map(str, ours))
    assert {e["data"]["campagne_code"] for e in erased} == {code}
    held = "SELECT count(*) FROM candidatures WHERE candidature_id = ANY($1::uuid[])"
    await erased_everywhere(
        platform, dict.fromkeys(("documents", "dossiers", "mailer"), held), ours, what="the destroyed candidatures"
    )

    async def file_erased() -> bool:
        return file_key not in await documents.storage.keys()

    await eventually(file_erased, timeout=30, message="the deposited file erased from object storage")

    # The candidate keeps their account and dossier; the candidature is no more.
    token = await login(platform, kept["numero_dossier"])
    assert (await api(platform, "GET", "/api/v1/me", token=token))[0] == 200
    status, dossier, _ = await api(platform, "GET", "/api/v1/dossier", token=token)
    assert status == 200 and dossier["informations_personnelles_verrouillees"] is False, (
        dossier
    )  # unlocked: its only candidature is gone
    assert (await api(platform, "GET", f"/api/v1/candidatures/{cid}", token=token))[0] == 404
    assert (await api(platform, "GET", "/api/v1/candidatures", token=token))[1]["items"] == []

    root = await admin(platform)
    destroyed = await _campagne(root, code)
    assert destroyed["detruite_le"] is not None and destroyed["destruction_prevue"] is None
    # The staff can no longer ask for its candidatures, and are told why; it is no longer offered.
    status, body, _ = await root.call(
        "GET", f"/api/v1/staff/candidatures?formation_code={formation}&campagne_code={code}"
    )
    assert status == 404 and "ne sont plus conservées" in body["detail"], body
    status, campagnes, _ = await root.call("GET", "/api/v1/staff/campagnes")
    assert code not in [c["code"] for c in campagnes["items"]]
    await sub.unsubscribe()


async def test_a_candidate_applies_again_to_a_formation_in_the_next_campaign(platform, smtp_sink):
    """Last campaign's candidature is kept (archived) and the candidate applies again this year."""
    root = await admin(platform)
    today = platform.clock.now().date()
    formation = await own_formation(root, today)
    who = await candidate(platform, smtp_sink)
    first = (await apply(platform, who, formation))["id"]
    status, body, _ = await api(
        platform, "POST", "/api/v1/candidatures", {"formation_code": formation}, token=who["token"]
    )
    assert status == 409 and body["reason"] == "deja_candidat", body  # once per campaign
    await campaign_in_service(root, today, "La campagne suivante")
    try:
        again = await apply(platform, who, formation)
        assert again["id"] != first and again["campagne_libelle"] == "La campagne suivante"
        status, body, _ = await api(
            platform, "POST", "/api/v1/candidatures", {"formation_code": formation}, token=who["token"]
        )
        assert status == 409 and body["reason"] == "deja_candidat", body
        mine = (await api(platform, "GET", "/api/v1/candidatures", token=who["token"]))[1]["items"]
        assert [m["id"] for m in mine] == [first, again["id"]]  # last campaign's kept beside this one's
    finally:
        await seed_demo(platform.services["candidatures"].pool, date.today())  # the demo campaign in service again


async def test_a_formation_s_places_and_liste_complementaire_are_each_campaign_s_own(platform, smtp_sink):
    """Last campaign's admitted candidate (kept, archived) takes none of this campaign's places,
    and last campaign's liste complémentaire is not offered a place freed this year."""
    root = await admin(platform)
    today = platform.clock.now().date()
    formation = await own_formation(root, today, capacite=1)
    admitted, waiting, this_year, next_in_line = [await candidate(platform, smtp_sink) for _ in range(4)]
    last = {who["email"]: (await apply(platform, who, formation))["id"] for who in (admitted, waiting)}
    await staff_decides(root, last[admitted["email"]], "favorable")
    await staff_decides(root, last[waiting["email"]], "liste_complementaire", rang=1)
    await campaign_in_service(root, today, "La campagne de l'année suivante")
    try:
        now = {who["email"]: (await apply(platform, who, formation))["id"] for who in (this_year, next_in_line)}
        await staff_decides(root, now[this_year["email"]], "favorable")
        await staff_decides(root, now[next_in_line["email"]], "liste_complementaire", rang=1)
        status, seen, _ = await api(
            platform, "POST", f"/api/v1/candidatures/{now[this_year['email']]}/desistement", token=this_year["token"]
        )
        assert status == 200, seen
        # The freed place is this campaign's: the first of its own liste complémentaire gets it.
        status, promoted, _ = await api(
            platform, "GET", f"/api/v1/candidatures/{now[next_in_line['email']]}", token=next_in_line["token"]
        )
        assert promoted["decision"] == "favorable", promoted
        status, still, _ = await api(
            platform, "GET", f"/api/v1/candidatures/{last[waiting['email']]}", token=waiting["token"]
        )
        assert (still["decision"], still["decision_rang"]) == ("liste_complementaire", 1), still
    finally:
        await seed_demo(platform.services["candidatures"].pool, date.today())  # the demo campaign in service again


async def test_the_staff_read_each_campaign_s_candidatures_on_their_own(platform, smtp_sink):
    """Once a campaign is archived, the staff's list, counts, exports and dashboard show the campaign
    in service; the archived one's candidatures are read by asking for that campaign."""
    root = await admin(platform)
    today = platform.clock.now().date()
    formation = await own_formation(root, today, capacite=3)
    demo = next(c for c in (await root.call("GET", "/api/v1/staff/offre"))[1]["campagnes"] if c["en_service"])
    last_year = await candidate(platform, smtp_sink)
    old = (await apply(platform, last_year, formation))["id"]
    await staff_decides(root, old, "favorable")
    code = await campaign_in_service(root, today, "La campagne que la liste montre")
    try:
        new = (await apply(platform, await candidate(platform, smtp_sink), formation))["id"]

        async def read(path: str, **query) -> dict:
            status, body, _ = await root.call("GET", f"{path}?formation_code={formation}&{urlencode(query)}")
            assert status == 200, body
            return body

        status, campagnes, _ = await root.call("GET", "/api/v1/staff/campagnes")
        assert status == 200, campagnes
        assert campagnes["items"][0]["code"] == code and campagnes["items"][0]["en_service"] is True
        archived = next(c for c in campagnes["items"] if c["code"] == demo["code"])
        assert archived["archivee_le"] is not None and archived["destruction_prevue"] is not None

        # By default, the campaign in service: this year's candidature alone, in every figure.
        listed = await read("/api/v1/staff/candidatures")
        assert listed["campagne_code"] == code and [r["id"] for r in listed["items"]] == [new]
        assert (await read("/api/v1/staff/candidatures/comptes"))["counts"] == {"en_attente": 1}
        [suivi] = (await read("/api/v1/staff/candidatures/tableau"))["items"]
        assert (suivi["total"], suivi["statuts"], suivi["decisions"]) == (1, {"en_attente": 1}, {})
        export = platform.url(f"/api/v1/staff/candidatures/export.csv?formation_code={formation}")
        async with platform.http.get(export, headers={"Authorization": f"Bearer {root.token}"}) as resp:
            assert resp.status == 200
            rows = (await resp.text()).splitlines()
        assert len(rows) == 2 and new not in rows[0], rows  # the header and this year's row

        # The archived campaign, asked for: last year's candidature and its decision.
        listed = await read("/api/v1/staff/candidatures", campagne_code=demo["code"])
        assert listed["campagne_code"] == demo["code"] and [r["id"] for r in listed["items"]] == [old]
        assert (await read("/api/v1/staff/candidatures/comptes", campagne_code=demo["code"]))["counts"] == {
            "complet": 1
        }
        tableau = await read("/api/v1/staff/candidatures/tableau", campagne_code=demo["code"])
        assert tableau["campagne_code"] == demo["code"]
        assert (tableau["items"][0]["total"], tableau["items"][0]["decisions"]) == (1, {"favorable": 1})

        # A campaign that does not exist is refused in French; a code that cannot be one too.
        for path in (
            "/api/v1/staff/candidatures",
            "/api/v1/staff/candidatures/comptes",
            "/api/v1/staff/candidatures/tableau",
        ):
            status, body, _ = await root.call("GET", f"{path}?formation_code={formation}&campagne_code=INCONNUE")
            assert status == 404 and body["detail"] == "Cette campagne n'existe pas.", body
            status, body, _ = await root.call("GET", f"{path}?formation_code={formation}&campagne_code=pas%20un%20code")
            assert status == 422, body
    finally:
        await seed_demo(platform.services["candidatures"].pool, date.today())  # the demo campaign in service again
