"""A commission's alerts by mail (the reference system's alerts to the commission): the offer's
administrators give a commission a mailbox and choose what it is told of — a candidature
transmitted, cancelled, a désistement, a promotion from the liste complémentaire —; each such
change of one of its formations' candidatures sends one mail there, committed with the change
(a private event for the mailer), and nothing for what it did not ask."""

from __future__ import annotations

import uuid

import pytest

from tests.unit.documents import corpus
from ecandidat.runtime.jobs import run_job_once
from tests.conftest import eventually
from tests.e2e.test_accounts import api, mail_to, text_of
from tests.e2e.test_accounts_staff import admin
from tests.e2e.test_guide_journey import whole_platform
from tests.e2e.test_journey_defects import apply, candidate, outbox, own_formation, staff_decides, upload

pytestmark = pytest.mark.slow

ALERTED = "prv.candidatures.commission.alerted"


@pytest.fixture
async def platform(start_platform):
    return await whole_platform(start_platform)


async def transmitted(platform, who: dict, code: str) -> str:
    """A candidature to `code`, its pieces deposited, transmitted by the candidate."""
    cid, token = (await apply(platform, who, code))["id"], who["token"]

    async def slots() -> list[str] | None:
        status, pieces, _ = await api(platform, "GET", f"/api/v1/candidatures/{cid}/pieces", token=token)
        return [p["slot_id"] for p in pieces["items"] if not p["conditionnelle"]] or None

    for slot in await eventually(slots, message="the piece slots are open"):
        status, body = await upload(platform, token, cid, slot, corpus.reportlab_pdf())
        assert status == 201, body
    status, view, _ = await api(platform, "POST", f"/api/v1/candidatures/{cid}/transmission", token=token)
    assert status == 200 and view["statut"] == "receptionne", view
    return cid


async def test_a_commission_is_mailed_what_it_asked_to_be_told_of_and_nothing_else(platform, smtp_sink):
    root = await admin(platform)
    com = f"COM-{uuid.uuid4().hex[:6].upper()}"
    mailbox = f"{com.lower()}@univ-exemple.fr"
    path = f"/api/v1/staff/offre/commissions/{com}"
    base = {"libelle": f"Commission {com}", "centre_code": "FC-DIPL"}

    # Bad input: a clear error in French, nothing saved.
    for body, said in (
        ({**base, "email": "pas-une-adresse", "alertes": ["transmission"]}, "L'adresse mail n'est pas valide."),
        ({**base, "email": mailbox, "alertes": ["relance"]}, None),
    ):
        status, refused, _ = await root.call("PUT", path, body)
        assert status == 422 and refused["detail"], refused
        if said:
            assert [e["message"] for e in refused["errors"] if e["field"] == "email"] == [said], refused
    status, offer, _ = await root.call("GET", "/api/v1/staff/offre")
    assert com not in {c["code"] for c in offer["commissions"]}

    alertes = ["transmission", "desistement", "promotion"]  # not the cancellations
    status, saved, _ = await root.call("PUT", path, {**base, "email": mailbox, "alertes": [*alertes, "promotion"]})
    assert status in (200, 201), saved
    status, offer, _ = await root.call("GET", "/api/v1/staff/offre")
    [mine] = [c for c in offer["commissions"] if c["code"] == com]
    assert mine["email"] == mailbox and mine["alertes"] == sorted(alertes), mine

    code = await own_formation(root, platform.clock.now().date(), capacite=1, commission_code=com)
    first, second, third = [await candidate(platform, smtp_sink) for _ in range(3)]

    # A transmission: one mail, naming the candidature and leading to it.
    sent = await transmitted(platform, first, code)
    mail = await mail_to(smtp_sink, mailbox, "candidature transmise")
    text = text_of(mail)
    assert first["numero_dossier"] in mail["Subject"] and f"« DU de la liste {code} » a été transmise le" in text
    assert f"/personnel/candidatures/{sent}" in text and f"la commission « Commission {com} »" in text

    # A cancellation, which it did not ask for: no alert committed, no mail.
    cancelled = (await apply(platform, third, code))["id"]
    status, body, _ = await api(platform, "POST", f"/api/v1/candidatures/{cancelled}/annulation", token=third["token"])
    assert status == 200, body
    assert ALERTED not in [e["subject"] for e in await outbox(platform, "candidatures", cancelled)]

    # A désistement frees the place: the commission hears of it and of the promotion that follows.
    await staff_decides(root, sent, "favorable")
    waiting = (await apply(platform, second, code))["id"]
    await staff_decides(root, waiting, "liste_complementaire", rang=1)
    status, body, _ = await api(platform, "POST", f"/api/v1/candidatures/{sent}/desistement", token=first["token"])
    assert status == 200, body
    withdrawn = await mail_to(smtp_sink, mailbox, "désistement")
    assert first["numero_dossier"] in withdrawn["Subject"]
    assert "a fait l'objet d'un désistement le" in text_of(withdrawn)
    promoted = await mail_to(smtp_sink, mailbox, "promotion depuis la liste complémentaire")
    assert second["numero_dossier"] in promoted["Subject"]
    assert "une place s'est libérée ; le candidat doit confirmer son inscription." in text_of(promoted)

    # One alert committed per change, one mail each: three in all.
    assert [e["data"]["alerte"] for e in await outbox(platform, "candidatures", sent) if e["subject"] == ALERTED] == [
        "transmission",
        "desistement",
    ]
    assert len([m for m in smtp_sink.messages() if m["To"] == mailbox]) == 3

    # Alerts need a mailbox; once both are taken away, the commission is told nothing.
    status, refused, _ = await root.call("PUT", path, {**base, "alertes": alertes})
    assert status == 422, refused
    assert [e["message"] for e in refused["errors"] if e["field"] == "alertes"] == [
        "Indiquez l'adresse mail de la commission : ses alertes y sont envoyées."
    ], refused
    status, saved, _ = await root.call("PUT", path, base)
    assert status in (200, 201), saved
    late = await transmitted(platform, third, code)
    assert ALERTED not in [e["subject"] for e in await outbox(platform, "candidatures", late)]


