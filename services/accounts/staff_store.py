"""SQL of staff accounts and their recovery codes."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from . import store


async def insert_staff(conn: asyncpg.Connection, **row: object) -> None:
    await store.insert(conn, "staff_accounts", row)


async def staff_by_email(conn: asyncpg.Connection, email: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM staff_accounts WHERE lower(email) = lower($1)", email.strip())


async def staff(conn: asyncpg.Connection, account_id: uuid.UUID, *, lock: bool = False) -> asyncpg.Record | None:
    sql = "SELECT * FROM staff_accounts WHERE account_id = $1" + (" FOR UPDATE" if lock else "")
    return await conn.fetchrow(sql, account_id)


async def update_staff(conn: asyncpg.Connection, account_id: uuid.UUID, **changes: object) -> None:
    await store.update(conn, "staff_accounts", account_id, changes)


async def list_staff(conn: asyncpg.Connection, centre: str | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT * FROM staff_accounts WHERE $1::text IS NULL OR centres @> ARRAY[$1::text]
           ORDER BY lower(nom), lower(prenom), lower(email)""",
        centre,
    )


async def replace_recovery_codes(conn: asyncpg.Connection, account_id: uuid.UUID, hashes: list[bytes]) -> None:
    await conn.execute("DELETE FROM recovery_codes WHERE account_id = $1", account_id)
    await conn.executemany(
        "INSERT INTO recovery_codes (account_id, code_hash) VALUES ($1, $2)", [(account_id, h) for h in hashes]
    )


async def use_recovery_code(conn: asyncpg.Connection, account_id: uuid.UUID, code_hash: bytes, now: datetime) -> bool:
    used = await conn.fetchval(
        """UPDATE recovery_codes SET used_at = $3
           WHERE account_id = $1 AND code_hash = $2 AND used_at IS NULL RETURNING true""",
        account_id,
        code_hash,
        now,
    )
    return bool(used)


async def remaining_recovery_codes(conn: asyncpg.Connection, account_id: uuid.UUID) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL", account_id
    )
