"""`GET /health`: the platform's health, asked of every service over NATS."""

from __future__ import annotations

import asyncio

from aiohttp import web
from pydantic import BaseModel

from ecandidat.contracts.errors import ServiceError
from ecandidat.contracts.health import HealthReply
from ecandidat.contracts.subjects import rpc_operation_subject

from ..api import REQUEST_ID, Api, json_response
from ..keys import NATS_CONN, RPC, SETTINGS


class ServiceHealth(BaseModel):
    ok: bool
    error: str | None = None
    instance: str | None = None
    checks: dict[str, dict] = {}


class HealthSummary(BaseModel):
    ok: bool
    gateway: dict[str, bool]
    services: dict[str, ServiceHealth]


def register(api: Api) -> None:
    @api.route("GET", "/health", summary="État de la plateforme (503 si un service manque)", tag="exploitation",
               response=HealthSummary, responses={503: ("Un service ne répond pas ou signale un problème", HealthSummary)})
    async def health(request: web.Request) -> web.Response:
        app = request.app
        settings = app[SETTINGS]
        rpc = app[RPC]

        async def ask(service: str) -> ServiceHealth:
            try:
                raw = await rpc.call_subject(
                    rpc_operation_subject(service, "health"), b"{}", timeout=settings.gateway_health_timeout,
                    request_id=request.get(REQUEST_ID),
                )
                reply = HealthReply.model_validate(raw)
                return ServiceHealth(
                    ok=reply.ok, instance=reply.instance,
                    checks={k: v.model_dump() for k, v in reply.checks.items()},
                )
            except ServiceError as err:
                return ServiceHealth(ok=False, error=err.code)

        names = list(settings.gateway_services)
        results = await asyncio.gather(*(ask(n) for n in names))
        services = dict(zip(names, results))
        nats_ok = app[NATS_CONN].is_connected
        ok = nats_ok and all(s.ok for s in services.values())
        summary = HealthSummary(ok=ok, gateway={"nats": nats_ok}, services=services)
        return json_response(summary, status=200 if ok else 503)
