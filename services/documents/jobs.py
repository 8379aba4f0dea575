"""Timed jobs: forget the tickets that expired over an hour ago."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from ecandidat.runtime.jobs import JobFn

from . import store
from .context import Deps

TICKETS_PURGE_JOB = "documents-tickets-purge"


def purge_tickets(deps: Deps) -> JobFn:
    async def run(conn: asyncpg.Connection, now: datetime) -> int:
        return await store.purge_tickets(conn, now)

    return run
