"""Per-request metrics and the JSON access log of the gateway, and its internal metrics listener.

One access log line per request (logger `gateway.access`, JSON like every log, with the request
id bound by the request-context middleware): method, route template, status, duration, bytes in
and out, client address. The counters and histograms are those of `ecandidat.runtime.metrics`;
`GET /metrics` is served on METRICS_PORT, an internal port, not on the public one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from ecandidat.runtime.metrics import HTTP_LATENCY, HTTP_REQUESTS, UPLOAD_SIZE, exposition, listen, metrics_response

from .auth import client_address
from .keys import SESSIONS, SETTINGS
from .sessions import SessionCache

access = logging.getLogger("gateway.access")

METRICS_PORT = web.AppKey("metrics_port", int)


class InFlight:
    """Requests being handled now; `draining` once the gateway stops (see gateway.__main__)."""

    def __init__(self) -> None:
        self.count = 0
        self.draining = False


IN_FLIGHT = web.AppKey("in_flight", InFlight)

_JSON = ("application/json", "application/problem+json")


def route_of(request: web.Request) -> str:
    """The route's path template (`/api/v1/candidatures/{candidature_id}`), never the raw path:
    ids would make one time series per candidature."""
    info = request.match_info
    route = getattr(info, "route", None)
    resource = getattr(route, "resource", None)
    if resource is None or getattr(info, "http_exception", None) is not None:
        return "unmatched"
    return resource.canonical


_SERIES: dict[tuple[str, str, int], tuple[Any, Any]] = {}
_MAX_SERIES = 4096


def _series(route: str, method: str, status: int) -> tuple[Any, Any]:
    """The request counter and latency histogram of (route, method, status), looked up once:
    `labels()` takes a lock and builds its key at every call. Bounded by the routes × methods × statuses."""
    key = (route, method, status)
    series = _SERIES.get(key)
    if series is None:
        series = (HTTP_REQUESTS.labels(route, method, str(status)), HTTP_LATENCY.labels(route, method))
        if len(_SERIES) < _MAX_SERIES:  # a client's made-up methods stay uncached
            _SERIES[key] = series
    return series


@web.middleware
async def observe(request: web.Request, handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    response: web.StreamResponse | None = None
    in_flight = request.app[IN_FLIGHT]
    in_flight.count += 1
    try:
        response = await handler(request)
        status = response.status
        if in_flight.draining:
            response.force_close()  # the client reconnects to another replica
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        in_flight.count -= 1
        elapsed = time.perf_counter() - started
        route = route_of(request)
        counter, histogram = _series(route, request.method, status)
        counter.inc()
        histogram.observe(elapsed)
        received = request.content.total_bytes
        if received and request.method in ("PUT", "POST") and request.content_type not in _JSON:
            UPLOAD_SIZE.labels(route).observe(received)
        if access.isEnabledFor(logging.INFO):
            access.info(
                "request",
                extra={
                    "method": request.method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "bytes_in": received,
                    "bytes_out": getattr(response, "body_length", 0) or getattr(response, "content_length", 0) or 0,
                    "client": client_address(request),
                },
            )


def kept_families(cache: SessionCache) -> list[Any]:
    """What this gateway keeps (`gateway.sessions`): lookups answered from its copies or by rpc,
    and the copies held now, by kind (`session`, and the candidates' views: `account`, `dossier`)."""
    lookups = CounterMetricFamily(
        "ecandidat_gateway_kept_lookups",
        "Sessions and candidates' views looked up in this gateway's copies",
        labels=["kind", "outcome"],
    )
    lookups.add_metric(["session", "hit"], cache.hits)
    lookups.add_metric(["session", "miss"], cache.misses)
    for (kind, outcome), count in sorted(cache.view_lookups.items()):
        lookups.add_metric([kind, outcome], count)
    kept = GaugeMetricFamily("ecandidat_gateway_kept", "Copies this gateway keeps now", labels=["kind"])
    kept.add_metric(["session"], len(cache))
    for kind, count in cache.views_kept().items():
        kept.add_metric([kind], count)
    return [lookups, kept]


async def listener(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: `/metrics` on METRICS_HOST:METRICS_PORT when the setting is given."""
    settings = app[SETTINGS]
    if settings.metrics_port is None:
        yield
        return

    async def metrics(_: web.Request) -> web.Response:
        cache = app.get(SESSIONS)
        return metrics_response(exposition(kept_families(cache) if cache is not None else None))

    internal = web.Application()
    internal.router.add_get("/metrics", metrics)
    runner, app[METRICS_PORT] = await listen(internal, settings.metrics_host, settings.metrics_port)
    yield
    await runner.cleanup()
