"""Timed jobs that run once across all replicas and survive restarts.

Each job is a function `(conn, now) -> int` run in a transaction that first takes a transaction
advisory lock on the job's name (`pg_try_advisory_xact_lock`): a replica that does not get it skips
this round. The row in `job_runs` records the last run, so that a restarted or newly scaled
replica does not run the job again before its interval. Jobs must be idempotent by construction
(they select what is due at `now` and change it), so a crash mid-run is repaired by the next run.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from .clock import Clock
from .logging import bind

log = logging.getLogger(__name__)

JobFn = Callable[[asyncpg.Connection, datetime], Awaitable[int]]

RUNNER = f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Job:
    name: str
    interval: timedelta
    run: JobFn


def _key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"job:{name}".encode()).digest()[:8], "big", signed=True)


async def run_job_once(pool: asyncpg.Pool, job: Job, clock: Clock, *, force: bool = False) -> int | None:
    """Run `job` if due and not running elsewhere; return what it reports, None when skipped."""
    now = clock.now()
    async with pool.acquire() as conn:
        async with conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _key(job.name)):
                return None
            last = await conn.fetchval("SELECT last_run FROM job_runs WHERE job = $1", job.name)
            if not force and last is not None and now - last < job.interval:
                return None
            with bind(job=job.name):
                count = await job.run(conn, now)
            await conn.execute(
                """INSERT INTO job_runs (job, last_run, runner) VALUES ($1, $2, $3)
                   ON CONFLICT (job) DO UPDATE SET last_run = excluded.last_run, runner = excluded.runner""",
                job.name,
                now,
                RUNNER,
            )
    if count:
        log.info("job done", extra={"job": job.name, "count": count})
    return count


class JobRunner:
    def __init__(self, pool: asyncpg.Pool, jobs: list[Job], clock: Clock, *, tick: float = 5.0) -> None:
        self.pool = pool
        self.jobs = jobs
        self.clock = clock
        self.tick = tick

    async def run(self) -> None:
        while True:
            for job in self.jobs:
                try:
                    await run_job_once(self.pool, job, self.clock)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("job failed", extra={"job": job.name})
            await asyncio.sleep(self.tick)
