"""The SQL of the webhooks service."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

ENDPOINT_COLUMNS = (
    "id, url, event_types, centre_code, formation_code, description, status, created_by, created_at, "
    "failing_since, disabled_at"
)


async def add_endpoint(
    conn: asyncpg.Connection,
    *,
    id: uuid.UUID,
    url: str,
    event_types: list[str],
    centre_code: str | None,
    formation_code: str | None,
    description: str,
    secret: str,
    created_by: str,
    now: datetime,
    deliver_from: datetime,
) -> asyncpg.Record:
    return await conn.fetchrow(
        f"INSERT INTO endpoints (id, url, event_types, centre_code, formation_code, description, secret, status, "
        f"created_by, created_at, deliver_from) VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $9, $10) "
        f"RETURNING {ENDPOINT_COLUMNS}",
        id,
        url,
        event_types,
        centre_code,
        formation_code,
        description,
        secret,
        created_by,
        now,
        deliver_from,
    )


async def endpoints(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {ENDPOINT_COLUMNS}, deliver_from FROM endpoints ORDER BY created_at, id")


async def endpoint(conn: asyncpg.Connection, endpoint_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {ENDPOINT_COLUMNS}, deliver_from, secret, previous_secret, previous_valid_until "
        "FROM endpoints WHERE id = $1",
        endpoint_id,
    )


async def rotate_secret(
    conn: asyncpg.Connection, endpoint_id: uuid.UUID, secret: str, previous_until: datetime
) -> bool:
    done = await conn.execute(
        "UPDATE endpoints SET previous_secret = secret, previous_valid_until = $3, secret = $2 WHERE id = $1",
        endpoint_id,
        secret,
        previous_until,
    )
    return done != "UPDATE 0"


async def set_status(conn: asyncpg.Connection, endpoint_id: uuid.UUID, status: str) -> asyncpg.Record | None:
    """Pause or (re)activate; activating a disabled endpoint starts its failure count again."""
    return await conn.fetchrow(
        f"UPDATE endpoints SET status = $2, disabled_at = NULL, "
        f"failing_since = CASE WHEN $2 = 'active' THEN NULL ELSE failing_since END "
        f"WHERE id = $1 RETURNING {ENDPOINT_COLUMNS}",
        endpoint_id,
        status,
    )


async def delete_endpoint(conn: asyncpg.Connection, endpoint_id: uuid.UUID) -> bool:
    """Delete the endpoint with its delivery log and replays."""
    return await conn.execute("DELETE FROM endpoints WHERE id = $1", endpoint_id) != "DELETE 0"


async def failing(conn: asyncpg.Connection, endpoint_id: uuid.UUID, now: datetime) -> datetime:
    return await conn.fetchval(
        "UPDATE endpoints SET failing_since = coalesce(failing_since, $2) WHERE id = $1 RETURNING failing_since",
        endpoint_id,
        now,
    )


async def disable(conn: asyncpg.Connection, endpoint_id: uuid.UUID, now: datetime) -> bool:
    """Disable an active endpoint; False when it was not active (another replica disabled it)."""
    done = await conn.execute(
        "UPDATE endpoints SET status = 'disabled', disabled_at = $2 WHERE id = $1 AND status = 'active'",
        endpoint_id,
        now,
    )
    return done != "UPDATE 0"


async def delivery(
    conn: asyncpg.Connection,
    *,
    endpoint_id: uuid.UUID,
    event_id: uuid.UUID,
    replay_id: uuid.UUID | None,
    event_type: str,
    subject: str,
    now: datetime,
) -> asyncpg.Record:
    """The delivery of this event to this endpoint (in this replay), created pending the first time."""
    await conn.execute(
        "INSERT INTO deliveries (endpoint_id, event_id, replay_id, event_type, subject, status, created_at) "
        "VALUES ($1, $2, $3, $4, $5, 'pending', $6) ON CONFLICT DO NOTHING",
        endpoint_id,
        event_id,
        replay_id,
        event_type,
        subject,
        now,
    )
    return await conn.fetchrow(
        "SELECT id, status, attempts FROM deliveries WHERE endpoint_id = $1 AND event_id = $2 "
        "AND replay_id IS NOT DISTINCT FROM $3",
        endpoint_id,
        event_id,
        replay_id,
    )


async def attempted(
    conn: asyncpg.Connection, delivery_id: int, *, ok: bool, status_code: int | None, error: str | None, now: datetime
) -> None:
    await conn.execute(
        "UPDATE deliveries SET attempts = attempts + 1, last_status_code = $2, last_error = $3, "
        "status = CASE WHEN $4 THEN 'delivered' ELSE status END, delivered_at = CASE WHEN $4 THEN $5::timestamptz END "
        "WHERE id = $1",
        delivery_id,
        status_code,
        error,
        ok,
        now,
    )


async def recovered(conn: asyncpg.Connection, endpoint_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL", endpoint_id
    )


async def deliveries(conn: asyncpg.Connection, endpoint_id: uuid.UUID, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT event_id, event_type, subject, replay_id, status, attempts, last_status_code, last_error, created_at, "
        "delivered_at FROM deliveries WHERE endpoint_id = $1 ORDER BY id DESC LIMIT $2",
        endpoint_id,
        limit,
    )


async def add_replay(
    conn: asyncpg.Connection,
    *,
    id: uuid.UUID,
    endpoint_id: uuid.UUID,
    since: datetime,
    until: datetime,
    streams: list[str],
    now: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO replays (id, endpoint_id, since, until, pending_streams, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        id,
        endpoint_id,
        since,
        until,
        streams,
        now,
    )


async def running_replays(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, endpoint_id, since, until, pending_streams FROM replays "
        "WHERE finished_at IS NULL ORDER BY created_at"
    )


async def stream_replayed(conn: asyncpg.Connection, replay_id: uuid.UUID, stream: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE replays SET pending_streams = array_remove(pending_streams, $2), "
        "finished_at = CASE WHEN cardinality(array_remove(pending_streams, $2)) = 0 THEN $3::timestamptz END WHERE id = $1",
        replay_id,
        stream,
        now,
    )
