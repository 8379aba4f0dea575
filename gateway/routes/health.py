"""The platform's health, for the public, the load balancers and the operators.

Each service answers `rpc.<service>.health` (one replica of it: `ready` when its database answers,
`ok` when besides every check passes and every background loop runs). From those answers:

- **down**: the platform cannot serve: the gateway is not connected to NATS, or a required service
  (GATEWAY_REQUIRED_SERVICES) does not answer or is not ready;
- **degraded**: it serves, but something is wrong behind it: a dependency that only delays work
  (SMTP, object storage, antivirus), a background loop not running, a service that is not
  required not answering. An SMTP outage is degraded, never down: mails wait in the queue;
- **up**: everything answers.

Routes:

- `GET /health` (public): `{"status": "up" | "degraded" | "down"}`, 200 unless down (503). Nothing
  else: no instance ids, hosts, bucket names or backlogs.
- `GET /health/live`: the gateway process answers (liveness probe), always 200.
- `GET /health/ready`: the platform can serve (readiness probe), 200 or 503.
- `GET /api/v1/staff/health` (administrators): the detailed report, service by service.

The answers of the services are shared for GATEWAY_HEALTH_SHARED_FOR seconds (1) by all the
requests that ask, so that a flood of `/health` requests cannot become a flood of rpc and
database queries.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import Literal

from aiohttp import web
from pydantic import BaseModel

from ecandidat.contracts.access import ADMINS
from ecandidat.contracts.errors import ServiceError
from ecandidat.contracts.health import HealthReply
from ecandidat.contracts.subjects import rpc_operation_subject
from ecandidat.runtime.rpc import RETRY_AFTER

from ..api import Api, json_response
from ..keys import NATS_CONN, RPC, SETTINGS


class ServiceHealth(BaseModel):
    ok: bool
    ready: bool
    required: bool
    error: str | None = None
    instance: str | None = None
    checks: dict[str, dict] = {}


class HealthReport(BaseModel):
    status: Literal["up", "degraded", "down"]
    gateway: dict[str, bool]
    services: dict[str, ServiceHealth]


class PlatformStatus(BaseModel):
    status: Literal["up", "degraded", "down"]


class Liveness(BaseModel):
    status: Literal["up"]


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]


_rounds: weakref.WeakKeyDictionary[web.Application, tuple[float, asyncio.Future[HealthReport]]] = (
    weakref.WeakKeyDictionary()
)


async def report(app: web.Application) -> HealthReport:
    """The platform's health, asked of every service at most once per GATEWAY_HEALTH_SHARED_FOR seconds."""
    shared_for = app[SETTINGS].gateway_health_shared_for
    if not shared_for:
        return await _ask_every_service(app)
    now = time.monotonic()
    current = _rounds.get(app)
    if current is not None and (not current[1].done() or now - current[0] < shared_for):
        return await asyncio.shield(current[1])
    future = asyncio.ensure_future(_ask_every_service(app))
    _rounds[app] = (now, future)
    return await asyncio.shield(future)


async def _ask_every_service(app: web.Application) -> HealthReport:
    settings = app[SETTINGS]
    rpc = app[RPC]
    required = set(settings.gateway_required_services)

    async def ask(service: str) -> ServiceHealth:
        try:
            raw = await rpc.call_subject(
                rpc_operation_subject(service, "health"), b"{}", timeout=settings.gateway_health_timeout
            )
            reply = HealthReply.model_validate(raw)
        except ServiceError as err:
            return ServiceHealth(ok=False, ready=False, required=service in required, error=err.code)
        return ServiceHealth(
            ok=reply.ok,
            ready=reply.ready,
            required=service in required,
            instance=reply.instance,
            checks={k: v.model_dump() for k, v in reply.checks.items()},
        )

    names = list(settings.gateway_services)
    services = dict(zip(names, await asyncio.gather(*(ask(n) for n in names))))
    nats_ok = app[NATS_CONN].is_connected
    if not nats_ok or any(s.required and not s.ready for s in services.values()):
        status = "down"
    elif all(s.ok for s in services.values()):
        status = "up"
    else:
        status = "degraded"
    return HealthReport(status=status, gateway={"nats": nats_ok}, services=services)


def _unavailable_headers(status: int) -> dict[str, str] | None:
    return {"Retry-After": str(RETRY_AFTER)} if status == 503 else None


def register(api: Api) -> None:
    @api.route(
        "GET",
        "/health",
        summary="État de la plateforme : up, degraded (elle sert, un service secondaire est en panne) ou down",
        tag="exploitation",
        response=PlatformStatus,
        responses={503: ("La plateforme ne peut pas servir (down)", PlatformStatus)},
    )
    async def health(request: web.Request) -> web.Response:
        status = (await report(request.app)).status
        code = 503 if status == "down" else 200
        return json_response(PlatformStatus(status=status), status=code, headers=_unavailable_headers(code))

    @api.route(
        "GET", "/health/live", summary="Sonde de vivacité : la passerelle répond", tag="exploitation", response=Liveness
    )
    async def health_live(request: web.Request) -> web.Response:
        return json_response(Liveness(status="up"))

    @api.route(
        "GET",
        "/health/ready",
        summary="Sonde de disponibilité : NATS connecté et chaque service requis répond avec sa base de données",
        tag="exploitation",
        response=Readiness,
        responses={503: ("La plateforme ne peut pas servir", Readiness)},
    )
    async def health_ready(request: web.Request) -> web.Response:
        ready = (await report(request.app)).status != "down"
        code = 200 if ready else 503
        return json_response(
            Readiness(status="ready" if ready else "not_ready"), status=code, headers=_unavailable_headers(code)
        )

    @api.route(
        "GET",
        "/api/v1/staff/health",
        summary="État détaillé de chaque service (exploitation)",
        tag="exploitation",
        response=HealthReport,
        realm="staff",
        roles=ADMINS,
    )
    async def health_report(request: web.Request) -> web.Response:
        return json_response(await report(request.app))
