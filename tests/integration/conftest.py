"""Fixtures for the runtime kit's own tests: a private schema, producer and stream per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js.api import StreamConfig

from ecandidat.contracts.base import Event
from ecandidat.contracts.subjects import event_stream, producer_events
from ecandidat.runtime.db import create_pool, migrate

KIT_SERVICE = "kittest"  # the service the kit's test consumers belong to (its own dead-letter stream)

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
    suffix = uuid.uuid4().hex[:8]
    schema = f"kt_{suffix}"
    producer = f"kt{suffix}"
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_effects.sql").write_text(EFFECTS_SQL)
    await migrate(database_url, schema, folder)
    pool = await create_pool(database_url, schema, max_size=5)
    nc = await nats.connect(
        nats_server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2, **nats_server.connect_options()
    )
    stream = event_stream(producer)
    await nc.jetstream().add_stream(
        StreamConfig(name=stream, subjects=[producer_events(producer)], duplicate_window=120)
    )
    from ecandidat.runtime.nats import dead_letter_config, declare_streams

    await declare_streams(nc.jetstream())
    await nc.jetstream().add_stream(dead_letter_config(KIT_SERVICE))  # as it is: nothing changes
    try:
        yield Kit(schema, producer, database_url, pool, nc, stream)
    finally:
        try:
            await nc.jetstream().delete_stream(stream)
        except Exception:
            pass
        await nc.close()
        await pool.close()
