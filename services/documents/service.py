"""The documents service: piece slots, files in object storage, templates, the candidature PDF."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from ecandidat.runtime.clock import Clock
from ecandidat.runtime.rpc import RpcClient
from ecandidat.runtime.service import Service, cached

from . import jobs, rpc
from .clamd import Clamd
from .consumers import subscriptions
from .context import Deps
from .erasure import Eraser
from .settings import DocumentsSettings
from .storage import Storage
from .views import Endpoint

MIGRATIONS = Path(__file__).with_name("migrations")


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
        self.deps: Deps

    async def setup(self) -> None:
        s = self.settings
        await self.storage.ensure_bucket()
        inspector = ThreadPoolExecutor(max_workers=s.documents_inspect_threads, thread_name_prefix="documents-inspect")
        rpc_client = RpcClient(self.nc, timeout=s.rpc_timeout)
        self.deps = Deps(self.pool, self.clock, s, self.storage, rpc_client, self.clamd, inspector)
        for purpose, subs in subscriptions(self.deps).items():
            self.subscribe(purpose, subs)
        rpc.register(self.rpc, self.deps)
        self.checks["storage"] = cached(self.storage.check)
        if self.clamd is not None:
            self.checks["clamd"] = cached(self.clamd.ping)
        self.add_job(jobs.TICKETS_PURGE_JOB, timedelta(hours=1), jobs.purge_tickets(self.deps))
        self.endpoint = Endpoint(self.deps)
        self.deps.endpoint_url = await self.endpoint.start()
        self.on_cleanup(self._close)
        self.eraser = Eraser(self.deps, self.name)
        self.spawn(self.eraser.run, "documents-eraser")

    async def _close(self) -> None:
        await self.endpoint.stop()
        self.deps.inspector.shutdown(wait=False, cancel_futures=True)
        await self.storage.close()


SETTINGS = DocumentsSettings


def create(settings: DocumentsSettings | None = None, clock: Clock | None = None) -> DocumentsService:
    return DocumentsService(settings, clock=clock)
