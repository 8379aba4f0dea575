"""SQL of candidate accounts, numéros, link tokens, sessions, known devices, throttling and limited requests."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta

import asyncpg

from .domain import new_numero


class NumerosExhausted(RuntimeError):
    pass


async def issue_numero(conn: asyncpg.Connection, prefix: str, now: datetime) -> str:
    """A numéro never issued before, recorded in the history so that it is never issued again."""
    for _ in range(50):
        numero = await conn.fetchval(
            "INSERT INTO numeros (numero, issued_at) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING numero",
            new_numero(prefix),
            now,
        )
        if numero:
            return numero
    raise NumerosExhausted(f"no free numéro de dossier found for prefix {prefix}")


# -- candidates -----------------------------------------------------------------------------------


async def insert(conn: asyncpg.Connection, table: str, row: dict[str, object], on_conflict: str = "") -> bool:
    """Insert `row`; whether it was inserted (`on_conflict` may skip it)."""
    columns = ", ".join(row)
    params = ", ".join(f"${i}" for i in range(1, len(row) + 1))
    status = await conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({params}) {on_conflict}", *row.values())
    return status == "INSERT 0 1"


async def update(conn: asyncpg.Connection, table: str, account_id: uuid.UUID, changes: dict[str, object]) -> None:
    sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(changes, start=2))
    await conn.execute(f"UPDATE {table} SET {sets} WHERE account_id = $1", account_id, *changes.values())


async def insert_candidate(conn: asyncpg.Connection, **row: object) -> bool:
    """Insert the account unless its address already has one (then False, and nothing changes)."""
    return await insert(conn, "candidates", row, on_conflict="ON CONFLICT (lower(email)) DO NOTHING")


async def candidate_by_email(conn: asyncpg.Connection, email: str, *, lock: bool = False) -> asyncpg.Record | None:
    sql = "SELECT * FROM candidates WHERE lower(email) = lower($1)" + (" FOR UPDATE" if lock else "")
    return await conn.fetchrow(sql, email)


async def candidate_by_login(conn: asyncpg.Connection, login: str) -> asyncpg.Record | None:
    login = login.strip()
    if "@" in login:
        return await candidate_by_email(conn, login)
    return await conn.fetchrow("SELECT * FROM candidates WHERE numero_dossier = $1", login.upper())


async def candidate(conn: asyncpg.Connection, account_id: uuid.UUID, *, lock: bool = False) -> asyncpg.Record | None:
    sql = "SELECT * FROM candidates WHERE account_id = $1" + (" FOR UPDATE" if lock else "")
    return await conn.fetchrow(sql, account_id)


async def update_candidate(conn: asyncpg.Connection, account_id: uuid.UUID, **changes: object) -> None:
    await update(conn, "candidates", account_id, changes)


async def purge_unactivated(conn: asyncpg.Connection, now: datetime, limit: int = 500) -> list[asyncpg.Record]:
    rows = await conn.fetch(
        """DELETE FROM candidates WHERE account_id IN (
               SELECT account_id FROM candidates
               WHERE activated_at IS NULL AND activation_deadline <= $1
               ORDER BY activation_deadline LIMIT $2 FOR UPDATE SKIP LOCKED)
           RETURNING account_id, numero_dossier""",
        now,
        limit,
    )
    await _forget_rest(conn, [r["account_id"] for r in rows])
    return rows


async def delete_candidate(conn: asyncpg.Connection, account_id: uuid.UUID) -> asyncpg.Record | None:
    """Delete a candidate account and what hangs on it; the deleted row, None if it was gone."""
    row = await conn.fetchrow("DELETE FROM candidates WHERE account_id = $1 RETURNING *", account_id)
    if row is not None:
        await _forget_rest(conn, [account_id])
    return row


async def _forget_rest(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> None:
    """The link tokens, sessions, devices and ENT links of deleted candidate accounts."""
    if ids:
        for table in ("link_tokens", "sessions", "devices", "ent_links"):
            await conn.execute(f"DELETE FROM {table} WHERE account_id = ANY($1::uuid[])", ids)


# -- link tokens ----------------------------------------------------------------------------------


async def replace_token(
    conn: asyncpg.Connection,
    account_id: uuid.UUID,
    purpose: str,
    token_hash: bytes,
    now: datetime,
    expires_at: datetime,
    new_email: str | None = None,
) -> None:
    """Store a new link for `purpose`; the previous one of the same account stops working."""
    await conn.execute("DELETE FROM link_tokens WHERE account_id = $1 AND purpose = $2", account_id, purpose)
    await conn.execute(
        """INSERT INTO link_tokens (token_hash, account_id, purpose, new_email, created_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        token_hash,
        account_id,
        purpose,
        new_email,
        now,
        expires_at,
    )


async def find_token(
    conn: asyncpg.Connection, token_hash: bytes, purpose: str, now: datetime, *, consume: bool
) -> asyncpg.Record | None:
    """A valid (known, unexpired) token: consumed, or locked until the end of the caller's transaction."""
    sql = (
        "DELETE FROM link_tokens WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3 RETURNING *"
        if consume
        else "SELECT * FROM link_tokens WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3 FOR UPDATE"
    )
    return await conn.fetchrow(sql, token_hash, purpose, now)


