"""What the handlers and consumers depend on, gathered once per service instance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from ecandidat.contracts import dossiers as c
from ecandidat.runtime.clock import Clock

from .referentiels import Referentiels
from .settings import DossiersSettings


@dataclass
class Deps:
    pool: asyncpg.Pool
    clock: Clock
    settings: DossiersSettings
    refs: Referentiels  # countries, départements, communes: loaded once per process
    listes: c.Referentiels  # the lists `rpc.dossiers.referentiels` answers, made once from `refs`

    def now(self) -> datetime:
        return self.clock.now()
