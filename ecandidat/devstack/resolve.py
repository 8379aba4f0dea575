"""Decide, for each piece of infrastructure, whether to reuse a reachable one or start our own.

For NATS_URL, DATABASE_URL, S3_ENDPOINT and SMTP_HOST/SMTP_PORT:
- set and reachable: reused as is (NATS only when it is secured as the platform expects: it
  refuses anonymous clients and accepts the `ops` key of NATS_CREDENTIALS_DIR, default
  `<state>/nats-credentials`, made by ecandidat.runtime.natsauth; an open bus is never reused);
- set but unreachable: a warning, and our own is started (the defaults are not tried: the
  variable said where to look);
- not set: NATS and PostgreSQL try their usual local address first
  (nats://127.0.0.1:4222 with JetStream, postgresql://postgres@127.0.0.1:5432, where the
  `ecandidat` database is created when missing); S3 and SMTP are always our own.
Our own servers keep their state under ECANDIDAT_STATE_DIR (`nats/`, `pg/`, `s3/`, `maildir/`,
logs in `logs/`), on their usual port when it is free, else on a free port.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import nats

from ecandidat.devstack._process import LOCALHOST, ManagedServer, port_or_free, reachable
from ecandidat.devstack.nats import NatsServer
from ecandidat.devstack.postgres import (
    PostgresServer,
    database_reachable,
    ensure_database,
    with_database,
)
from ecandidat.devstack.cas import CasServer
from ecandidat.devstack.s3 import ACCESS_KEY, REGION, SECRET_KEY, S3Server, http_answers
from ecandidat.devstack.smtpsink import SmtpSink
from ecandidat.runtime.natsauth import OPS, BusCredentials

log = logging.getLogger("ecandidat.devstack")

DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/ecandidat"
DEFAULT_S3_PORT = 9000
DEFAULT_SMTP_PORT = 1025
DEFAULT_GATEWAY_PORT = 8080
DEFAULT_CAS_PORT = 8090
BUCKET = "ecandidat-pieces"


def project_root() -> Path:
    """The checkout this package lives in (editable install), else the current directory."""
    here = Path(__file__).resolve().parents[2]
    return here if (here / "pyproject.toml").is_file() else Path.cwd()


def state_dir(environ: Mapping[str, str] = os.environ) -> Path:
    configured = environ.get("ECANDIDAT_STATE_DIR")
    path = Path(configured) if configured else project_root() / ".state"
    return path.absolute()


@dataclass
class Resolution:
    """The environment for the platform's processes and what had to be started for it."""

    env: dict[str, str]
    started: list[ManagedServer] = field(default_factory=list)
    planned: list[str] = field(default_factory=list)  # what `up` would start (dry run)
    origin: dict[str, str] = field(default_factory=dict)  # "NATS" -> "reused" | "own ..."
    sink: SmtpSink | None = None


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or LOCALHOST, parts.port or default_port


async def nats_has_jetstream(url: str, **options: object) -> bool:
    """True when the server at `url` accepts a connection (with `options`: credentials) and
    answers JetStream account info."""
    servers = [s.strip() for s in url.split(",") if s.strip()]
    if not any(reachable(*_host_port(s, 4222)) for s in servers):
        return False

    async def _quiet(_: Exception) -> None:
        return None

    try:
        client = await nats.connect(
            servers, connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=0,
            error_cb=_quiet, name="ecandidat-devstack-probe", **options,
        )  # fmt: skip
    except Exception:
        return False
    try:
        await client.jetstream().account_info()
        return True
    except Exception:
        return False
    finally:
        await client.close()


