"""Timed jobs run once across replicas and remember their last run."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

from ecandidat.runtime.clock import FixedClock
from ecandidat.runtime.db import create_pool, migrate
from ecandidat.runtime.jobs import Job, run_job_once


async def test_job_runs_once_across_replicas_and_respects_its_interval(database_url):
    schema = f"jobs_{uuid.uuid4().hex[:8]}"
    await migrate(database_url, schema, None)
    pools = [await create_pool(database_url, schema, max_size=2) for _ in range(3)]
    runs: list[datetime] = []
    running = asyncio.Event()
    release = asyncio.Event()

    async def work(conn, now):
        running.set()
        await release.wait()  # the other replicas try while this one holds the job
        runs.append(now)
        return 1

    clock = FixedClock(datetime(2026, 6, 1, 8, 0, tzinfo=timezone.utc))
    job = Job(f"purge-{schema}", timedelta(minutes=10), work)
    try:
        first = asyncio.create_task(run_job_once(pools[0], job, clock))
        await asyncio.wait_for(running.wait(), 30)
        assert await asyncio.gather(*(run_job_once(p, job, clock) for p in pools[1:])) == [None, None]
        release.set()
        assert await first == 1
        clock.advance(minutes=5)
        assert await run_job_once(pools[1], job, clock) is None, "ran again before its interval"
        clock.advance(minutes=6)
        assert await run_job_once(pools[2], job, clock) == 1
        assert len(runs) == 2
    finally:
        release.set()
        for p in pools:
            await p.close()
