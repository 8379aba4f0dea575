"""What the handlers and consumers depend on, gathered once per service instance."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from ecandidat.contracts import dossiers as c
from ecandidat.contracts.subjects import DOSSIERS_CHANGED
from ecandidat.runtime.clock import Clock
from ecandidat.runtime.signals import AccountsChanged

from .referentiels import Referentiels
from .settings import DossiersSettings


@dataclass
class Deps:
    pool: asyncpg.Pool
    clock: Clock
    settings: DossiersSettings
    refs: Referentiels  # countries, départements, communes: loaded once per process
    listes: c.Referentiels  # the lists `rpc.dossiers.referentiels` answers, made once from `refs`
    # A candidate's own dossier view as last answered, by account: (the dossier's state, the JSON).
    views: dict[uuid.UUID, tuple[Any, bytes]] = field(default_factory=dict)
    # The gateways keep that view too: every transaction that changes what it shows (a section, the
    # lock, an imported INE, an erasure) names the account here, announced after its commit.
    changes: AccountsChanged = field(default_factory=lambda: AccountsChanged(DOSSIERS_CHANGED))

    def now(self) -> datetime:
        return self.clock.now()
