"""The mailer against a real SMTP server, NATS JetStream, PostgreSQL and S3: one event, one mail."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ecandidat.contracts.mailer import Deliveries, ListDeliveries, SendMailCheck, MailCheckQueued, MailCheckRequested
from ecandidat.runtime.jobs import run_job_once
from ecandidat.runtime.outbox import add_event
from ecandidat.runtime.rpc import RpcClient
from services.mailer import store
from services.mailer.catalogue import Attachment
from services.mailer.render import Rendered
from tests.conftest import eventually, unique_email
from tests.integration.conftest import die_before_marking
from tests.integration.mailer.conftest import crash, mailer_quiescent, mails_to

ROOT = Path(__file__).resolve().parents[3]


async def commit_mail_check(mailer_db, to: str) -> uuid.UUID:
    async with mailer_db.transaction():
        return await add_event(mailer_db, MailCheckRequested(to=to, requested_by="les tests"))


async def delivery(mailer_db, to: str):
    return await mailer_db.fetchrow("SELECT * FROM deliveries WHERE recipient = $1", to)


async def queue_mail(
    mailer_db, to: str, subject: str, *, now: datetime, attachments: tuple[Attachment, ...] = ()
) -> None:
    """A mail written straight into the delivery table (as the consumers queue one), due at `now`."""
    await store.enqueue(
        mailer_db,
        event_id=uuid.uuid4(),
        event_type="test",
        template="mail_check",
        recipient=to,
        rendered=Rendered(subject, "x\n", "<p>x</p>"),
        attachments=attachments,
        message_id=f"<{uuid.uuid4()}.0@test>",
        now=now,
    )


async def test_mail_check_command_sends_one_french_mail(start_mailer, smtp_sink, process_env, mailer_db):
    service = await start_mailer()
    to = unique_email("operateur")
    result = subprocess.run(
        [sys.executable, "-m", "ecandidat.cli", "mail-test", "--to", to, "--by", "Admin Système"],
        env=process_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    [mail] = await smtp_sink.wait_for(1, timeout=15, match=lambda m: m["To"] == to)
    row = await eventually(lambda: delivery(mailer_db, to), message="delivery logged")
    assert mail["Subject"] == "eCandidat : test de la configuration des mails"
    assert mail["Message-ID"] == f"<{row['event_id']}.0@ecandidat.localhost>"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "sait envoyer des mails" in text and "Admin Système" in text
    assert "<p>Bonjour,</p>" in html
    await eventually(lambda: _status(mailer_db, to, "sent"), message="delivery marked sent")
    await eventually(lambda: mailer_quiescent(service, to), message="nothing left in flight")
    assert len(mails_to(smtp_sink, to)) == 1


async def _status(mailer_db, to: str, status: str) -> bool:
    row = await delivery(mailer_db, to)
    return row is not None and row["status"] == status


async def test_rpc_queues_a_mail_check_and_the_log_is_queryable(start_mailer, smtp_sink):
    service = await start_mailer()
    client = RpcClient(service.nc)
    to = unique_email()
    queued = await client.call(SendMailCheck(to=to, requested_by="rpc"), MailCheckQueued)
    await smtp_sink.wait_for(1, match=lambda m: m["To"] == to)

    async def sent_entry():
        reply = await client.call(ListDeliveries(recipient=to), Deliveries)
        return reply.items and reply.items[0].status == "sent" and reply.items[0]

    entry = await eventually(sent_entry, message="delivery log says sent")
    assert entry.event_id == queued.event_id and entry.template == "mail_check" and entry.attempts == 1


async def test_html_template_escapes_what_comes_from_events(start_mailer, smtp_sink, mailer_db):
    await start_mailer()
    to = unique_email()
    async with mailer_db.transaction():
        await add_event(mailer_db, MailCheckRequested(to=to, requested_by="<script>alert(1)</script>"))
    [mail] = await smtp_sink.wait_for(1, match=lambda m: m["To"] == to)
    html = mail.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html


async def test_smtp_down_for_a_while_delays_the_mail_and_sends_it_once(start_mailer, smtp_sink, mailer_db):
    service = await start_mailer()
    smtp_sink.stop()
    to = unique_email()
    await commit_mail_check(mailer_db, to)

    async def retried():
        row = await delivery(mailer_db, to)
        return row is not None and row["attempts"] >= 2 and row["status"] == "pending" and row["last_error"]

    await eventually(retried, message="retried while the server is down")
    smtp_sink.start()
    await smtp_sink.wait_for(1, timeout=15, match=lambda m: m["To"] == to)
    await eventually(lambda: _status(mailer_db, to, "sent"), message="sent after the server came back")
    await eventually(lambda: mailer_quiescent(service, to), message="nothing left in flight")
    assert len(mails_to(smtp_sink, to)) == 1


async def test_temporary_refusal_is_retried(start_mailer, smtp_sink, mailer_db):
    service = await start_mailer()
    smtp_sink.fail_with = (451, "4.3.0 Try again later")
    to = unique_email()
    await commit_mail_check(mailer_db, to)

    async def waiting_after_451():
        row = await delivery(mailer_db, to)
        ok = (
            row is not None
            and row["status"] == "pending"
            and row["attempts"] >= 1
            and "451" in (row["last_error"] or "")
        )
        return row if ok else None

    refused = await eventually(waiting_after_451, message="back in the queue after the 451, with its reason")
    assert refused["next_attempt_at"] > refused["created_at"], "retried at once, without a backoff"
    smtp_sink.fail_with = None
    await smtp_sink.wait_for(1, timeout=15, match=lambda m: m["To"] == to)
    row = await eventually(lambda: _sent_row(mailer_db, to), message="sent")
    await eventually(lambda: mailer_quiescent(service, to), message="nothing left in flight")
    assert len(mails_to(smtp_sink, to)) == 1
    assert row["attempts"] > refused["attempts"] and row["last_error"] is None and "OK" in row["smtp_response"]


async def _attempts_at_least(mailer_db, to, n):
    row = await delivery(mailer_db, to)
    return row is not None and row["attempts"] >= n


async def _sent_row(mailer_db, to):
    row = await delivery(mailer_db, to)
    return row if row is not None and row["status"] == "sent" else None


async def test_permanent_refusal_gives_up_with_a_queryable_failure(start_mailer, smtp_sink, mailer_db):
    service = await start_mailer()
    smtp_sink.fail_with = (550, "5.1.1 No such user")
    to = unique_email("inconnu")
    await commit_mail_check(mailer_db, to)
    await eventually(lambda: _status(mailer_db, to, "failed"), message="marked failed")
    row = await delivery(mailer_db, to)
    assert row["attempts"] == 1 and "550" in row["last_error"]
    reply = await RpcClient(service.nc).call(ListDeliveries(status="failed", recipient=to), Deliveries)
    assert [d.recipient for d in reply.items] == [to]
    smtp_sink.fail_with = None
    await eventually(lambda: mailer_quiescent(service, to), message="nothing left in flight")
    assert mails_to(smtp_sink, to) == [] and (await delivery(mailer_db, to))["attempts"] == 1


@pytest.mark.slow
async def test_nats_down_when_the_transaction_commits(start_mailer, smtp_sink, mailer_db, nats_server):
    service = await start_mailer()
    nats_server.stop()
    to = unique_email()
    try:
        event_id = await commit_mail_check(mailer_db, to)
        rounds = service.relay.rounds
        await eventually(lambda: service.relay.rounds >= rounds + 2, message="the relay tried while NATS was down")
        assert await mailer_db.fetchval("SELECT sent_at IS NULL FROM outbox WHERE event_id = $1", event_id)
        assert mails_to(smtp_sink, to) == []
    finally:
        nats_server.start()
    await smtp_sink.wait_for(1, timeout=30, match=lambda m: m["To"] == to)
    await eventually(lambda: mailer_quiescent(service, to), timeout=30, message="nothing left in flight")
    assert len(mails_to(smtp_sink, to)) == 1


@pytest.mark.slow
async def test_relay_killed_between_publish_and_mark_sent(start_mailer, smtp_sink, mailer_db, monkeypatch):
    service = await start_mailer(mail_lease=1.0)
    died = die_before_marking(monkeypatch, service.relay)

    async def never_sent(row):  # what is tried here is the relay: the dying process sends nothing
        await asyncio.Event().wait()

    # (its sender racing the crash could have the server accept the mail just before it: the
    # recognisable duplicate of test_crash_between_smtp_acceptance_and_log…, not this test's case)
    monkeypatch.setattr(service.sender, "_attempt", never_sent)
    to = unique_email()
    await commit_mail_check(mailer_db, to)
    await asyncio.wait_for(died.wait(), 30)
    await crash(service)
    second = await start_mailer(mail_lease=1.0)  # its relay publishes the row again; JetStream drops the duplicate
    await smtp_sink.wait_for(1, timeout=15, match=lambda m: m["To"] == to)
    await eventually(lambda: mailer_quiescent(second, to), message="outbox drained, events acked, mail recorded")
    assert len(mails_to(smtp_sink, to)) == 1


@pytest.mark.slow
async def test_mailer_crash_after_queueing_before_ack_sends_one_mail(start_mailer, smtp_sink, mailer_db, monkeypatch):
    first = await start_mailer(mail_lease=2.0)
    died = asyncio.Event()
    [consumer] = [c for c in first.consumers if c.producer == "mailer"]

    async def die(msg, outcome, error):
        died.set()
        raise asyncio.CancelledError()

    monkeypatch.setattr(consumer, "_settle", die)
    to = unique_email()
    await commit_mail_check(mailer_db, to)
    await asyncio.wait_for(died.wait(), 10)
    await crash(first)
    second = await start_mailer(mail_lease=2.0)
    await smtp_sink.wait_for(1, timeout=15, match=lambda m: m["To"] == to)
    # Quiescent once the unacked event was delivered again (after the ack wait) and acked.
    await eventually(lambda: mailer_quiescent(second, to), message="the event redelivered and acked")
    assert len(mails_to(smtp_sink, to)) == 1
    assert await mailer_db.fetchval("SELECT count(*) FROM deliveries WHERE recipient = $1", to) == 1


@pytest.mark.slow
async def test_crash_between_smtp_acceptance_and_log_gives_a_recognisable_duplicate(
    start_mailer, smtp_sink, mailer_db, monkeypatch
):
    first = await start_mailer(mail_lease=1.0)
    died = asyncio.Event()
    original = first.sender._record

    async def die_on_sent(fn, *args):
        if fn is store.mark_sent:
            died.set()
            raise asyncio.CancelledError()  # the server accepted the mail; the process dies now
        return await original(fn, *args)

    monkeypatch.setattr(first.sender, "_record", die_on_sent)
    to = unique_email()
    await commit_mail_check(mailer_db, to)
    await asyncio.wait_for(died.wait(), 10)
    await crash(first)
    await start_mailer(mail_lease=1.0)
    await eventually(lambda: _status(mailer_db, to, "sent"), message="sent after the lease expired")
    copies = mails_to(smtp_sink, to)
    assert len(copies) == 2
    assert copies[0]["Message-ID"] == copies[1]["Message-ID"], "the duplicate cannot be recognised"


async def test_a_conversation_longer_than_the_lease_keeps_its_delivery(start_mailer, smtp_sink, mailer_db):
    """The lease is renewed while the server takes its time: another replica does not take the
    delivery over and send it a second time."""
    replicas = [await start_mailer(mail_lease=0.6) for _ in range(2)]
    smtp_sink.delay = 2.0
    to = unique_email()
    await commit_mail_check(mailer_db, to)
    await eventually(lambda: _status(mailer_db, to, "sent"), message="sent")
    await eventually(lambda: _quiescent_everywhere(replicas, to), message="nothing left in flight")
    assert len(mails_to(smtp_sink, to)) == 1
    assert (await delivery(mailer_db, to))["attempts"] == 1


async def test_a_busy_slot_claims_its_next_mail_in_the_statement_recording_the_last_one_sent(
    start_mailer, smtp_sink, mailer_db, monkeypatch
):
    """One sending slot, five mails waiting: the loop claims the first; each `sent` record claims the
    next one in the same statement. The slot never holds more than the mail it is sending (a crash
    can still send at most that one twice) and each mail leaves once."""
    service = await start_mailer(mail_send_concurrency=1)
    sender = service.sender
    original = sender._record
    held: list[int] = []
    chained: list[str] = []

    async def spy(fn, *args):
        async with service.pool.acquire() as conn:
            held.append(
                await conn.fetchval(
                    "SELECT count(*) FROM deliveries WHERE status = 'sending' AND claimed_by = $1", sender.claimer
                )
            )
        claimed = await original(fn, *args)
        chained.extend(row["recipient"] for row in claimed or ())
        return claimed

    monkeypatch.setattr(sender, "_record", spy)
    recipients = [unique_email(f"rafale{i}") for i in range(5)]
    async with mailer_db.transaction():  # one commit wakes the sender: the five are due at once
        for i, to in enumerate(recipients):
            due = datetime(2000, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=i)  # before any other
            await queue_mail(mailer_db, to, "Rafale", now=due)
    for to in recipients:
        await eventually(lambda: _status(mailer_db, to, "sent"), message=f"sent to {to}")
    assert set(recipients[1:]) <= set(chained), "the next mails were not claimed by the records of the previous ones"
    assert set(held) == {1}, held
    for to in recipients:
        assert len(mails_to(smtp_sink, to)) == 1 and (await delivery(mailer_db, to))["attempts"] == 1


async def test_a_mail_due_later_leaves_when_due_not_at_the_next_poll(start_mailer, smtp_sink, mailer_db):
    """The claim that finds nothing due yet says in the same statement when the next mail comes
    due (a retry's time, a lease's end): the sender sleeps until then, not for MAIL_POLL_INTERVAL
    (an hour here)."""
    await start_mailer(mail_poll_interval=3600)
    to = unique_email()
    due = datetime.now(timezone.utc) + timedelta(seconds=1.5)
    async with mailer_db.transaction():  # its commit wakes the sender, which finds it not yet due
        await queue_mail(mailer_db, to, "Plus tard", now=due)
    await smtp_sink.wait_for(1, timeout=20, match=lambda m: m["To"] == to)
    row = await eventually(lambda: _sent_row(mailer_db, to), message="sent")
    assert due <= row["sent_at"] < due + timedelta(seconds=10), (due, row["sent_at"])


async def test_a_slot_that_finds_no_mail_due_does_not_send_the_loop_claiming(
    start_mailer, smtp_sink, mailer_db, monkeypatch
):
    """Mails queued one at a time: each commit wakes the loop, whose claim takes the mail; the
    statement recording it sent finds no other due, so the slot ends without making the loop
    claim again for nothing (one claim a mail, not two)."""
    # Mails other tests left waiting (a crashed sender's, a retry's) would be claimed too.
    await mailer_db.execute("UPDATE deliveries SET status = 'failed' WHERE status IN ('pending', 'sending')")
    claims: list[int] = []
    claim_due = store.claim_due

    async def counted(conn, now, claim):
        rows, due = await claim_due(conn, now, claim)
        claims.append(len(rows))
        return rows, due

    monkeypatch.setattr(store, "claim_due", counted)
    service = await start_mailer(mail_poll_interval=3600)
    # the loop's first claim, as it starts, finds nothing (it may come after start() returns)
    await eventually(lambda: claims == [0], message="the sender's first claim")
    claims.clear()
    for i in range(3):
        to = unique_email(f"seul{i}")
        async with mailer_db.transaction():
            await queue_mail(mailer_db, to, "Un à la fois", now=datetime(2000, 1, 1, tzinfo=timezone.utc))
        await eventually(lambda: _status(mailer_db, to, "sent"), message=f"sent to {to}")
        await eventually(lambda: mailer_quiescent(service, to), message="the slot ended")
    await asyncio.sleep(0.3)
    assert claims == [1, 1, 1]


async def _quiescent_everywhere(replicas, to: str) -> bool:
    return all([await mailer_quiescent(r, to) for r in replicas])


async def test_a_commit_wakes_the_relay_and_the_sender_without_any_notify(start_mailer, smtp_sink, mailer_db):
    """No NOTIFY in the mailer's commits (it locks the whole server at commit): the event's commit
    wakes the relay, the queued mail's commit wakes the sender, both in this process; with both
    polls an hour apart, the mail still leaves at once."""
    await start_mailer(mail_poll_interval=3600, outbox_poll_interval=3600)
    triggers = await mailer_db.fetch(
        """SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_proc p ON p.oid = t.tgfoid
           WHERE n.nspname = 'mailer' AND NOT t.tgisinternal AND p.prosrc ILIKE '%notify%'"""
    )
    assert triggers == []
    to = unique_email()
    await commit_mail_check(mailer_db, to)
    await smtp_sink.wait_for(1, timeout=30, match=lambda m: m["To"] == to)


async def test_queued_letters_of_the_storage_era_name_their_decision(mailer_db, start_mailer):
    """Deliveries queued before the mailer asked the documents service for letters named a bucket and
    key; migration 0004 rewrites those still to send so that they name the decision."""
    await start_mailer()
    decision, to = uuid.uuid4(), unique_email()
    old = [
        {
            "bucket": "ecandidat-pieces",
            "key": f"lettres/{uuid.uuid4()}/{decision}.pdf",
            "filename": "Lettre d'admission.pdf",
            "content_type": "application/pdf",
        }
    ]
    not_due = datetime.now(timezone.utc) + timedelta(hours=1)  # the running sender leaves it
    await queue_mail(mailer_db, to, "Lettre", now=not_due)
    await mailer_db.execute("UPDATE deliveries SET attachments = $2 WHERE recipient = $1", to, old)
    migration = (ROOT / "services/mailer/migrations/0004_letter_attachments.sql").read_text()
    await mailer_db.execute(migration)  # the connection's search_path is the mailer's schema
    row = await mailer_db.fetchrow("SELECT * FROM deliveries WHERE recipient = $1", to)
    assert store.attachments_of(row) == [Attachment(str(decision), "Lettre d'admission.pdf")]


async def test_missing_attachment_is_retried_not_sent_without_it(mailer_settings, smtp_sink, mailer_db, start_mailer):
    await start_mailer()
    to = unique_email()
    no_such_letter = Attachment(str(uuid.uuid4()), "x.pdf")  # nor any documents service here
    await queue_mail(mailer_db, to, "Lettre", now=datetime.now(timezone.utc), attachments=(no_such_letter,))
    await eventually(lambda: _attempts_at_least(mailer_db, to, 2), message="retried")
    assert mails_to(smtp_sink, to) == []


async def test_a_run_of_events_queues_the_mails_one_event_at_a_time_would(start_mailer, mailer_db):
    """`notify_many` (consecutive events of one type at once) against `notify` event by event."""
    from ecandidat.contracts import documents as d
    from ecandidat.contracts.envelope import envelope
    from services.mailer import consumers

    service = await start_mailer()

    async def refusals(tag: str) -> list:
        items = []
        for n in range(3):
            account_id, candidature_id = uuid.uuid4(), uuid.uuid4()
            await store.add_contact(mailer_db, account_id, f"26{tag}{n}", "Durand", "Léa", unique_email(f"{tag}{n}"))
            await store.add_candidature(
                mailer_db,
                candidature_id,
                account_id,
                "DAEU option A",
                "DAEU",
                datetime(2027, 2, 14, tzinfo=timezone.utc),
            )
            event = d.PieceRefused(
                piece_slot_id=uuid.uuid4(),
                piece_id=uuid.uuid4(),
                candidature_id=candidature_id,
                account_id=account_id,
                libelle=f"Pièce {n}",
                by="gest@univ.fr",
                at=datetime.now(timezone.utc),
                comment=f"illisible {n}",
            )
            items.append((event, envelope(event, event_id=uuid.uuid4(), time=event.at)))
        return items

    async def queued(items) -> list[tuple]:
        rows = [await mailer_db.fetchrow("SELECT * FROM deliveries WHERE event_id = $1", meta.id) for _, meta in items]
        return [
            (r["template"], r["subject"], re.sub("26[AB]", "26X", r["body_text"]), r["message_id"].split(".")[1])
            for r in rows
        ]

    together, apart = await refusals("A"), await refusals("B")
    async with mailer_db.transaction():
        await consumers.notify_many(service.deps, mailer_db, together)
    async with mailer_db.transaction():
        for event, meta in apart:
            await consumers.notify(service.deps, mailer_db, event, meta)
    got, expected = await queued(together), await queued(apart)
    assert len(got) == 3 and got[0][0] == "piece_refused"
    assert got == expected


async def test_the_delivery_log_keeps_a_mail_for_its_retention_not_for_ever(start_mailer, smtp_sink):
    service = await start_mailer()
    client = RpcClient(service.nc)
    old, recent, waiting = unique_email(), unique_email(), unique_email()
    for to in (old, recent, waiting):
        await client.call(SendMailCheck(to=to, requested_by="rpc"), MailCheckQueued)
    await eventually(lambda: mailer_quiescent(service, old, recent, waiting), message="the three sent")
    long_ago = service.clock.now() - timedelta(days=366)
    async with service.pool.acquire() as conn:
        await conn.execute("UPDATE deliveries SET created_at = $2 WHERE recipient = ANY($1)", [old, waiting], long_ago)
        # One still to send (its next attempt later): a mail is never forgotten before it leaves.
        await conn.execute(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = $2 WHERE recipient = $1",
            waiting,
            service.clock.now() + timedelta(days=10),
        )
    assert await run_job_once(service.pool, service.log_retention_job, service.clock, force=True) >= 1
    async with service.pool.acquire() as conn:
        left = {
            r["recipient"]
            for r in await conn.fetch(
                "SELECT recipient FROM deliveries WHERE recipient = ANY($1)", [old, recent, waiting]
            )
        }
    assert left == {recent, waiting}