class Resolver:
    def __init__(self, environ: Mapping[str, str], state: Path, *, start: bool) -> None:
        self.environ = environ
        self.state = state
        self.start = start  # False: dry run, only report what would be started
        self.result = Resolution(env={})

    def _own(self, label: str, server: ManagedServer, description: str) -> None:
        self.result.origin[label] = f"own {description}"
        if self.start:
            log.info("starting %s (%s)", label, description)
            server.start()
            self.result.started.append(server)
        else:
            self.result.planned.append(f"{label}: {description}")

    async def nats(self) -> None:
        configured = self.environ.get("NATS_URL")
        candidate = configured or DEFAULT_NATS_URL
        folder = Path(self.environ.get("NATS_CREDENTIALS_DIR") or self.state / "nats-credentials")
        if await nats_has_jetstream(candidate):
            log.warning("the NATS server at %s lets anyone in: not reused, starting our own secured one", candidate)
        elif (folder / "ops.nk").is_file() and await nats_has_jetstream(
            candidate, **BusCredentials(folder).connect_options(OPS)
        ):
            self.result.env.update(NATS_URL=candidate, NATS_CREDENTIALS_DIR=str(folder))
            self.result.origin["NATS"] = f"reused, secured (keys in {folder})"
            return
        elif configured:
            log.warning(
                "NATS_URL=%s is unreachable, has no JetStream or does not know our keys: starting our own", configured
            )
        elif reachable(*_host_port(DEFAULT_NATS_URL, 4222)):
            log.warning(
                "the NATS server at %s has no JetStream or does not know our keys: starting our own", DEFAULT_NATS_URL
            )
        port = port_or_free(4222)
        server = NatsServer(
            port=port,
            store_dir=self.state / "nats",
            log_file=self.state / "logs" / "nats.log",
            credentials=folder,
            monitor_port=port_or_free(8222),
        )
        self._own("NATS", server, f"nats-server -js with the platform's accounts and keys, store {server.store_dir}")
        if self.start:
            await asyncio.to_thread(server.provision)
        self.result.env.update(server.env())

    async def database(self) -> None:
        configured = self.environ.get("DATABASE_URL")
        url = configured or DEFAULT_DATABASE_URL
        dbname = urlsplit(url).path.lstrip("/") or "ecandidat"
        if await database_reachable(url):
            self.result.env["DATABASE_URL"] = url
            self.result.origin["DB"] = "reused"
            return
        admin = with_database(url, "postgres")
        if await database_reachable(admin):
            if self.start:
                await ensure_database(admin, dbname)
            self.result.env["DATABASE_URL"] = url
            self.result.origin["DB"] = f"reused server, database {dbname} created if missing"
            return
        if configured:
            log.warning("DATABASE_URL=%s is unreachable: starting our own PostgreSQL", configured)
        server = PostgresServer(
            self.state / "pg", port=port_or_free(5432), log_file=self.state / "logs" / "postgres.log"
        )
        self._own("DB", server, f"PostgreSQL, data {server.data_dir}")
        if self.start:
            await ensure_database(server.url, dbname)
        self.result.env["DATABASE_URL"] = server.database_url(dbname)

    async def s3(self) -> None:
        env = self.result.env
        configured = self.environ.get("S3_ENDPOINT")
        answers = await asyncio.to_thread(http_answers, configured) if configured else False
        if configured and answers:
            env["S3_ENDPOINT"] = configured
            env["S3_ACCESS_KEY"] = self.environ.get("S3_ACCESS_KEY", "")
            env["S3_SECRET_KEY"] = self.environ.get("S3_SECRET_KEY", "")
            env["S3_REGION"] = self.environ.get("S3_REGION", REGION)
            self.result.origin["S3"] = "reused"
        else:
            if configured:
                log.warning("S3_ENDPOINT=%s does not answer: starting our own S3", configured)
            server = S3Server(
                port=port_or_free(DEFAULT_S3_PORT),
                data_dir=self.state / "s3",
                log_file=self.state / "logs" / "s3.log",
            )
            self._own("S3", server, "moto server, objects kept in memory only")
            env["S3_ENDPOINT"] = server.endpoint
            env["S3_ACCESS_KEY"] = ACCESS_KEY
            env["S3_SECRET_KEY"] = SECRET_KEY
            env["S3_REGION"] = self.environ.get("S3_REGION", REGION)
        if self.start:
            try:
                await asyncio.to_thread(ensure_bucket, env, BUCKET)
            except Exception as error:  # the documents service reports it properly
                log.warning("could not create bucket %s at %s: %s", BUCKET, env["S3_ENDPOINT"], error)

    async def smtp(self) -> None:
        env = self.result.env
        configured = self.environ.get("SMTP_HOST")
        if configured:
            security = self.environ.get("SMTP_SECURITY", "none")
            default_port = {"tls": 465, "starttls": 587}.get(security, 25)
            port = int(self.environ.get("SMTP_PORT") or default_port)
            if reachable(configured, port, timeout=2.0):
                env.update(SMTP_HOST=configured, SMTP_PORT=str(port), SMTP_SECURITY=security)
                for name in ("SMTP_USERNAME", "SMTP_PASSWORD"):
                    env[name] = self.environ.get(name, "")
                self.result.origin["SMTP"] = "reused"
                return
            log.warning("SMTP server %s:%d unreachable: starting our own sink", configured, port)
        sink = SmtpSink(port=port_or_free(DEFAULT_SMTP_PORT), maildir=self.state / "maildir")
        self._own("SMTP", sink, f"SMTP sink, Maildir {sink.maildir}")
        self.result.sink = sink
        env.update(
            SMTP_HOST=sink.host, SMTP_PORT=str(sink.port), SMTP_SECURITY="none",
            SMTP_USERNAME="", SMTP_PASSWORD="",
        )  # fmt: skip

    async def ent(self) -> None:
        """The university's ENT: ENT_CAS_URL when set (ENT_ENABLED as given), else our own CAS
        server with its test user directory, accepting the espace candidat's service URL."""
        env = self.result.env
        if self.environ.get("ENT_CAS_URL"):
            env["ENT_CAS_URL"] = self.environ["ENT_CAS_URL"]
            env["ENT_ENABLED"] = self.environ.get("ENT_ENABLED", "true")
            self.result.origin["ENT"] = "reused"
        else:
            server = CasServer.for_base_url(
                env["PUBLIC_BASE_URL"],
                port=port_or_free(DEFAULT_CAS_PORT),
                data_dir=self.state / "cas",
                log_file=self.state / "logs" / "cas.log",
            )
            self._own("ENT", server, f"CAS 3.0 server (django-cas-server), users in {server.users_file}")
            env.update(ENT_CAS_URL=server.url, ENT_ENABLED="true")
        env["WEB_ENT_URL"] = self.environ.get("WEB_ENT_URL", "/connexion/ent")


