"""The candidatures service: the offer, applications, cancellation, transmission."""

from __future__ import annotations

from pathlib import Path

from ecandidat.runtime.clock import Clock
from ecandidat.runtime.rpc import RpcClient
from ecandidat.runtime.service import Service

from . import consumers, rpc
from .settings import CandidaturesSettings

MIGRATIONS = Path(__file__).with_name("migrations")


class CandidaturesService(Service):
    settings: CandidaturesSettings

    def __init__(self, settings: CandidaturesSettings | None = None, *, clock: Clock | None = None) -> None:
        super().__init__("candidatures", settings or CandidaturesSettings(), migrations=MIGRATIONS, clock=clock)

    async def setup(self) -> None:
        self.rpc_client = RpcClient(self.nc, timeout=self.settings.rpc_timeout)
        rpc.register(self.rpc, self)
        self.subscribe("erasure", consumers.erasure())


SETTINGS = CandidaturesSettings


def create(settings: CandidaturesSettings | None = None, clock: Clock | None = None) -> CandidaturesService:
    return CandidaturesService(settings, clock=clock)
