"""What the handlers depend on, gathered once per service instance (tests build their own)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg

from ecandidat.runtime.clock import Clock
from ecandidat.runtime.sealing import Sealer

from .domain import SessionTimes
from .passwords import Passwords
from .settings import AccountsSettings

log = logging.getLogger(__name__)

BACKGROUND_LIMIT = 256


@dataclass
class Deps:
    pool: asyncpg.Pool
    clock: Clock
    settings: AccountsSettings
    passwords: Passwords
    sealer: Sealer
    common_passwords: frozenset[str]
    background: set[asyncio.Task] = field(default_factory=set)

    async def after_answer(self, work: Coroutine[None, None, None]) -> None:
        """Run `work` once the caller has its answer, so that the answer's timing cannot tell what
        `work` found. Past BACKGROUND_LIMIT pending works, run it before answering (backpressure)."""
        if len(self.background) >= BACKGROUND_LIMIT:
            await _logged(work)
            return
        task = asyncio.create_task(_logged(work))
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def drain(self) -> None:
        if self.background:
            await asyncio.wait(list(self.background), timeout=10)

    def now(self) -> datetime:
        return self.clock.now()

    def hours(self, hours: float) -> datetime:
        return self.clock.now() + timedelta(hours=hours)

    @property
    def session_times(self) -> SessionTimes:
        return SessionTimes(idle=self.settings.accounts_session_idle, lifetime=self.settings.accounts_session_lifetime)


async def _logged(work: Coroutine[None, None, None]) -> None:
    try:
        await work
    except Exception:
        log.exception("background work failed")


def email_key(email: str) -> bytes:
    return hashlib.sha256(b"email:" + email.strip().lower().encode()).digest()
