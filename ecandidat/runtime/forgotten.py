"""What a service erased stays erased: the accounts purged and the candidatures destroyed.

Streams are not ordered with each other, and a consumer may be behind another: a service can get
`candidature.created` after the `account.purged` of its candidate (its candidatures consumer behind
its accounts one), or an event of a destroyed candidature replayed by an operator. Each service
that erases on those events records what it erased in its `forgotten` table (a migration of its
own) and checks it before opening anything for an account or a candidature. The account's
transaction-scoped advisory lock serialises an erasure and a late creation of the same account, so
that neither commits without seeing the other.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import asyncpg

Kind = Literal["account", "candidature"]


def account_key(account_id: uuid.UUID) -> int:
    return int.from_bytes(account_id.bytes[:8], "big", signed=True)


async def hold_account(conn: asyncpg.Connection, account_id: uuid.UUID) -> None:
    """Until this transaction ends, no other erases or opens anything of this account."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", account_key(account_id))


async def forget(conn: asyncpg.Connection, kind: Kind, ids: list[uuid.UUID], now: datetime) -> None:
    await conn.execute(
        "INSERT INTO forgotten (id, kind, at) SELECT unnest($1::uuid[]), $2, $3 ON CONFLICT DO NOTHING", ids, kind, now
    )


async def is_forgotten(conn: asyncpg.Connection, *ids: uuid.UUID) -> bool:
    """Whether any of these accounts or candidatures was erased here."""
    return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM forgotten WHERE id = ANY($1::uuid[]))", list(ids))
