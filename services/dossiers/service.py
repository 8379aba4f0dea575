"""The dossiers service: the candidate's dossier, section by section, and the student-records registry."""

from __future__ import annotations

from pathlib import Path

from ecandidat.runtime.clock import Clock
from ecandidat.runtime.service import Service

from . import referentiels, rpc
from .consumers import account_subscriptions, candidature_subscriptions
from .settings import DossiersSettings

MIGRATIONS = Path(__file__).with_name("migrations")


class DossiersService(Service):
    settings: DossiersSettings

    def __init__(self, settings: DossiersSettings | None = None, *, clock: Clock | None = None) -> None:
        super().__init__("dossiers", settings or DossiersSettings(), migrations=MIGRATIONS, clock=clock)
        self.referentiels = referentiels.load()

    async def setup(self) -> None:
        # One consumer per producer stream: accounts (import at creation, erasure), candidatures (lock).
        self.subscribe("accounts", account_subscriptions(self.clock))
        self.subscribe("candidatures", candidature_subscriptions(self.clock))
        rpc.register(self.rpc, self)


SETTINGS = DossiersSettings


def create(settings: DossiersSettings | None = None, clock: Clock | None = None) -> DossiersService:
    return DossiersService(settings, clock=clock)
