"""PostgreSQL: the connection pool of a service and its migration runner.

Each service keeps its tables in its own schema (the service name) and its connections use that
schema as `search_path`, so SQL is written without schema prefixes and a service never reads
another's tables. Migrations are numbered `.sql` files (`0001_name.sql`); the kit's own tables
(outbox, inbox, job leases) come first, then the service's. Each file is applied once, in its
own transaction, and recorded with its checksum; a session advisory lock makes two replicas that
start together apply them one after the other.

The pool's connections (and `connect()`'s) are `KitConnection`s: they know their schema and run
what `after_commit` registered once the outermost transaction has committed. On it,
`wake_after_commit(conn, channel)` wakes what this process runs for that channel of the
connection's schema (`woken_by`): how `add_event` wakes the outbox relay and the mailer's queue
its sender, without a NOTIFY in the commit (a NOTIFY takes a lock of the whole server at commit,
so every notifying commit of every database waits for the previous one). Other processes find the
rows by polling.

`database_unavailable(exc)` tells a database that cannot be reached (down, restarting, refusing
connections, connection cut) from a failure of the query itself: the rpc server answers the first
with the `unavailable` error (503 with `Retry-After` at the gateway), never as a bug.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import asyncpg.transaction

log = logging.getLogger(__name__)

KIT_MIGRATIONS = Path(__file__).with_name("migrations")
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_SCHEMA = re.compile(r"^[a-z][a-z0-9_]*$")


# SQLSTATE classes and codes that mean "the server is not there", not "the query is wrong".
_UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused, reset, aborted
    socket.gaierror,  # the server's name does not resolve
    asyncio.TimeoutError,  # the connection attempt or the query did not complete in time
    asyncpg.PostgresConnectionError,  # class 08: connection exceptions
    asyncpg.CannotConnectNowError,  # 57P03: starting up or shutting down
    asyncpg.AdminShutdownError,  # 57P01: terminated by a restart
    asyncpg.CrashShutdownError,  # 57P02: another backend crashed
    asyncpg.TooManyConnectionsError,  # 53300
    # The protocol of a connection that the server closed in the middle of an operation; the
    # connection is then discarded by the pool.
    asyncpg.InternalClientError,
)


def database_unavailable(exc: BaseException) -> bool:
    """True when `exc` means the database cannot be used right now (and a retry later may succeed)."""
    if isinstance(exc, _UNAVAILABLE_ERRORS):
        return True
    if type(exc) is OSError:  # "Multiple exceptions: connect call failed" for a name with several addresses
        return True
    return isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc)


async def _init_connection(conn: asyncpg.Connection, schema: str | None = None) -> None:
    if isinstance(conn, KitConnection):
        conn.kit_schema = schema
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _no_reset(conn: asyncpg.Connection) -> None:
    return None


class _Transaction(asyncpg.transaction.Transaction):
    """asyncpg's transaction, telling its connection when the outermost one ends."""

    async def start(self) -> None:
        await super().start()
        if not self._nested:
            self._connection._transaction_ended(committed=False)

    async def commit(self) -> None:
        await super().commit()
        if not self._nested:
            self._connection._transaction_ended(committed=True)

    async def rollback(self) -> None:
        await super().rollback()
        if not self._nested:
            self._connection._transaction_ended(committed=False)

    async def __aexit__(self, extype, ex, tb) -> None:
        await super().__aexit__(extype, ex, tb)
        if not self._nested:
            self._connection._transaction_ended(committed=extype is None)


