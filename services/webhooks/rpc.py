"""Rpc endpoints of the webhooks service (called by the gateway's staff admin routes)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import nats.js.errors

from ecandidat.contracts.base import Empty

from ecandidat.contracts.errors import ErrorDetail, InvalidInput, NotFound
from ecandidat.contracts.webhooks import (
    DeleteEndpoint,
    Endpoint,
    Endpoints,
    ListEndpoints,
    ListWebhookDeliveries,
    NewEndpoint,
    NewSecret,
    RegisteredEndpoint,
    ReplayQueued,
    ReplayRange,
    RotateSecret,
    SetEndpointStatus,
    WebhookDeliveries,
    WebhookDelivery,
)
from ecandidat.runtime.rpc import RpcContext, RpcServer

from . import store
from .delivery import CATALOGUE, lanes, new_secret
from .guard import check_url

UNKNOWN = NotFound("Ce point de réception n'existe pas.")


def register(server: RpcServer, service) -> None:
    s = service.settings

    @server.route(NewEndpoint)
    async def register_endpoint(req: NewEndpoint, ctx: RpcContext) -> RegisteredEndpoint:
        unknown = [t for t in req.event_types if t not in CATALOGUE]
        if unknown:
            message = f"Type d'événement inconnu : {', '.join(unknown)}."
            raise InvalidInput(message, details=[ErrorDetail(field="event_types", message=message, code="enum")])
        await check_url(req.url, allow_private=s.webhook_allow_private)
        secret = new_secret()
        async with service.pool.acquire() as conn:
            row = await store.add_endpoint(
                conn,
                id=uuid.uuid4(),
                url=req.url,
                event_types=req.event_types,
                centre_code=req.centre_code,
                formation_code=req.formation_code,
                description=req.description,
                secret=service.sealer.seal(secret),
                created_by=req.created_by,
                now=service.clock.now(),
                deliver_from=datetime.now(timezone.utc),
            )
        service.dispatcher.wake()
        return RegisteredEndpoint(endpoint=Endpoint.model_validate(dict(row)), secret=secret)

    @server.route(ListEndpoints)
    async def list_endpoints(req: ListEndpoints, ctx: RpcContext) -> Endpoints:
        async with service.pool.acquire() as conn:
            rows = await store.endpoints(conn)
        return Endpoints(items=[Endpoint.model_validate(dict(r)) for r in rows])

    @server.route(RotateSecret)
    async def rotate_secret(req: RotateSecret, ctx: RpcContext) -> NewSecret:
        secret = new_secret()
        until = service.clock.now() + timedelta(seconds=s.webhook_secret_overlap)
        async with service.pool.acquire() as conn:
            if not await store.rotate_secret(conn, req.endpoint_id, service.sealer.seal(secret), until):
                raise UNKNOWN
        return NewSecret(secret=secret, previous_valid_until=until)

    @server.route(SetEndpointStatus)
    async def set_endpoint_status(req: SetEndpointStatus, ctx: RpcContext) -> Endpoint:
        async with service.pool.acquire() as conn:
            row = await store.set_status(conn, req.endpoint_id, req.status)
        if row is None:
            raise UNKNOWN
        service.dispatcher.wake()
        return Endpoint.model_validate(dict(row))

    @server.route(DeleteEndpoint)
    async def delete_endpoint(req: DeleteEndpoint, ctx: RpcContext) -> Empty:
        async with service.pool.acquire() as conn:
            endpoint = await store.endpoint(conn, req.endpoint_id)
            if endpoint is None or not await store.delete_endpoint(conn, req.endpoint_id):
                raise UNKNOWN
        service.dispatcher.wake()  # its loops stop; its consumers go
        js = service.nc.jetstream()
        for lane in lanes(endpoint):
            try:
                await js.delete_consumer(lane.stream, lane.durable)
            except nats.js.errors.NotFoundError:
                pass
        return Empty()

    @server.route(ListWebhookDeliveries)
    async def list_deliveries(req: ListWebhookDeliveries, ctx: RpcContext) -> WebhookDeliveries:
        async with service.pool.acquire() as conn:
            if await store.endpoint(conn, req.endpoint_id) is None:
                raise UNKNOWN
            rows = await store.deliveries(conn, req.endpoint_id, req.limit)
        return WebhookDeliveries(items=[WebhookDelivery.model_validate(dict(r)) for r in rows])

    @server.route(ReplayRange)
    async def replay(req: ReplayRange, ctx: RpcContext) -> ReplayQueued:
        if req.since.tzinfo is None or req.until.tzinfo is None or req.since >= req.until:
            message = "La période doit avoir un début avant sa fin, avec leur fuseau horaire."
            raise InvalidInput(message, details=[ErrorDetail(field="until", message=message, code="range")])
        replay_id = uuid.uuid4()
        async with service.pool.acquire() as conn:
            endpoint = await store.endpoint(conn, req.endpoint_id)
            if endpoint is None:
                raise UNKNOWN
            await store.add_replay(
                conn,
                id=replay_id,
                endpoint_id=endpoint["id"],
                since=req.since,
                until=req.until,
                streams=[lane.stream for lane in lanes(endpoint)],
                now=service.clock.now(),
            )
        service.dispatcher.wake()
        return ReplayQueued(replay_id=replay_id)
