"""The accounts' session signals: what the database announces at commit, relayed to the gateways.

Every change that ends a session or changes what it resolves to (logout, a new login replacing a
session, a password or email change, a staff account disabled or given other roles, the
housekeeping of expired sessions, an account purged) is announced by the database itself at
commit (triggers of migration 0004, channel `accounts_sessions_revoked`), whatever code path made
it; so is a change of what a candidate's account view shows, which the gateways keep beside the
session (migration 0005: names, INE, a new pending change of address). Each replica listens and publishes each announcement on `sig.accounts.sessions_revoked`; the
gateways drop the sessions they cached for those accounts. After the listening connection is
(re)opened, announcements may have been missed: `*` (every account) is published.
"""

from __future__ import annotations

import asyncio
import logging

import nats.errors
from nats.aio.client import Client as NATS

from ecandidat.contracts.subjects import SESSIONS_REVOKED
from ecandidat.runtime.listener import Listener
from ecandidat.runtime.signals import EVERY_ACCOUNT

log = logging.getLogger(__name__)

CHANNEL = "accounts_sessions_revoked"


class SessionSignals:
    def __init__(self, nc: NATS, dsn: str, schema: str) -> None:
        self.nc = nc
        self.dsn = dsn
        self.schema = schema
        self.published = 0
        self._pending: asyncio.Queue[str] = asyncio.Queue()

    def _announced(self, payload: str | None) -> None:
        self._pending.put_nowait(payload or EVERY_ACCOUNT)

    async def run(self) -> None:
        async with Listener(self.dsn, self.schema, CHANNEL, on_payload=self._announced):
            while True:
                payload = await self._pending.get()
                try:
                    await self.nc.publish(SESSIONS_REVOKED, payload.encode())
                    self.published += 1
                except nats.errors.Error as exc:
                    # The gateways lost the bus too: they drop their whole cache when they reconnect.
                    log.warning("session signal not published", extra={"error": repr(exc)})
