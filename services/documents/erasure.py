"""Removal of the objects queued in `object_deletions` (replaced, deleted, cancelled, purged files).

The transaction that forgets a file queues its key and, once committed, wakes this process's
worker (no NOTIFY in the commit; the other replicas' workers poll); the worker removes the object
and retries on failure, so a storage outage delays an erasure but never loses it. Rows are claimed with
SKIP LOCKED: any number of replicas may run it.
"""

from __future__ import annotations

import asyncio
import logging

from ecandidat.runtime.aio import wait_event
from ecandidat.runtime.db import woken_by

from . import store
from .context import Deps

log = logging.getLogger(__name__)


class Eraser:
    def __init__(self, deps: Deps, schema: str, *, poll_interval: float = 5.0, batch: int = 50) -> None:
        self.deps = deps
        self.schema = schema
        self.poll_interval = poll_interval
        self.batch = batch
        self.erased = 0
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        with woken_by(self.schema, store.DELETIONS_CHANNEL, self.wake):
            while True:
                self._wake.clear()
                try:
                    done = await self.run_once()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("erasure round failed")
                    done = 0
                if done < self.batch:
                    await wait_event(self._wake, self.poll_interval)

    async def run_once(self) -> int:
        """Remove one batch of queued objects; return how many were removed."""
        done = 0
        async with self.deps.pool.acquire() as conn, conn.transaction():
            for key in await store.claim_deletions(conn, self.batch):
                try:
                    await self.deps.storage.delete(key)
                except Exception as exc:
                    await store.deletion_failed(conn, key, repr(exc))
                    log.warning("object not deleted yet", extra={"key": key, "error": repr(exc)})
                    continue
                await store.deletion_done(conn, key)
                done += 1
        self.erased += done
        return done
