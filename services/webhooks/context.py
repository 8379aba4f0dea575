"""What the handlers depend on, gathered once per service instance (tests build their own)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg
from nats.aio.client import Client as NATS

from ecandidat.runtime.clock import Clock
from ecandidat.runtime.sealing import Sealer

from .delivery import Dispatcher
from .settings import WebhooksSettings


@dataclass
class Deps:
    pool: asyncpg.Pool
    nc: NATS
    clock: Clock
    settings: WebhooksSettings
    sealer: Sealer
    dispatcher: Dispatcher

    def now(self) -> datetime:
        return self.clock.now()
