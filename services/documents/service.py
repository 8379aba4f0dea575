"""The documents service: piece slots, files in object storage, templates, the candidature PDF."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import asyncpg

from ecandidat.runtime.clock import Clock
from ecandidat.runtime.rpc import RpcClient
from ecandidat.runtime.service import Service, cached

from . import rpc, store
from .clamd import Clamd
from .consumers import subscriptions
from .endpoint import Endpoint
from .erasure import Eraser
from .settings import DocumentsSettings
from .storage import Storage

MIGRATIONS = Path(__file__).with_name("migrations")

log = logging.getLogger(__name__)


class DocumentsService(Service):
    settings: DocumentsSettings

    def __init__(self, settings: DocumentsSettings | None = None, *, clock: Clock | None = None) -> None:
        super().__init__("documents", settings or DocumentsSettings(), migrations=MIGRATIONS, clock=clock)
        s = self.settings
        self.storage = Storage(s)
        self.clamd = (
            Clamd(host=s.clamd_host, port=s.clamd_port, socket=s.clamd_socket, timeout=s.clamd_timeout)
            if s.clamd_socket or (s.clamd_host and s.clamd_port)
            else None
        )
        self.endpoint = Endpoint(self)
        self.http = self.endpoint
        self.eraser = Eraser(self)
        self.rpc_client: RpcClient

    async def setup(self) -> None:
        await self.storage.ensure_bucket()
        self.rpc_client = RpcClient(self.nc, timeout=self.settings.rpc_timeout)
        for purpose, subs in subscriptions(self).items():
            self.subscribe(purpose, subs)
        rpc.register(self.rpc, self)
        self.checks["storage"] = cached(self.storage.check)
        if self.clamd is not None:
            self.checks["clamd"] = cached(self.clamd.ping)
        self.add_job("documents-tickets-purge", timedelta(hours=1), _purge_tickets)
        await self.endpoint.start()
        self.on_cleanup(self._close)
        self.spawn(self.eraser.run, "documents-eraser")

    async def _close(self) -> None:
        await self.endpoint.stop()
        await self.storage.close()

    async def forget_object(self, key: str, reason: str) -> None:
        """Remove an object no row refers to; queue it for the eraser when storage refuses."""
        try:
            await self.storage.delete(key)
        except Exception as exc:
            log.warning("object removal queued", extra={"key": key, "error": repr(exc)})
            async with self.pool.acquire() as conn, conn.transaction():
                await store.queue_deletions(conn, [key], reason, self.clock.now())


async def _purge_tickets(conn: asyncpg.Connection, now) -> int:
    return await store.purge_tickets(conn, now)


SETTINGS = DocumentsSettings


def create(settings: DocumentsSettings | None = None, clock: Clock | None = None) -> DocumentsService:
    return DocumentsService(settings, clock=clock)