class KitConnection(asyncpg.Connection):
    """The kit's connections (pools and single ones): they know their service's schema and run
    what was registered with `after_commit` once the outermost transaction has committed (the
    outbox wakes its relay in this process that way, without a NOTIFY in the commit)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kit_schema: str | None = None
        self._after_commit: dict[object, Callable[[], None]] = {}

    def transaction(self, *, isolation=None, readonly=False, deferrable=False) -> _Transaction:
        self._check_open()
        return _Transaction(self, isolation, readonly, deferrable)

    def after_commit(self, key: object, callback: Callable[[], None]) -> None:
        """Run `callback` (once per `key`) after the current transaction commits; forgotten if it
        rolls back."""
        self._after_commit.setdefault(key, callback)

    def _transaction_ended(self, *, committed: bool) -> None:
        callbacks, self._after_commit = self._after_commit, {}
        if committed:
            for callback in callbacks.values():
                try:
                    callback()
                except Exception:
                    log.exception("after-commit callback failed")


_woken: dict[tuple[str | None, str], set[Callable[[], None]]] = {}  # (schema, channel) → callbacks


@contextlib.contextmanager
def woken_by(schema: str, channel: str, callback: Callable[[], None]) -> Iterator[None]:
    """While the block runs, call `callback` after each commit of this process that called
    `wake_after_commit(conn, channel)` on a connection of `schema`."""
    callbacks = _woken.setdefault((schema, channel), set())
    callbacks.add(callback)
    try:
        yield
    finally:
        callbacks.discard(callback)


def _wake(schema: str | None, channel: str) -> None:
    for callback in list(_woken.get((schema, channel), ())):
        callback()


def wake_after_commit(conn: asyncpg.Connection, channel: str) -> None:
    """Wake what this process runs for `channel` once the current transaction has committed (now,
    outside a transaction: the statement has); nothing if it rolls back."""
    schema = getattr(conn, "kit_schema", None)
    wake = functools.partial(_wake, schema, channel)
    after_commit = getattr(conn, "after_commit", None)  # a KitConnection, or a pool's proxy of one
    if after_commit is not None and conn.is_in_transaction():
        after_commit(("wake", channel), wake)
    else:
        wake()


ACQUIRE_TIMEOUT = 30.0  # seconds to get a pooled connection, and to give it back


class _Pool(asyncpg.Pool):
    """A pool whose `acquire()` is bounded by default, and so is the release at the end of
    `async with pool.acquire()`: without a bound, giving back a connection whose server went away
    in the middle of a cancelled operation can wait forever, and the loop that did it with it."""

    def acquire(self, *, timeout: float | None = ACQUIRE_TIMEOUT):
        return super().acquire(timeout=timeout)


async def create_pool(dsn: str, schema: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    if not _SCHEMA.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    pool = _Pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        max_queries=50000,
        max_inactive_connection_lifetime=300.0,
        loop=None,
        connection_class=KitConnection,
        record_class=asyncpg.Record,
        init=functools.partial(_init_connection, schema=schema),
        # The default reset costs a round trip at every release; the kit holds no session state
        # on pooled connections (locks and settings are transaction-scoped), so there is nothing to reset.
        reset=_no_reset,
        server_settings={"search_path": schema, "application_name": f"ecandidat-{schema}"},
        command_timeout=60,
    )
    return await pool


async def connect(
    dsn: str, schema: str, *, durable_commits: bool = True, generic_plans: bool = False
) -> asyncpg.Connection:
    """A single connection with the same schema and codecs as the pool's (listeners, tools).
    `durable_commits=False`: its commits return before their WAL is flushed (a server crash may
    lose the last few, never a client crash), for writes that are safe to lose.
    `generic_plans=True`: each of its statements is planned once, not again at each call whose
    arguments make PostgreSQL expect a cheaper plan (`seq = ANY($1)` with one element), for
    statements whose best plan does not depend on their arguments."""
    if not _SCHEMA.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    settings = {"search_path": schema, "application_name": f"ecandidat-{schema}"}
    if not durable_commits:
        settings["synchronous_commit"] = "off"
    if generic_plans:
        settings["plan_cache_mode"] = "force_generic_plan"
    conn = await asyncpg.connect(dsn, server_settings=settings, connection_class=KitConnection)
    await _init_connection(conn, schema)
    return conn


@dataclass(frozen=True)
class Migration:
    source: str
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(source: str, folder: Path) -> list[Migration]:
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file {path} must be named NNNN_name.sql")
        found.append(Migration(source, int(match.group(1)), path.stem, path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration numbers in {folder}")
    return found


class MigrationError(RuntimeError):
    pass


async def migrate(dsn: str, schema: str, folder: Path | None) -> list[str]:
    """Apply the kit's and the service's pending migrations to `schema`; return those applied."""
    if not _SCHEMA.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    migrations = load_migrations("kit", KIT_MIGRATIONS)
    if folder is not None:
        migrations += load_migrations(schema, folder)
    applied: list[str] = []
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    try:
        lock_key = int.from_bytes(hashlib.sha256(f"migrate:{schema}".encode()).digest()[:8], "big", signed=True)
        await conn.execute("SELECT pg_advisory_lock($1)", lock_key)
        try:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       source text NOT NULL,
                       version int NOT NULL,
                       name text NOT NULL,
                       checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now(),
                       PRIMARY KEY (source, version))"""
            )
            done = {
                (r["source"], r["version"]): r["checksum"]
                for r in await conn.fetch("SELECT source, version, checksum FROM schema_migrations")
            }
            for m in migrations:
                key = (m.source, m.version)
                if key in done:
                    if done[key] != m.checksum:
                        raise MigrationError(f"migration {m.source}/{m.name} changed after it was applied")
                    continue
                async with conn.transaction():
                    await conn.execute(m.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (source, version, name, checksum) VALUES ($1, $2, $3, $4)",
                        m.source,
                        m.version,
                        m.name,
                        m.checksum,
                    )
                log.info("migration applied", extra={"schema": schema, "migration": f"{m.source}/{m.name}"})
                applied.append(f"{m.source}/{m.name}")
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", lock_key)
    finally:
        await conn.close()
    return applied
