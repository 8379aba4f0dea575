"""The kit and the mailer across PostgreSQL restarts and crashes.

The suite's default PostgreSQL is the machine's, shared with other work: these tests start a
server of their own (`private_pg`), and a nats-server of their own, and restart those.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import asyncpg
import nats
import pytest

from ecandidat.contracts.accounts import AccountActivationRequested, AccountCreated
from ecandidat.contracts.envelope import envelope
from ecandidat.contracts.mailer import MailCheckRequested
from ecandidat.contracts.subjects import dead_letter_stream, event_subject
from ecandidat.runtime.db import connect
from ecandidat.runtime.listener import Listener
from ecandidat.runtime.outbox import add_event
from ecandidat.runtime.sealing import DEV_SEALING_KEY, Sealer
from services.mailer.service import MailerService
from services.mailer.settings import MailerSettings
from tests.conftest import eventually, restart_postgres, start_postgres, stop_postgres

pytestmark = pytest.mark.slow

NEVER = 3600.0  # a poll interval no test outlives: only a notification can wake the worker


async def test_a_listener_listens_again_after_each_restart_and_crash(private_pg, private_database_url):
    woken = asyncio.Event()
    async with Listener(private_database_url, "probe", "probe_channel", woken.set, keepalive=0.5) as listener:
        await eventually(lambda: listener.connected, message="listening")
        for crash in (False, True):
            before = listener.connections
            await restart_postgres(private_pg, crash=crash)
            await eventually(
                lambda: listener.connected and listener.connections > before,
                timeout=30,
                message=f"listening again after a {'crash' if crash else 'restart'}",
            )
            woken.clear()
            conn = await asyncpg.connect(private_database_url)
            try:
                await conn.execute("NOTIFY probe_channel")
            finally:
                await conn.close()
            await eventually(woken.is_set, message="a notification after the restart arrives")


@pytest.fixture
async def start_mailers(private_database_url, private_nats, settings_for):
    started: list[MailerService] = []

    async def start(count: int = 1, **overrides) -> list[MailerService]:
        settings = settings_for(
            MailerSettings, database_url=private_database_url, nats_url=private_nats.url, **overrides
        )
        for _ in range(count):
            service = MailerService(settings)
            await service.start()
            started.append(service)
        return started[-count:]

    yield start
    for service in started:
        await service.stop()


async def commit_mail_checks(dsn: str, recipients: list[str]) -> None:
    """Commit one mail-check event per recipient in the mailer's outbox, retrying while the
    database is starting."""
    conn = await eventually(lambda: _connect(dsn), timeout=60, message="the database accepts connections")
    try:
        async with conn.transaction():
            for to in recipients:
                await add_event(conn, MailCheckRequested(to=to, requested_by="redémarrages"))
    finally:
        await conn.close()


async def _connect(dsn: str) -> asyncpg.Connection | None:
    try:
        return await connect(dsn, "mailer")
    except (OSError, asyncpg.PostgresError):
        return None


def delivered_to(sink, recipients: list[str]) -> list[str]:
    wanted = set(recipients)
    return [m["To"] for m in sink.messages() if m["To"] in wanted]


async def test_the_relay_and_the_sender_are_woken_after_a_restart(
    private_pg, private_database_url, start_mailers, smtp_sink
):
    await start_mailers(outbox_poll_interval=NEVER, mail_poll_interval=NEVER)
    tag = uuid.uuid4().hex[:8]
    before = [f"avant.{tag}@example.org"]
    await commit_mail_checks(private_database_url, before)
    await eventually(lambda: delivered_to(smtp_sink, before), timeout=60, message="a mail before the restart")
    for n, crash in enumerate((False, True)):
        await restart_postgres(private_pg, crash=crash)
        after = [f"apres.{n}.{tag}@example.org"]
        await commit_mail_checks(private_database_url, after)
        await eventually(
            lambda: delivered_to(smtp_sink, after),
            timeout=60,
            message="a mail committed after the restart, without waiting for a poll",
        )


async def test_every_replica_sends_again_after_a_restart(private_pg, private_database_url, start_mailers, smtp_sink):
    replicas = await start_mailers(2, mail_poll_interval=NEVER, mail_send_concurrency=2)
    smtp_sink.delay = 0.05
    await restart_postgres(private_pg, crash=True)
    tag = uuid.uuid4().hex[:8]
    recipients = [f"replique.{tag}.{i}@example.org" for i in range(16)]
    await commit_mail_checks(private_database_url, recipients)
    await eventually(lambda: len(delivered_to(smtp_sink, recipients)) == 16, timeout=60, message="every mail sent")
    assert all(r.sender.sent > 0 for r in replicas), [r.sender.sent for r in replicas]


@pytest.mark.timeout(300)
async def test_every_consumer_keeps_consuming_and_every_mail_is_sent_across_restarts(
    private_pg, private_database_url, private_nats, start_mailers, smtp_sink
):
    [mailer] = await start_mailers()
    smtp_sink.delay = 0.02  # the sender is in the middle of conversations when the server goes
    nc = await nats.connect(private_nats.url)
    js = nc.jetstream()
    sealer = Sealer(DEV_SEALING_KEY)
    tag = uuid.uuid4().hex[:8]
    expected: list[str] = []

    async def mail_checks(n: int) -> None:
        recipients = [f"check.{tag}.{len(expected) + i}@example.org" for i in range(n)]
        await commit_mail_checks(private_database_url, recipients)
        expected.extend(recipients)

    async def accounts_created(n: int) -> None:
        """What the accounts service publishes for a new account: the public event (the mailer's
        directory) and the private one that the welcome mail comes from."""
        for _ in range(n):
            email = f"compte.{tag}.{len(expected)}@example.org"
            account = dict(account_id=uuid.uuid4(), numero_dossier="26ABCDEF", email=email, nom="Martin", prenom="Zoé")
            deadline = datetime.now(timezone.utc) + timedelta(hours=48)
            for event in (
                AccountCreated(**account, activation_deadline=deadline),
                AccountActivationRequested(
                    **account, activation=sealer.seal("jeton"), activation_deadline=deadline, welcome=True
                ),
            ):
                body = envelope(event, event_id=uuid.uuid4(), time=datetime.now(timezone.utc))
                await js.publish(
                    event_subject(event), body.model_dump_json().encode(), headers={"Nats-Msg-Id": str(body.id)}
                )
            expected.append(email)

    try:
        for crash in (False, True, False, True):
            await mail_checks(15)  # the relay, the consumers and the sender are busy with them…
            await accounts_created(5)
            await stop_postgres(private_pg, crash=crash)  # …when the server goes
            await accounts_created(5)  # delivered to the consumers while the database is away
            await start_postgres(private_pg)
        await mail_checks(5)
        await accounts_created(5)

        try:
            await eventually(
                lambda: set(delivered_to(smtp_sink, expected)) == set(expected), timeout=120, message="every mail sent"
            )
        except BaseException:
            print(await _state(mailer, js, set(expected) - set(delivered_to(smtp_sink, expected))))
            raise
        await eventually(lambda: _quiescent(mailer, js), timeout=60, message="outbox drained, every event acked")
        copies = delivered_to(smtp_sink, expected)
        assert len(copies) == len(expected), f"{len(copies) - len(expected)} mails sent twice"
        async with mailer.pool.acquire() as conn:
            statuses = await conn.fetch(
                "SELECT status, count(*) AS n FROM deliveries WHERE recipient = ANY($1) GROUP BY status", expected
            )
        assert {r["status"]: r["n"] for r in statuses} == {"sent": len(expected)}
        assert (await js.stream_info(dead_letter_stream("mailer"))).state.messages == 0, "an event was dead-lettered"
        tasks = {t.name: t for t in mailer.tasks}
        assert all(t.running for t in tasks.values()), [t.describe() for t in tasks.values()]
    finally:
        await nc.close()


async def _state(mailer: MailerService, js, missing: set[str]) -> str:
    """What the mailer knows of the mails that did not come, for the failure report."""
    lines = [f"missing: {sorted(missing)}"]
    async with mailer.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT recipient, status, attempts, last_error FROM deliveries WHERE recipient = ANY($1)", list(missing)
        )
        lines.append(f"their deliveries: {[dict(r) for r in rows]}")
        lines.append(f"outbox unsent: {await conn.fetchval('SELECT count(*) FROM outbox WHERE sent_at IS NULL')}")
    for consumer in mailer.consumers:
        info = await js.consumer_info(consumer.spec.stream, consumer.durable)
        lines.append(
            f"{consumer.durable}@{consumer.spec.stream}: pending {info.num_pending}, "
            f"ack pending {info.num_ack_pending}, delivered {info.delivered.stream_seq}"
        )
    lines += [t.describe() for t in mailer.tasks]
    return "\n".join(lines)


async def _quiescent(mailer: MailerService, js) -> bool:
    async with mailer.pool.acquire() as conn:
        if await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"):
            return False
    for consumer in mailer.consumers:
        info = await js.consumer_info(consumer.spec.stream, consumer.durable)
        if info.num_pending or info.num_ack_pending:
            return False
    return True
