"""What the handlers, consumers and jobs depend on, gathered once per service instance (tests build their own)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from ecandidat.runtime.clock import Clock
from ecandidat.runtime.rpc import RpcClient

from .settings import CandidaturesSettings


@dataclass
class Deps:
    pool: asyncpg.Pool
    clock: Clock
    rpc: RpcClient  # to the documents and dossiers services
    settings: CandidaturesSettings

    def now(self) -> datetime:
        return self.clock.now()