async def drop_tokens(conn: asyncpg.Connection, account_id: uuid.UUID, *purposes: str) -> None:
    await conn.execute(
        "DELETE FROM link_tokens WHERE account_id = $1 AND purpose = ANY($2::text[])", account_id, list(purposes)
    )


# -- sessions -------------------------------------------------------------------------------------


async def open_session(
    conn: asyncpg.Connection,
    token_hash: bytes,
    account_id: uuid.UUID,
    realm: str,
    now: datetime,
    client: str,
    *,
    previous_hash: bytes | None,
    forgiven_key: str,
    device_hash: bytes,
    ent_ticket_hash: bytes | None = None,
) -> None:
    """One statement: insert the session, end the one the client held, forget the failures of this
    client on this account, and remember the client's device as known to the account."""
    await conn.execute(
        """WITH ended AS (DELETE FROM sessions WHERE token_hash = $6),
                forgiven AS (DELETE FROM login_failures WHERE key = $7),
                known AS (INSERT INTO devices (device_hash, account_id, created_at, last_login_at)
                          VALUES ($8, $2, $4, $4)
                          ON CONFLICT (device_hash, account_id) DO UPDATE SET last_login_at = excluded.last_login_at)
           INSERT INTO sessions (token_hash, account_id, realm, created_at, last_seen_at, client, ent_ticket_hash)
           VALUES ($1, $2, $3, $4, $4, $5, $9)""",
        token_hash,
        account_id,
        realm,
        now,
        client,
        previous_hash,
        forgiven_key,
        device_hash,
        ent_ticket_hash,
    )


