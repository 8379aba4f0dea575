"""The candidatures service: the offer, applications, cancellation, transmission."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from ecandidat.runtime.clock import Clock
from ecandidat.runtime.rpc import RpcClient
from ecandidat.runtime.service import Service

from . import consumers, jobs, rpc
from .context import Deps
from .settings import CandidaturesSettings

MIGRATIONS = Path(__file__).with_name("migrations")


class CandidaturesService(Service):
    settings: CandidaturesSettings

    def __init__(self, settings: CandidaturesSettings | None = None, *, clock: Clock | None = None) -> None:
        super().__init__("candidatures", settings or CandidaturesSettings(), migrations=MIGRATIONS, clock=clock)
        self.deps: Deps

    async def setup(self) -> None:
        s = self.settings
        self.deps = Deps(self.pool, self.clock, RpcClient(self.nc, timeout=s.rpc_timeout), s)
        rpc.register(self.rpc, self.deps)
        self.subscribe("accounts", consumers.accounts(self.deps))
        self.subscribe("on-piece-events", consumers.pieces(self.deps))
        every = timedelta(seconds=s.candidatures_jobs_interval)
        self.add_job(jobs.REMINDERS_JOB, every, jobs.reminders(self.deps))
        self.add_job(jobs.EXPIRED_ANSWERS_JOB, every, jobs.expired_answers(self.deps))
        self.add_job(jobs.DESTRUCTION_JOB, every, jobs.destroy_archived(self.deps))
        self.destruction_job = self.jobs[-1]


SETTINGS = CandidaturesSettings


def create(settings: CandidaturesSettings | None = None, clock: Clock | None = None) -> CandidaturesService:
    return CandidaturesService(settings, clock=clock)
