"""The web process's internal listener (METRICS_PORT, never the public port): `/metrics` in the
Prometheus format (the pages' server time by route, and the process's own figures), `/health/live`
and `/health/ready` (ready when the API it serves the pages from answers)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Histogram, generate_latest

from .api import CLIENT
from .render import SETTINGS

PAGE_LATENCY = Histogram(
    "ecandidat_web_page_duration_seconds",
    "Server time of the web front's answers",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


@web.middleware
async def timed(request: web.Request, handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        resource = getattr(getattr(request.match_info, "route", None), "resource", None)
        route = resource.canonical if resource is not None else "unmatched"
        PAGE_LATENCY.labels(route, request.method, str(status)).observe(time.perf_counter() - started)


async def listener(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if settings.metrics_port is None:
        yield
        return

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def live(_: web.Request) -> web.Response:
        return web.json_response({"status": "live"})

    async def ready(_: web.Request) -> web.Response:
        client = app[CLIENT]
        try:
            assert client.session is not None
            async with client.session.get(f"{client.base_url}/health", timeout=aiohttp.ClientTimeout(total=3)) as resp:
                reachable = resp.status < 500 or resp.status == 503  # 503: a service is down, the API answers
        except (aiohttp.ClientError, TimeoutError, OSError):
            reachable = False
        return web.json_response(
            {"ready": reachable, "failing": [] if reachable else ["api"]}, status=200 if reachable else 503
        )

    internal = web.Application()
    internal.router.add_get("/metrics", metrics)
    internal.router.add_get("/health/live", live)
    internal.router.add_get("/health/ready", ready)
    runner = web.AppRunner(internal, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.metrics_host, settings.metrics_port).start()
    yield
    await runner.cleanup()
