"""The mailer's rpc handlers: a test mail, and the delivery log."""

from __future__ import annotations

import uuid

import asyncpg

from ecandidat.contracts.mailer import (
    Deliveries,
    Delivery,
    ListDeliveries,
    MailCheckQueued,
    MailCheckRequested,
    SendMailCheck,
)
from ecandidat.runtime.clock import Clock
from ecandidat.runtime.outbox import add_event

from . import store
from .context import Deps


async def send_mail_check(deps: Deps, req: SendMailCheck) -> MailCheckQueued:
    async with deps.pool.acquire() as conn:
        event_id = await request_mail_check(conn, req.to, req.requested_by, deps.clock)
    return MailCheckQueued(event_id=event_id)


async def list_deliveries(deps: Deps, req: ListDeliveries) -> Deliveries:
    async with deps.pool.acquire() as conn:
        rows = await store.list_deliveries(conn, status=req.status, recipient=req.recipient, limit=req.limit)
    return Deliveries(items=[Delivery.model_validate(dict(r)) for r in rows])


async def request_mail_check(conn: asyncpg.Connection, to: str, requested_by: str, clock: Clock) -> uuid.UUID:
    """Commit a `mail_check.requested` event through the outbox (used by the rpc and the CLI)."""
    async with conn.transaction():
        return await add_event(conn, MailCheckRequested(to=to, requested_by=requested_by), clock=clock)
