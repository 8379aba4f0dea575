"""JetStream subscriptions: candidatures' events open, freeze and erase piece slots (a destroyed
candidature's files and letters too); validated decisions get their letter; accounts' purge erases
all of a candidate's files."""

from __future__ import annotations

from ecandidat.contracts.accounts import AccountPurged
from ecandidat.contracts.candidatures import (
    CandidatureCancelled,
    CandidatureCreated,
    CandidatureDeadlineChanged,
    CandidatureErased,
    CandidatureStatusChanged,
    CandidatureTransmitted,
)
from ecandidat.runtime.consumer import Subscription, subscription

from . import handlers, letters
from .context import Deps


def subscriptions(deps: Deps) -> dict[str, list[Subscription]]:
    """Each purpose's subscriptions; every handler is `handler(deps, conn, event, meta)`."""
    return {
        "on-candidatures": [
            subscription(CandidatureCreated, handlers.candidature_created, deps),
            subscription(CandidatureTransmitted, handlers.candidature_transmitted, deps),
            subscription(
                CandidatureStatusChanged,
                handlers.candidature_status_changed,
                deps,
                batch=handlers.candidature_statuses_changed,
                idempotent=True,  # the projection keeps the revision it holds
            ),
            subscription(CandidatureDeadlineChanged, handlers.candidature_deadline_changed, deps, idempotent=True),
            subscription(CandidatureCancelled, handlers.candidature_cancelled, deps),
            subscription(CandidatureErased, handlers.candidature_erased, deps),
        ],
        "letters": [letters.on_decision(deps)],
        "on-accounts": [subscription(AccountPurged, handlers.account_purged, deps)],
    }
