"""What the handlers, consumers, jobs and views depend on, gathered once per service instance."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from ecandidat.runtime.clock import Clock
from ecandidat.runtime.rpc import RpcClient

from .clamd import Clamd
from .settings import DocumentsSettings
from .storage import Storage


@dataclass
class Deps:
    pool: asyncpg.Pool
    clock: Clock
    settings: DocumentsSettings
    storage: Storage
    rpc: RpcClient  # to candidatures and dossiers (read-your-writes, the candidature PDF)
    clamd: Clamd | None  # every file is scanned when one is configured
    inspector: ThreadPoolExecutor  # the CPU-bound work: checking a file, rendering a PDF
    endpoint_url: str = ""  # the internal HTTP endpoint's base URL (`views.py`), once it listens

    def now(self) -> datetime:
        return self.clock.now()

    def ticket_url(self, what: str, token: str) -> str:
        """Where the gateway takes a ticket: `uploads` or `downloads`."""
        return f"{self.endpoint_url}/internal/{what}/{token}"