def ensure_bucket(env: Mapping[str, str], bucket: str) -> None:
    import urllib3
    from minio import Minio

    endpoint = urlsplit(env["S3_ENDPOINT"])
    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5, read=10), retries=False)
    client = Minio(
        endpoint.netloc,
        access_key=env["S3_ACCESS_KEY"],
        secret_key=env["S3_SECRET_KEY"],
        secure=endpoint.scheme == "https",
        region=env.get("S3_REGION") or None,
        http_client=http,
    )
    try:
        if not client.bucket_exists(bucket):
            client.make_bucket(bucket)
    finally:
        http.clear()


async def resolve(environ: Mapping[str, str], *, gateway_port: int, start: bool) -> Resolution:
    """Resolve the whole environment; with `start`, start what is missing (stopped on error)."""
    state = state_dir(environ)
    resolver = Resolver(environ, state, start=start)
    try:
        await resolver.nats()
        await resolver.database()
        await resolver.s3()
        await resolver.smtp()
    except BaseException:
        for server in reversed(resolver.result.started):
            server.stop()
        raise
    gateway_host = environ.get("GATEWAY_HOST", LOCALHOST)
    public_host = LOCALHOST if gateway_host in ("0.0.0.0", "::", "") else gateway_host
    resolver.result.env.update(
        GATEWAY_HOST=gateway_host,
        GATEWAY_PORT=str(gateway_port),
        PUBLIC_BASE_URL=environ.get("PUBLIC_BASE_URL", f"http://{public_host}:{gateway_port}"),
        MAIL_FROM=environ.get("MAIL_FROM", "eCandidat <ne-pas-repondre@ecandidat.localhost>"),
        LOG_LEVEL=environ.get("LOG_LEVEL", "INFO"),
        ECANDIDAT_STATE_DIR=str(state),
        ECANDIDAT_ENV=environ.get("ECANDIDAT_ENV", "development"),
    )
    try:
        await resolver.ent()
    except BaseException:
        for server in reversed(resolver.result.started):
            server.stop()
        raise
    return resolver.result
