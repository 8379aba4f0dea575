"""Webhooks, for administrators: register an endpoint (its secret shown once), rotate the secret,
pause and resume, read the delivery log, replay a time range, delete it."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ecandidat.contracts.access import ADMINS
from ecandidat.contracts.base import Empty
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
)

from ..api import PRINCIPAL, Api, body_of, call, parse_body, parse_query, path_uuid, relay

BASE = "/api/v1/staff/webhooks"
TAG = "webhooks"
UNKNOWN = {404: "Point de réception inconnu"}


EndpointBody = body_of(NewEndpoint, without=("created_by",), name="EndpointBody")
ReplayBody = body_of(ReplayRange, without=("endpoint_id",), name="ReplayBody")


class DeliveriesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=500)


def _endpoint(request: web.Request):
    return path_uuid(request, "endpoint_id", "Ce point de réception")


def register(api: Api) -> None:
    @api.route(
        "POST",
        BASE,
        summary="Enregistrer un point de réception de webhooks (le secret n'est montré qu'ici)",
        tag=TAG,
        body=EndpointBody,
        response=RegisteredEndpoint,
        status=201,
        realm="staff",
        roles=ADMINS,
    )
    async def register_webhook_endpoint(request: web.Request) -> web.Response:
        body = await parse_body(request, EndpointBody)
        return await relay(request, NewEndpoint(**body.model_dump(), created_by=request[PRINCIPAL].email), status=201)

    @api.route(
        "GET",
        BASE,
        summary="Les points de réception de webhooks",
        tag=TAG,
        response=Endpoints,
        realm="staff",
        roles=ADMINS,
    )
    async def list_webhook_endpoints(request: web.Request) -> web.Response:
        return await relay(request, ListEndpoints())

    @api.route(
        "DELETE",
        f"{BASE}/{{endpoint_id}}",
        summary="Supprimer un point de réception (et son journal)",
        tag=TAG,
        status=204,
        realm="staff",
        roles=ADMINS,
        responses={**UNKNOWN, 204: "Supprimé"},
    )
    async def delete_webhook_endpoint(request: web.Request) -> web.Response:
        await call(request, DeleteEndpoint(endpoint_id=_endpoint(request)), Empty)
        return web.Response(status=204)

    @api.route(
        "POST",
        f"{BASE}/{{endpoint_id}}/secret",
        summary="Changer le secret de signature (montré une fois)",
        tag=TAG,
        response=NewSecret,
        realm="staff",
        roles=ADMINS,
        responses=UNKNOWN,
    )
    async def rotate_webhook_secret(request: web.Request) -> web.Response:
        return await relay(request, RotateSecret(endpoint_id=_endpoint(request)))

    for action, status in (("pause", "paused"), ("resume", "active")):

        def handler_for(status: str):
            async def set_status(request: web.Request) -> web.Response:
                return await relay(request, SetEndpointStatus(endpoint_id=_endpoint(request), status=status))

            set_status.__name__ = set_status.__qualname__ = f"{action}_webhook_endpoint"
            return set_status

        summary = (
            "Suspendre les envois" if action == "pause" else "Reprendre les envois (et réactiver un point désactivé)"
        )
        api.route(
            "POST",
            f"{BASE}/{{endpoint_id}}/{action}",
            summary=summary,
            tag=TAG,
            response=Endpoint,
            realm="staff",
            roles=ADMINS,
            responses=UNKNOWN,
        )(handler_for(status))

    @api.route(
        "GET",
        f"{BASE}/{{endpoint_id}}/deliveries",
        summary="Le journal des envois d'un point de réception",
        tag=TAG,
        query=DeliveriesQuery,
        response=WebhookDeliveries,
        realm="staff",
        roles=ADMINS,
        responses=UNKNOWN,
    )
    async def webhook_deliveries(request: web.Request) -> web.Response:
        q = parse_query(request, DeliveriesQuery)
        return await relay(request, ListWebhookDeliveries(endpoint_id=_endpoint(request), limit=q.limit))

    @api.route(
        "POST",
        f"{BASE}/{{endpoint_id}}/replays",
        summary="Envoyer à nouveau les événements d'une période",
        tag=TAG,
        body=ReplayBody,
        response=ReplayQueued,
        status=202,
        realm="staff",
        roles=ADMINS,
        responses=UNKNOWN,
    )
    async def replay_webhook_events(request: web.Request) -> web.Response:
        body = await parse_body(request, ReplayBody)
        return await relay(request, ReplayRange(endpoint_id=_endpoint(request), **body.model_dump()), status=202)
