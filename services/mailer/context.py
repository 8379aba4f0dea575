"""What the mailer's handlers, consumers and sender depend on, gathered once per service instance
(tests build their own)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from ecandidat.runtime.clock import Clock

from .catalogue import MailContext
from .render import Renderer
from .settings import MailerSettings


@dataclass
class Deps:
    pool: asyncpg.Pool
    clock: Clock
    settings: MailerSettings
    renderer: Renderer
    mail: MailContext  # what composers may use besides the event

    def now(self) -> datetime:
        return self.clock.now()
