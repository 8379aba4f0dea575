"""Fixtures shared by the whole suite: real servers, isolated from any running platform.

The session starts its own nats-server (JetStream in a temporary store) on a free port, its own
S3 server (moto) and SMTP sink, and creates a database of its own on the PostgreSQL server at
TEST_PG_ADMIN_URL (default: the machine's 127.0.0.1:5432 when it answers, otherwise a private
cluster started for the session). Nothing is shared with a platform started by `scripts/up`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import pytest

from ecandidat.devstack.infra import (
    CasServer,
    NatsServer,
    PostgresServer,
    S3Server,
    SmtpSink,
    drop_database,
    ensure_database,
    reachable,
)

S = TypeVar("S")

DEFAULT_PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """The bus as deployed: accounts, one nkey per process, permissions (ecandidat.runtime.natsauth).
    Connect with `nats_server.connect_options(identity)`; streams are provisioned as `ops`."""
    folder = tmp_path_factory.mktemp("nats")
    with NatsServer(store_dir=folder / "store", credentials=folder / "credentials") as server:
        server.provision()
        yield server


def nats_identity(settings_class: type) -> str:
    """The NATS identity a settings class connects as: `services.<name>.…` → `<name>`, the gateway's
    → `gateway`, anything else (the kit's own tests, operator tools) → `ops`."""
    module = settings_class.__module__
    if module.startswith("services."):
        return module.split(".")[1]
    if module.startswith("gateway"):
        return "gateway"
    return "ops"


@pytest.fixture(autouse=True)
def _nats_running(request: pytest.FixtureRequest) -> None:
    """A test that stopped NATS and failed before restarting it must not break the next ones."""
    if "nats_server" in request.fixturenames:
        server: NatsServer = request.getfixturevalue("nats_server")
        if not server.running:
            server.start()


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    url = os.environ.get("TEST_PG_ADMIN_URL", DEFAULT_PG_ADMIN)
    parsed = urlparse(url)
    if reachable(parsed.hostname or "127.0.0.1", parsed.port or 5432):
        yield url
        return
    with pg_data_dir() as data, PostgresServer(data, durable=False) as server:
        yield server.url


@contextlib.contextmanager
def pg_data_dir() -> Iterator[Path]:
    """A cluster's data directory outside pytest's temporary directory: a concurrent pytest run
    (another worktree) resets that one to mode 0700, which locks the cluster's unprivileged user
    out of its own files."""
    parent = Path(tempfile.mkdtemp(prefix="ecandidat-test-pg-"))
    try:
        yield parent / "data"
    finally:
        shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture(scope="session")
async def database_url(pg_admin_url: str) -> AsyncIterator[str]:
    name = f"ecandidat_test_{uuid.uuid4().hex[:10]}"
    url = await ensure_database(pg_admin_url, name)
    yield url
    await drop_database(pg_admin_url, name)


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the test module's own, for the tests that stop, crash or restart it:
    the suite's default server (the machine's) is shared with other work and is never restarted.
    Durable: a commit survives the crash of the server, as it does in production."""
    with pg_data_dir() as data, PostgresServer(data) as server:
        yield server


@pytest.fixture
async def private_database_url(private_pg: PostgresServer) -> str:
    """A fresh database on the private server (each test its own)."""
    return await ensure_database(private_pg.url, f"ecandidat_{uuid.uuid4().hex[:10]}")


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[NatsServer]:
    """A nats-server of the test's own: its durable consumers and streams meet no other test's."""
    with NatsServer(store_dir=tmp_path / "nats") as server:
        server.provision()
        yield server


async def stop_postgres(server: PostgresServer, *, crash: bool = False) -> None:
    """Stop the server: a fast shutdown (connections told, then closed), or with `crash` an
    immediate one (every process quits at once, recovery at the next start)."""

    def stop() -> None:
        if crash and server.process is not None:
            server.process.send_signal(signal.SIGQUIT)
            server.process.wait(30)
            server.process = None
        server.stop()

    await asyncio.to_thread(stop)


async def start_postgres(server: PostgresServer) -> None:
    await asyncio.to_thread(server.start)


async def restart_postgres(server: PostgresServer, *, crash: bool = False) -> None:
    await stop_postgres(server, crash=crash)
    await start_postgres(server)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


@pytest.fixture(scope="session")
def cas_server() -> Iterator[CasServer]:
    """The university's ENT: a real CAS 3.0 server accepting every test gateway's service URL."""
    with CasServer(
        r"^http://127\.0\.0\.1:\d+/(connexion/ent/retour|compte/suppression/ent/retour\?etat=[A-Za-z0-9_-]+)$"
    ) as server:
        yield server


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture(autouse=True)
def _smtp_sink_reset(request: pytest.FixtureRequest) -> None:
    if "smtp_sink" in request.fixturenames:
        sink: SmtpSink = request.getfixturevalue("smtp_sink")
        sink.fail_with = None
        sink.delay = 0.0
        sink.on_message = None
        if not sink.running:
            sink.start()


FAST = dict(
    consumer_ack_wait=2.0,
    consumer_backoff=(0.2, 0.4, 0.8),
    consumer_max_deliver=3,
    outbox_poll_interval=0.5,
    rpc_timeout=3.0,
    log_format="text",
    ecandidat_env="development",
)


@pytest.fixture
def settings_for(
    database_url: str, nats_server: NatsServer, smtp_sink: SmtpSink, s3_server: S3Server
) -> Callable[..., Any]:
    """Build a settings object of any service class, pointed at the test servers, with fast timings."""

    def build(cls: type[S], **overrides: Any) -> S:
        values: dict[str, Any] = dict(FAST, database_url=database_url, nats_url=nats_server.url)
        fields = getattr(cls, "model_fields", {})
        if nats_server.secured and "nats_nkey_seed_file" in fields:
            values["nats_nkey_seed_file"] = str(nats_server.credentials.seed_file(nats_identity(cls)))
        extra = dict(
            smtp_host=smtp_sink.host,
            smtp_port=smtp_sink.port,
            smtp_security="none",
            s3_endpoint=s3_server.endpoint,
            s3_access_key=s3_server.access_key,
            s3_secret_key=s3_server.secret_key,
            mail_retry_base=0.2,
            mail_retry_max=1.0,
            gateway_port=0,
        )
        values.update({k: v for k, v in extra.items() if k in fields})
        values.update(overrides)
        return cls(**values)

    return build


@pytest.fixture
def process_env(database_url: str, nats_server: NatsServer, smtp_sink: SmtpSink, s3_server: S3Server) -> dict[str, str]:
    """Environment for a service started as a separate process against the test servers (each
    process finds its own NATS key in NATS_CREDENTIALS_DIR)."""
    env = dict(os.environ)
    env.update(nats_server.env())
    env.update(
        ECANDIDAT_ENV="development",
        DATABASE_URL=database_url,
        SMTP_HOST=smtp_sink.host,
        SMTP_PORT=str(smtp_sink.port),
        SMTP_SECURITY="none",
        S3_ENDPOINT=s3_server.endpoint,
        S3_ACCESS_KEY=s3_server.access_key,
        S3_SECRET_KEY=s3_server.secret_key,
        CONSUMER_ACK_WAIT="2",
        CONSUMER_BACKOFF="0.2,0.4,0.8",
        OUTBOX_POLL_INTERVAL="0.5",
        MAIL_RETRY_BASE="0.2",
        MAIL_RETRY_MAX="1",
        MAIL_LEASE="3",
        LOG_FORMAT="json",
    )
    return env


async def eventually(
    check: Callable[[], Awaitable[Any] | Any], *, timeout: float = 15.0, interval: float = 0.05, message: str = ""
) -> Any:
    """Poll `check` until it returns a truthy value; fail the test with `message` after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        result = check()
        if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
            result = await result
        if result:
            return result
        last = result
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s: {message} (last value: {last!r})")
        await asyncio.sleep(interval)


