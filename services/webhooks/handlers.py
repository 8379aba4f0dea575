"""The administrators' requests on webhook endpoints: register, list, rotate the secret, pause and
resume, delete, read the delivery log, replay a time range. Each change wakes the dispatcher, which
starts or stops the endpoint's delivery loops (`delivery.py`)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import nats.js.errors

from ecandidat.contracts import webhooks as c
from ecandidat.contracts.base import Empty
from ecandidat.contracts.errors import ErrorDetail, InvalidInput, NotFound

from . import store
from .context import Deps
from .delivery import CATALOGUE, lanes, new_secret
from .guard import check_url

UNKNOWN = NotFound("Ce point de réception n'existe pas.")


async def register_endpoint(deps: Deps, req: c.NewEndpoint) -> c.RegisteredEndpoint:
    unknown = [t for t in req.event_types if t not in CATALOGUE]
    if unknown:
        message = f"Type d'événement inconnu : {', '.join(unknown)}."
        raise InvalidInput(message, details=[ErrorDetail(field="event_types", message=message, code="enum")])
    await check_url(req.url, allow_private=deps.settings.webhook_allow_private)
    secret = new_secret()
    async with deps.pool.acquire() as conn:
        row = await store.add_endpoint(
            conn,
            id=uuid.uuid4(),
            url=req.url,
            event_types=req.event_types,
            centre_code=req.centre_code,
            formation_code=req.formation_code,
            description=req.description,
            secret=deps.sealer.seal(secret),
            created_by=req.created_by,
            now=deps.now(),
            deliver_from=datetime.now(timezone.utc),
        )
    deps.dispatcher.wake()
    return c.RegisteredEndpoint(endpoint=c.Endpoint.model_validate(dict(row)), secret=secret)


async def list_endpoints(deps: Deps, req: c.ListEndpoints) -> c.Endpoints:
    async with deps.pool.acquire() as conn:
        rows = await store.endpoints(conn)
    return c.Endpoints(items=[c.Endpoint.model_validate(dict(r)) for r in rows])


async def rotate_secret(deps: Deps, req: c.RotateSecret) -> c.NewSecret:
    secret = new_secret()
    until = deps.now() + timedelta(seconds=deps.settings.webhook_secret_overlap)
    async with deps.pool.acquire() as conn:
        if not await store.rotate_secret(conn, req.endpoint_id, deps.sealer.seal(secret), until):
            raise UNKNOWN
    return c.NewSecret(secret=secret, previous_valid_until=until)


async def set_endpoint_status(deps: Deps, req: c.SetEndpointStatus) -> c.Endpoint:
    async with deps.pool.acquire() as conn:
        row = await store.set_status(conn, req.endpoint_id, req.status)
    if row is None:
        raise UNKNOWN
    deps.dispatcher.wake()
    return c.Endpoint.model_validate(dict(row))


async def delete_endpoint(deps: Deps, req: c.DeleteEndpoint) -> Empty:
    async with deps.pool.acquire() as conn:
        endpoint = await store.endpoint(conn, req.endpoint_id)
        if endpoint is None or not await store.delete_endpoint(conn, req.endpoint_id):
            raise UNKNOWN
    deps.dispatcher.wake()  # its loops stop; its consumers go
    js = deps.nc.jetstream()
    for lane in lanes(endpoint):
        try:
            await js.delete_consumer(lane.stream, lane.durable)
        except nats.js.errors.NotFoundError:
            pass
    return Empty()


async def list_deliveries(deps: Deps, req: c.ListWebhookDeliveries) -> c.WebhookDeliveries:
    async with deps.pool.acquire() as conn:
        if await store.endpoint(conn, req.endpoint_id) is None:
            raise UNKNOWN
        rows = await store.deliveries(conn, req.endpoint_id, req.limit)
    return c.WebhookDeliveries(items=[c.WebhookDelivery.model_validate(dict(r)) for r in rows])


async def replay(deps: Deps, req: c.ReplayRange) -> c.ReplayQueued:
    if req.since.tzinfo is None or req.until.tzinfo is None or req.since >= req.until:
        message = "La période doit avoir un début avant sa fin, avec leur fuseau horaire."
        raise InvalidInput(message, details=[ErrorDetail(field="until", message=message, code="range")])
    replay_id = uuid.uuid4()
    async with deps.pool.acquire() as conn:
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
            now=deps.now(),
        )
    deps.dispatcher.wake()
    return c.ReplayQueued(replay_id=replay_id)
