"""JetStream consumers of the dossiers service: the lock, the staff scope (centre, commission and
statut du dossier of each candidature) and erasure. One consumer per producer's stream."""

from __future__ import annotations

from ecandidat.contracts.accounts import AccountCreated, AccountLinkedToEnt, AccountPurged
from ecandidat.contracts.candidatures import (
    CandidatureCreated,
    CandidatureErased,
    CandidatureStatusChanged,
    CandidatureTransmitted,
)
from ecandidat.runtime.consumer import Subscription, subscription

from . import handlers
from .context import Deps


def subscriptions(deps: Deps) -> dict[str, list[Subscription]]:
    """Each purpose's subscriptions; every handler is `handler(deps, conn, event, meta)`."""
    return {
        "accounts": [
            subscription(AccountCreated, handlers.account_created, deps),
            subscription(AccountPurged, handlers.account_purged, deps),
            subscription(AccountLinkedToEnt, handlers.account_linked_to_ent, deps),
        ],
        "candidatures": [
            subscription(CandidatureCreated, handlers.candidature_created, deps),
            subscription(CandidatureTransmitted, handlers.candidature_transmitted, deps),
            subscription(
                CandidatureStatusChanged,
                handlers.candidature_status_changed,
                deps,
                batch=handlers.candidature_statuses_changed,
                idempotent=True,  # the projection keeps the revision it holds
            ),
            subscription(CandidatureErased, handlers.candidature_erased, deps),
        ],
    }