async def operator_publish(settings: Any, subject: str, data: bytes, headers: dict[str, str] | None = None) -> None:
    """Publish on JetStream as the operator (`ops`, next to the settings' own key): how a test plays
    another service's producer, which a service's own key may not do."""
    import nats

    options = {}
    if getattr(settings, "nats_nkey_seed_file", None):
        ops = Path(settings.nats_nkey_seed_file).with_name("ops.nk")
        options = {"nkeys_seed_str": ops.read_text().strip(), "inbox_prefix": "_INBOX.ops"}
    nc = await nats.connect(settings.nats_url, **options)
    try:
        await nc.jetstream().publish(subject, data, headers=headers)
    finally:
        await nc.close()


async def quiescent(*services: Any) -> bool:
    """True when nothing is left in flight in these services (`runtime.service.Service`): every
    outbox row published, every consumer with nothing left to deliver and nothing waiting for its
    ack. Effects counted then are final, which a count made after a sleep is not on a slow machine."""
    for service in services:
        async with service.pool.acquire() as conn:
            if await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"):
                return False
        js = service.nc.jetstream()
        for consumer in service.consumers:
            info = await js.consumer_info(consumer.spec.stream, consumer.durable)
            if info.num_pending or info.num_ack_pending:
                return False
    return True


async def platform_quiescent(platform: Any, *recipients: str) -> bool:
    """`quiescent` for every service of an e2e platform, and in its mailer no mail to these
    recipients waiting or being sent: the mails counted then are all there will be."""
    from tests.integration.mailer.conftest import mailer_quiescent

    mailer = platform.services.get("mailer")
    others = [service for service in platform.services.values() if service is not mailer]
    return await quiescent(*others) and (mailer is None or await mailer_quiescent(mailer, *recipients))


def unique_email(tag: str = "test") -> str:
    return f"{tag}.{uuid.uuid4().hex[:12]}@example.org"
