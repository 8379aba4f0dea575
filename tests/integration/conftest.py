"""Fixtures for the runtime kit's own tests: a private schema, producer and stream per test."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js.api import StreamConfig

from ecandidat.contracts.base import Event
from ecandidat.contracts.subjects import event_stream, producer_events
from ecandidat.runtime.db import create_pool, migrate
from ecandidat.runtime.outbox import OutboxRelay

KIT_SERVICE = "kittest"  # the service the kit's test consumers belong to (its own dead-letter stream)


def die_before_marking(monkeypatch: pytest.MonkeyPatch, relay: OutboxRelay) -> asyncio.Event:
    """The relay's process dies once rows it published (JetStream acknowledged them) are about to
    be marked sent, by the next round's statement or alone; the event returned is set then. A dead
    process remembers nothing: the relay stopping marks none of them."""
    died = asyncio.Event()

    def dying(step: Callable[[asyncpg.Connection], Awaitable[Any]]) -> Callable[[asyncpg.Connection], Awaitable[Any]]:
        async def step_or_die(conn: asyncpg.Connection) -> Any:
            if relay._unmarked and not died.is_set():
                relay._unmarked = []
                died.set()
                raise asyncio.CancelledError()
            return await step(conn)

        return step_or_die

    monkeypatch.setattr(relay, "_publish_batch", dying(relay._publish_batch))
    monkeypatch.setattr(relay, "_mark_sent", dying(relay._mark_sent))
    return died


EFFECTS_SQL = """
CREATE TABLE effects (
    id       bigserial PRIMARY KEY,
    event_id uuid NOT NULL,
    consumer text NOT NULL,
    value    int NOT NULL
);
"""


@dataclass
class Kit:
    schema: str
    producer: str
    dsn: str
    pool: asyncpg.Pool
    nc: NATS
    stream: str

    def event_class(self, action: str = "happened") -> type[Event]:
        namespace = {"__annotations__": {"value": int}, "producer": self.producer, "entity": "probe", "action": action}
        return type("Probe", (Event,), namespace)


@pytest.fixture
async def kit(database_url: str, nats_server, tmp_path: Path) -> AsyncIterator[Kit]:
    async with kit_on(database_url, [nats_server.url], nats_server.connect_options(), tmp_path) as made:
        yield made


@contextlib.asynccontextmanager
async def kit_on(
    database_url: str, servers: list[str], connect_options: dict[str, Any], tmp_path: Path, replicas: int = 1
) -> AsyncIterator[Kit]:
    """A private schema, producer and stream (at `replicas`) on the bus of `servers`."""
    suffix = uuid.uuid4().hex[:8]
    schema = f"kt_{suffix}"
    producer = f"kt{suffix}"
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_effects.sql").write_text(EFFECTS_SQL)
    await migrate(database_url, schema, folder)
    pool = await create_pool(database_url, schema, max_size=5)
    nc = await nats.connect(servers, max_reconnect_attempts=-1, reconnect_time_wait=0.2, **connect_options)
    stream = event_stream(producer)
    # A stream at R3 on a cluster just started is created once its replicas have elected a leader:
    # seconds on a busy machine, beyond the client's default 5 s for a JetStream request.
    js = nc.jetstream(timeout=30.0)
    await js.add_stream(
        StreamConfig(name=stream, subjects=[producer_events(producer)], duplicate_window=120, num_replicas=replicas)
    )
    from ecandidat.runtime.nats import dead_letter_config, declare_streams

    await declare_streams(js, replicas)
    await js.add_stream(dead_letter_config(KIT_SERVICE, replicas))  # as it is: nothing changes
    try:
        yield Kit(schema, producer, database_url, pool, nc, stream)
    finally:
        try:
            await nc.jetstream().delete_stream(stream)
        except Exception:
            pass
        await nc.close()
        await pool.close()
