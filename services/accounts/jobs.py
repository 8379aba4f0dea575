"""Timed jobs: destroy accounts not activated in time; forget dead sessions, links and counters."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from ecandidat.contracts.accounts import AccountPurged
from ecandidat.runtime.clock import Clock
from ecandidat.runtime.jobs import JobFn
from ecandidat.runtime.outbox import add_event

from . import store
from .settings import AccountsSettings

PURGE_JOB = "accounts.purge-unactivated"
HOUSEKEEPING_JOB = "accounts.housekeeping"


def purge_unactivated(clock: Clock) -> JobFn:
    async def run(conn: asyncpg.Connection, now: datetime) -> int:
        purged = await store.purge_unactivated(conn, now)
        for row in purged:
            event = AccountPurged(account_id=row["account_id"], numero_dossier=row["numero_dossier"])
            await add_event(conn, event, subject=str(row["account_id"]), clock=clock)
        return len(purged)

    return run


def housekeeping(settings: AccountsSettings) -> JobFn:
    async def run(conn: asyncpg.Connection, now: datetime) -> int:
        return await store.delete_stale(
            conn, now, settings.accounts_session_idle, settings.accounts_session_lifetime, settings.accounts_device_days
        )

    return run