async def session_with_account(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT s.account_id, s.realm, s.created_at, s.last_seen_at,
                  coalesce(c.email, st.email) AS email, c.numero_dossier, c.activated_at,
                  st.roles, st.centres, st.commissions, st.disabled_at,
                  (c.account_id IS NOT NULL OR st.account_id IS NOT NULL) AS account_exists
           FROM sessions s
           LEFT JOIN candidates c ON s.realm = 'candidate' AND c.account_id = s.account_id
           LEFT JOIN staff_accounts st ON s.realm = 'staff' AND st.account_id = s.account_id
           WHERE s.token_hash = $1""",
        token_hash,
    )


async def touch_session(conn: asyncpg.Connection, token_hash: bytes, now: datetime) -> None:
    await conn.execute("UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1", token_hash, now)


async def end_session(conn: asyncpg.Connection, token_hash: bytes) -> None:
    await conn.execute("DELETE FROM sessions WHERE token_hash = $1", token_hash)


async def end_sessions(conn: asyncpg.Connection, account_id: uuid.UUID) -> int:
    result = await conn.execute("DELETE FROM sessions WHERE account_id = $1", account_id)
    return int(result.split()[-1])


async def delete_stale(conn: asyncpg.Connection, now: datetime, idle: int, lifetime: int, device_days: int) -> int:
    """Housekeeping: sessions past their timeouts, used-up tokens, forgotten devices, old throttling
    and request records."""
    deleted = 0
    for sql, args in (
        (
            "DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2",
            (now - timedelta(seconds=idle), now - timedelta(seconds=lifetime)),
        ),
        ("DELETE FROM link_tokens WHERE expires_at < $1", (now,)),
        ("DELETE FROM ent_links WHERE expires_at < $1", (now,)),
        ("DELETE FROM devices WHERE last_login_at < $1", (now - timedelta(days=device_days),)),
        (
            "DELETE FROM login_failures WHERE updated_at < $1 AND (blocked_until IS NULL OR blocked_until < $2)",
            (now - timedelta(days=1), now),
        ),
        ("DELETE FROM limited_requests WHERE requested_at < $1", (now - timedelta(days=1),)),
    ):
        deleted += int((await conn.execute(sql, *args)).split()[-1])
    return deleted


# -- known devices --------------------------------------------------------------------------------


async def device_issued(conn: asyncpg.Connection, device_hash: bytes) -> bool:
    """Whether this device token was issued here (and is still remembered for some account)."""
    return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM devices WHERE device_hash = $1)", device_hash)


async def device_known(conn: asyncpg.Connection, device_hash: bytes, account_id: uuid.UUID, since: datetime) -> bool:
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM devices WHERE device_hash = $1 AND account_id = $2 AND last_login_at > $3)",
        device_hash,
        account_id,
        since,
    )


async def forget_devices(conn: asyncpg.Connection, account_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM devices WHERE account_id = $1", account_id)


# -- throttling -----------------------------------------------------------------------------------


async def blocked_for(conn: asyncpg.Connection, keys: list[str], now: datetime) -> float:
    """Seconds before any of `keys` may try again (0 when none is blocked)."""
    until = await conn.fetchval(
        "SELECT max(blocked_until) FROM login_failures WHERE key = ANY($1::text[]) AND blocked_until > $2", keys, now
    )
    return 0.0 if until is None else (until - now).total_seconds()


async def count_failure(conn: asyncpg.Connection, key: str, now: datetime, forget_every: float) -> float:
    """Raise `key`'s level by one failure, after forgetting one failure per `forget_every` seconds
    since its last change; return the new level."""
    return await conn.fetchval(
        """INSERT INTO login_failures (key, level, updated_at) VALUES ($1, 1, $2)
           ON CONFLICT (key) DO UPDATE SET
               level = greatest(0, login_failures.level
                   - greatest(0, extract(epoch FROM $2 - login_failures.updated_at)) / $3) + 1,
               updated_at = greatest($2, login_failures.updated_at)
           RETURNING level""",
        key,
        now,
        forget_every,
    )


async def block(conn: asyncpg.Connection, key: str, until: datetime) -> None:
    await conn.execute("UPDATE login_failures SET blocked_until = $2 WHERE key = $1", key, until)


async def clear_failures(conn: asyncpg.Connection, *keys: str, prefix: str | None = None) -> None:
    """Forget `keys`, and every key starting with `prefix`."""
    await conn.execute(
        "DELETE FROM login_failures WHERE key = ANY($1::text[]) OR starts_with(key, $2)", list(keys), prefix
    )


# -- limited requests -----------------------------------------------------------------------------


def _lock_id(kind: str, key_hash: bytes) -> int:
    return int.from_bytes(hashlib.sha256(f"limit:{kind}:".encode() + key_hash).digest()[:8], "big", signed=True)


def limit_key(what: str, value: str) -> bytes:
    """What a request is counted against (`what`: "email", "client"), hashed: the value itself is not kept."""
    return hashlib.sha256(f"{what}:{value.strip().lower()}".encode()).digest()


async def count_request(
    conn: asyncpg.Connection, key_hash: bytes, kind: str, now: datetime, *, per_hour: int
) -> tuple[bool, float]:
    """Record a request against `key_hash` (inside the caller's transaction); return whether it is
    within `per_hour` (this one included) and, if not, the seconds until one is allowed again.

    A transaction advisory lock on the key serialises concurrent requests for it, so that the
    count each one sees includes every request committed before: the limit holds under concurrency.
    """
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _lock_id(kind, key_hash))
    since = now - timedelta(hours=1)
    granted, oldest = await conn.fetchrow(
        """SELECT count(*) < $4, min(requested_at) FROM limited_requests
           WHERE key_hash = $1 AND kind = $2 AND requested_at > $3 AND granted""",
        key_hash,
        kind,
        since,
        per_hour,
    )
    await conn.execute(
        "INSERT INTO limited_requests (key_hash, kind, requested_at, granted) VALUES ($1, $2, $3, $4)",
        key_hash,
        kind,
        now,
        granted,
    )
    return granted, 0.0 if granted else (oldest - since).total_seconds()


async def candidate_with_pending_email(
    conn: asyncpg.Connection, account_id: uuid.UUID, now: datetime
) -> asyncpg.Record | None:
    """The account and the address it is changing to, if a link is pending: one round trip."""
    return await conn.fetchrow(
        """SELECT c.*, (SELECT t.new_email FROM link_tokens t
                        WHERE t.account_id = c.account_id AND t.purpose = 'email' AND t.expires_at > $2
                        LIMIT 1) AS pending_new_email
           FROM candidates c WHERE c.account_id = $1""",
        account_id,
        now,
    )


# -- ENT (CAS) links ------------------------------------------------------------------------------


async def candidate_by_ent_uid(conn: asyncpg.Connection, ent_uid: str, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM candidates WHERE ent_uid = $1" + (" FOR UPDATE" if lock else ""), ent_uid)


async def replace_ent_link(
    conn: asyncpg.Connection,
    token_hash: bytes,
    account_id: uuid.UUID,
    ent_uid: str,
    ine: str | None,
    ticket_hash: bytes,
    now: datetime,
    expires_at: datetime,
) -> None:
    """The account's one pending ENT link (a newer first login replaces the older link)."""
    await conn.execute("DELETE FROM ent_links WHERE account_id = $1", account_id)
    await conn.execute(
        """INSERT INTO ent_links (token_hash, account_id, ent_uid, ine, ticket_hash, created_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        token_hash,
        account_id,
        ent_uid,
        ine,
        ticket_hash,
        now,
        expires_at,
    )


async def ent_link(conn: asyncpg.Connection, token_hash: bytes, now: datetime) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM ent_links WHERE token_hash = $1 AND expires_at > $2", token_hash, now)


async def take_ent_link(conn: asyncpg.Connection, token_hash: bytes, now: datetime) -> asyncpg.Record | None:
    """Used once: the link is deleted as it is read."""
    return await conn.fetchrow(
        "DELETE FROM ent_links WHERE token_hash = $1 AND expires_at > $2 RETURNING *", token_hash, now
    )


async def end_ent_sessions(conn: asyncpg.Connection, ticket_hash: bytes) -> None:
    """CAS single logout: the sessions opened with this ENT ticket end."""
    await conn.execute("DELETE FROM sessions WHERE ent_ticket_hash = $1", ticket_hash)