async def test_a_commission_that_asked_for_a_summary_gets_one_mail_a_morning(platform, smtp_sink):
    """`alertes_frequence: quotidienne`: the changes wait in the mailer (nothing sent one by one),
    and the next morning's summary tells them all in one mail, once, however often the job runs."""
    root = await admin(platform)
    com = f"COM-{uuid.uuid4().hex[:6].upper()}"
    mailbox = f"{com.lower()}@univ-exemple.fr"
    path = f"/api/v1/staff/offre/commissions/{com}"
    base = {"libelle": f"Commission {com}", "centre_code": "FC-DIPL", "email": mailbox}
    status, saved, _ = await root.call(
        "PUT", path, {**base, "alertes": ["transmission", "annulation"], "alertes_frequence": "quotidienne"}
    )
    assert status in (200, 201), saved
    status, refused, _ = await root.call(
        "PUT", path, {**base, "alertes": ["transmission"], "alertes_frequence": "hebdomadaire"}
    )
    assert status == 422 and [e["field"] for e in refused["errors"]] == ["alertes_frequence"], refused
    status, offer, _ = await root.call("GET", "/api/v1/staff/offre")
    [mine] = [c for c in offer["commissions"] if c["code"] == com]
    assert (mine["alertes"], mine["alertes_frequence"]) == (["annulation", "transmission"], "quotidienne"), mine

    code = await own_formation(root, platform.clock.now().date(), commission_code=com)
    sender, leaver = await candidate(platform, smtp_sink), await candidate(platform, smtp_sink)
    sent = await transmitted(platform, sender, code)
    gone = (await apply(platform, leaver, code))["id"]
    status, body, _ = await api(platform, "POST", f"/api/v1/candidatures/{gone}/annulation", token=leaver["token"])
    assert status == 200, body

    mailer = platform.services["mailer"]

    async def held() -> int:
        async with mailer.pool.acquire() as conn:
            return await conn.fetchval("SELECT count(*) FROM held_mails WHERE recipient = $1", mailbox)

    async def both_held() -> bool:
        return await held() == 2

    await eventually(both_held, timeout=30, message="both alerts held for the summary")
    assert [m for m in smtp_sink.messages() if m["To"] == mailbox] == []  # nothing sent one by one

    # Not before the summary hour that follows them (the job also runs by itself every few seconds
    # here: whichever run takes it, it sends each summary once).
    summarise = mailer.summaries_job
    assert await run_job_once(mailer.pool, summarise, platform.clock, force=True) in (0, None)
    assert await held() == 2 and [m for m in smtp_sink.messages() if m["To"] == mailbox] == []
    platform.clock.advance(days=1)
    await run_job_once(mailer.pool, summarise, platform.clock, force=True)
    summary = await mail_to(smtp_sink, mailbox, "récapitulatif des alertes")
    assert f"de la commission « Commission {com} » : 2 changements" in summary["Subject"]
    text = text_of(summary)
    assert f"La candidature n° {sender['numero_dossier']} de " in text and "a été transmise le" in text
    assert f"La candidature n° {leaver['numero_dossier']} de " in text and "a été annulée par le candidat" in text
    assert f"/personnel/candidatures/{sent}" in text and f"/personnel/candidatures/{gone}" in text
    assert await held() == 0

    # Once: the job again, the day after again, sends nothing more.
    assert await run_job_once(mailer.pool, summarise, platform.clock, force=True) in (0, None)
    platform.clock.advance(days=1)
    assert await run_job_once(mailer.pool, summarise, platform.clock, force=True) in (0, None)
    with pytest.raises(TimeoutError):  # the time a second mail would take to arrive
        await smtp_sink.wait_for(2, timeout=3, match=lambda m: m["To"] == mailbox)
    assert len([m for m in smtp_sink.messages() if m["To"] == mailbox]) == 1
