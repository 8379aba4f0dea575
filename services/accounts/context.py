"""What the handlers depend on, gathered once per service instance (tests build their own)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp
import asyncpg

from ecandidat.runtime.clock import Clock
from ecandidat.runtime.sealing import Sealer

from .domain import SessionTimes
from .passwords import Passwords
from .settings import AccountsSettings


@dataclass
class Deps:
    pool: asyncpg.Pool
    clock: Clock
    settings: AccountsSettings
    passwords: Passwords
    sealer: Sealer
    common_passwords: frozenset[str]
    http: aiohttp.ClientSession | None = None  # to the CAS server (ENT), when ENT login is on

    def now(self) -> datetime:
        return self.clock.now()

    def hours(self, hours: float) -> datetime:
        return self.clock.now() + timedelta(hours=hours)

    @property
    def session_times(self) -> SessionTimes:
        return SessionTimes(idle=self.settings.accounts_session_idle, lifetime=self.settings.accounts_session_lifetime)
