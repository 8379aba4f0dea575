"""Rpc endpoints of the mailer."""

from __future__ import annotations

from ecandidat.contracts.mailer import (
    Deliveries,
    Delivery,
    ListDeliveries,
    SendMailCheck,
    MailCheckQueued,
    MailCheckRequested,
)
from ecandidat.runtime.outbox import add_event
from ecandidat.runtime.rpc import RpcContext, RpcServer

from . import store


def register(server: RpcServer, service) -> None:
    @server.route(SendMailCheck)
    async def send_mail_check(req: SendMailCheck, ctx: RpcContext) -> MailCheckQueued:
        async with service.pool.acquire() as conn:
            event_id = await request_mail_check(conn, req.to, req.requested_by, service.clock)
        return MailCheckQueued(event_id=event_id)

    @server.route(ListDeliveries)
    async def list_deliveries(req: ListDeliveries, ctx: RpcContext) -> Deliveries:
        async with service.pool.acquire() as conn:
            rows = await store.list_deliveries(conn, status=req.status, recipient=req.recipient, limit=req.limit)
        return Deliveries(items=[Delivery.model_validate(dict(r)) for r in rows])


async def request_mail_check(conn, to: str, requested_by: str, clock) -> object:
    """Commit a `mail_check.requested` event through the outbox (used by the rpc and the CLI)."""
    async with conn.transaction():
        return await add_event(conn, MailCheckRequested(to=to, requested_by=requested_by), clock=clock)
