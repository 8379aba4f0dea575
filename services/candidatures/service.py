"""The candidatures service: the offer, applications, cancellation, transmission."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from ecandidat.runtime.clock import Clock
from ecandidat.runtime.rpc import RpcClient
from ecandidat.runtime.service import Service

from . import admission, consumers, rpc
from .settings import CandidaturesSettings

MIGRATIONS = Path(__file__).with_name("migrations")


class CandidaturesService(Service):
    settings: CandidaturesSettings

    def __init__(self, settings: CandidaturesSettings | None = None, *, clock: Clock | None = None) -> None:
        super().__init__("candidatures", settings or CandidaturesSettings(), migrations=MIGRATIONS, clock=clock)

    async def setup(self) -> None:
        self.rpc_client = RpcClient(self.nc, timeout=self.settings.rpc_timeout)
        rpc.register(self.rpc, self)
        self.subscribe("accounts", consumers.accounts())
        self.subscribe("on-piece-events", consumers.pieces(self.clock))
        every = timedelta(seconds=self.settings.candidatures_jobs_interval)
        self.add_job("confirmation-reminders", every, admission.reminders_job(self.settings.confirmation_reminder_days))
        self.add_job("expired-answers", every, admission.expired_answers_job)


SETTINGS = CandidaturesSettings


def create(settings: CandidaturesSettings | None = None, clock: Clock | None = None) -> CandidaturesService:
    return CandidaturesService(settings, clock=clock)
