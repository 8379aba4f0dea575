"""JetStream subscriptions: candidatures' events open, freeze and erase piece slots; accounts' purge
erases all of a candidate's files."""

from __future__ import annotations

from ecandidat.contracts.accounts import AccountPurged
from ecandidat.contracts.candidatures import CandidatureCancelled, CandidatureCreated, CandidatureTransmitted
from ecandidat.runtime.clock import Clock
from ecandidat.runtime.consumer import Subscription

from .handlers import on_events


def subscriptions(clock: Clock) -> dict[str, list[Subscription]]:
    created, transmitted, cancelled, purged = on_events(clock)
    return {
        "on-candidatures": [
            Subscription(CandidatureCreated, created),
            Subscription(CandidatureTransmitted, transmitted),
            Subscription(CandidatureCancelled, cancelled),
        ],
        "on-accounts": [Subscription(AccountPurged, purged)],
    }
