"""JetStream consumers of the dossiers service: the lock, the staff scope (centre, commission and
statut du dossier of each candidature) and erasure."""

from __future__ import annotations

import asyncpg

from ecandidat.contracts.accounts import AccountCreated, AccountLinkedToEnt, AccountPurged
from ecandidat.contracts.candidatures import CandidatureCreated, CandidatureStatusChanged, CandidatureTransmitted
from ecandidat.contracts.envelope import CloudEvent
from ecandidat.runtime.clock import Clock
from ecandidat.runtime.consumer import Subscription

from . import handlers, store


def account_subscriptions(clock: Clock) -> list[Subscription]:
    async def created(conn: asyncpg.Connection, event: AccountCreated, meta: CloudEvent) -> None:
        await handlers.on_account_created(conn, event, clock)

    async def purged(conn: asyncpg.Connection, event: AccountPurged, meta: CloudEvent) -> None:
        await handlers.on_account_purged(conn, event, clock)

    async def linked(conn: asyncpg.Connection, event: AccountLinkedToEnt, meta: CloudEvent) -> None:
        await handlers.on_account_linked_to_ent(conn, event, clock)

    return [
        Subscription(AccountCreated, created),
        Subscription(AccountPurged, purged),
        Subscription(AccountLinkedToEnt, linked),
    ]


def candidature_subscriptions(clock: Clock) -> list[Subscription]:
    async def created(conn: asyncpg.Connection, event: CandidatureCreated, meta: CloudEvent) -> None:
        await handlers.on_candidature_created(conn, event, clock)

    async def transmitted(conn: asyncpg.Connection, event: CandidatureTransmitted, meta: CloudEvent) -> None:
        await store.set_candidature_statut(conn, event.candidature_id, "receptionne", event.revision)

    async def status_changed(conn: asyncpg.Connection, event: CandidatureStatusChanged, meta: CloudEvent) -> None:
        await store.set_candidature_statut(conn, event.candidature_id, event.new_status, event.revision)

    return [
        Subscription(CandidatureCreated, created),
        Subscription(CandidatureTransmitted, transmitted),
        Subscription(CandidatureStatusChanged, status_changed),
    ]
