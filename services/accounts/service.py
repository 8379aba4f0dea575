"""The accounts service: candidate and staff accounts, sessions, login throttling, activation purge.

Login throttling slows an attacker, never the account's owner: each client (a known device, else
an address) has its own budget on each account, and only unknown clients share the account's and
the address's budgets (`throttle.py`). Lost-link requests are committed before they are answered
and handled by the service's own consumer of them (`lost_links.py`).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from ecandidat.runtime.clock import Clock
from ecandidat.runtime.sealing import Sealer, require_production_key
from ecandidat.runtime.service import Service

from . import consumers, ent, jobs, rpc
from .signals import SessionSignals
from .context import Deps
from .domain import load_common_passwords
from .passwords import Passwords
from .settings import AccountsSettings

MIGRATIONS = Path(__file__).with_name("migrations")

log = logging.getLogger(__name__)


class AccountsService(Service):
    settings: AccountsSettings

    def __init__(self, settings: AccountsSettings | None = None, *, clock: Clock | None = None) -> None:
        super().__init__("accounts", settings or AccountsSettings(), migrations=MIGRATIONS, clock=clock)
        self.deps: Deps

    async def setup(self) -> None:
        s = self.settings
        sealer = Sealer(s.link_sealing_key)
        require_production_key(sealer, s)
        if sealer.uses_dev_key:
            log.warning("LINK_SEALING_KEY is the development key: set a secret one outside development")
        passwords = Passwords(
            workers=s.accounts_hash_workers,
            memory_kib=s.accounts_hash_memory_kib,
            time_cost=s.accounts_hash_time,
            parallelism=s.accounts_hash_parallelism,
            niceness=s.accounts_hash_niceness,
        )
        self.on_cleanup(passwords.close)
        self.deps = Deps(self.pool, self.clock, s, passwords, sealer, load_common_passwords())
        if s.ent_enabled:
            self.deps.http = ent.http_session(self.deps)
            self.on_cleanup(self.deps.http.close)
        rpc.register(self.rpc, self.deps)
        for purpose, subs in consumers.subscriptions(self.deps).items():
            self.subscribe(purpose, subs)
        self.add_job(jobs.PURGE_JOB, timedelta(seconds=s.accounts_purge_interval), jobs.purge_unactivated(self.clock))
        self.purge_job = self.jobs[-1]
        self.add_job(jobs.HOUSEKEEPING_JOB, timedelta(hours=1), jobs.housekeeping(s))
        self.session_signals = SessionSignals(self.nc, s.database_url, self.name)
        self.spawn(self.session_signals.run, "accounts-session-signals")


SETTINGS = AccountsSettings


def create(settings: AccountsSettings | None = None, clock: Clock | None = None) -> AccountsService:
    return AccountsService(settings, clock=clock)
