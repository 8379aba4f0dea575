"""JetStream subscriptions: candidatures' events open, freeze and erase piece slots; validated
decisions get their letter; accounts' purge erases all of a candidate's files."""

from __future__ import annotations

from ecandidat.contracts.accounts import AccountPurged
from typing import TYPE_CHECKING

from ecandidat.contracts.candidatures import (
    CandidatureCancelled,
    CandidatureCreated,
    CandidatureDeadlineChanged,
    CandidatureStatusChanged,
    CandidatureTransmitted,
)
from ecandidat.runtime.consumer import Subscription

from .handlers import on_events
from .letters import on_decision

if TYPE_CHECKING:
    from .service import DocumentsService


def subscriptions(svc: DocumentsService) -> dict[str, list[Subscription]]:
    created, transmitted, status_changed, deadline_changed, cancelled, purged = on_events(svc.clock)
    return {
        "on-candidatures": [
            Subscription(CandidatureCreated, created),
            Subscription(CandidatureTransmitted, transmitted),
            Subscription(CandidatureStatusChanged, status_changed),
            Subscription(CandidatureDeadlineChanged, deadline_changed),
            Subscription(CandidatureCancelled, cancelled),
        ],
        "letters": [on_decision(svc)],
        "on-accounts": [Subscription(AccountPurged, purged)],
    }
