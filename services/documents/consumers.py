"""JetStream subscriptions: candidatures' events open, freeze and erase piece slots; validated
decisions get their letter; accounts' purge erases all of a candidate's files."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from ecandidat.contracts.accounts import AccountPurged
from ecandidat.contracts.candidatures import (
    CandidatureCancelled,
    CandidatureCreated,
    CandidatureDeadlineChanged,
    CandidatureStatusChanged,
    CandidatureTransmitted,
)
from ecandidat.contracts.envelope import CloudEvent
from ecandidat.runtime.consumer import Subscription

from . import handlers, letters
from .context import Deps


def subscriptions(deps: Deps) -> dict[str, list[Subscription]]:
    """Each purpose's subscriptions; every handler is `handler(deps, conn, event)`."""

    def on(model: type, handler: Callable[[Deps, asyncpg.Connection, Any], Awaitable[None]]) -> Subscription:
        async def handle(conn: asyncpg.Connection, event: Any, meta: CloudEvent) -> None:
            await handler(deps, conn, event)

        return Subscription(model, handle)

    return {
        "on-candidatures": [
            on(CandidatureCreated, handlers.candidature_created),
            on(CandidatureTransmitted, handlers.candidature_transmitted),
            on(CandidatureStatusChanged, handlers.candidature_status_changed),
            on(CandidatureDeadlineChanged, handlers.candidature_deadline_changed),
            on(CandidatureCancelled, handlers.candidature_cancelled),
        ],
        "letters": [letters.on_decision(deps)],
        "on-accounts": [on(AccountPurged, handlers.account_purged)],
    }
