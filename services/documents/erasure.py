"""Removal of the objects queued in `object_deletions` (replaced, deleted, cancelled, purged files).

The transaction that forgets a file queues its key and, once committed, wakes this process's
worker (no NOTIFY in the commit; the other replicas' workers poll); the worker removes the object
and retries on failure, so a storage outage delays an erasure but never loses it. Rows are claimed with
SKIP LOCKED: any number of replicas may run it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ecandidat.runtime.aio import wait_event
from ecandidat.runtime.db import woken_by

from . import store

if TYPE_CHECKING:
    from .service import DocumentsService

log = logging.getLogger(__name__)


class Eraser:
    def __init__(self, svc: DocumentsService, *, poll_interval: float = 5.0, batch: int = 50) -> None:
        self.svc = svc
        self.poll_interval = poll_interval
        self.batch = batch
        self.erased = 0
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        svc = self.svc
        with woken_by(svc.name, store.DELETIONS_CHANNEL, self.wake):
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
        async with self.svc.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """SELECT file_key FROM object_deletions ORDER BY attempts, requested_at
                   LIMIT $1 FOR UPDATE SKIP LOCKED""",
                self.batch,
            )
            for row in rows:
                key = row["file_key"]
                try:
                    await self.svc.storage.delete(key)
                except Exception as exc:
                    await conn.execute(
                        "UPDATE object_deletions SET attempts = attempts + 1, last_error = $2 WHERE file_key = $1",
                        key,
                        repr(exc)[:500],
                    )
                    log.warning("object not deleted yet", extra={"key": key, "error": repr(exc)})
                    continue
                await conn.execute("DELETE FROM object_deletions WHERE file_key = $1", key)
                done += 1
        self.erased += done
        return done
