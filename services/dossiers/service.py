"""The dossiers service: the candidate's dossier, section by section, and the student-records registry."""

from __future__ import annotations

from pathlib import Path

from ecandidat.runtime.clock import Clock
from ecandidat.runtime.service import Service

from . import handlers, referentiels, rpc
from .consumers import subscriptions
from .context import Deps
from .settings import DossiersSettings

MIGRATIONS = Path(__file__).with_name("migrations")


class DossiersService(Service):
    settings: DossiersSettings

    def __init__(self, settings: DossiersSettings | None = None, *, clock: Clock | None = None) -> None:
        super().__init__("dossiers", settings or DossiersSettings(), migrations=MIGRATIONS, clock=clock)
        self.referentiels = referentiels.load()
        self.deps: Deps

    async def setup(self) -> None:
        refs = self.referentiels
        self.deps = Deps(self.pool, self.clock, self.settings, refs, handlers.reference_lists(refs))
        self.deps.changes.bind(self.nc)
        for purpose, subs in subscriptions(self.deps).items():
            self.subscribe(purpose, subs)
        rpc.register(self.rpc, self.deps)


SETTINGS = DossiersSettings


def create(settings: DossiersSettings | None = None, clock: Clock | None = None) -> DossiersService:
    return DossiersService(settings, clock=clock)
