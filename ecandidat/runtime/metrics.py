"""Prometheus metrics of every process, and the small HTTP listener that serves them.

Every process (each service, the gateway) serves `GET /metrics` on METRICS_PORT (an internal port,
never published: Prometheus scrapes it inside the cluster). A service's listener also answers the
orchestrator's probes: `GET /health/live` (the process runs its event loop) and
`GET /health/ready` (the service's own health checks pass: database, JetStream, and those it adds;
503 otherwise).

| metric | type | labels | what |
|---|---|---|---|
| ecandidat_http_requests_total | counter | route, method, status | gateway requests, `route` the path template |
| ecandidat_http_request_duration_seconds | histogram | route, method | gateway latency, to the last byte |
| ecandidat_upload_size_bytes | histogram | route | bytes of each upload received by the gateway |
| ecandidat_gateway_kept_lookups_total | counter | kind, outcome | gateway: sessions (`session`) and candidates' views (`account`, `dossier`) looked up in its copies, `hit` or `miss` (then an rpc) |
| ecandidat_gateway_kept | gauge | kind | gateway: the copies it keeps now, by the same kinds |
| ecandidat_rpc_client_duration_seconds | histogram | subject, outcome | rpc as the caller sees it (`ok` or the error) |
| ecandidat_rpc_server_duration_seconds | histogram | subject | rpc handling in the answering service |
| ecandidat_events_settled_total | counter | consumer, outcome | events handled: `ack`, `retry`, `dead` |
| ecandidat_events_redelivered_total | counter | consumer | deliveries after the first (a handler failed, or an ack was lost) |
| ecandidat_consumer_pending | gauge | consumer, stream | events not delivered yet (lag), from JetStream |
| ecandidat_consumer_ack_pending | gauge | consumer, stream | delivered, not acknowledged yet |
| ecandidat_consumer_redelivered | gauge | consumer, stream | events redelivered at least once and not acknowledged yet |
| ecandidat_outbox_backlog | gauge | service | outbox rows not published yet |
| ecandidat_outbox_oldest_seconds | gauge | service | age of the oldest of them (0 when none) |
| ecandidat_outbox_published_total | counter | service | events published by this process's relay |
| ecandidat_outbox_relay_leader | gauge | service | 1 when this process's relay is its service's leader (holds the lock), else 0 |
| ecandidat_outbox_signals_total | counter | service, direction | `sent`: commits of this replica told to the leader elsewhere; `received`: such signals heard |
| ecandidat_mail_deliveries | gauge | status | mailer: deliveries by status (`pending`, `sending`, `sent`, `failed`) |
| ecandidat_mail_overdue | gauge | | mailer: pending deliveries due more than 15 minutes ago |
| ecandidat_webhook_requests_total | counter | outcome | webhooks: requests sent to endpoints, `delivered` (2xx) or `failed` |
| ecandidat_webhook_request_duration_seconds | histogram | | webhooks: time an endpoint took to answer (or to fail) |
| ecandidat_webhook_endpoints | gauge | status | webhooks: endpoints by status (`active`, `paused`, `disabled`), and `failing` (active, failing now) |

The gauges read from JetStream and PostgreSQL are computed when scraped (each read bounded to
2 s); the counters and histograms are kept in the process.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

if TYPE_CHECKING:
    from .service import Service

log = logging.getLogger(__name__)

_LATENCY = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

HTTP_REQUESTS = Counter(
    "ecandidat_http_requests", "HTTP requests answered by the gateway", ["route", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "ecandidat_http_request_duration_seconds",
    "HTTP request latency at the gateway",
    ["route", "method"],
    buckets=_LATENCY,
)
UPLOAD_SIZE = Histogram(
    "ecandidat_upload_size_bytes",
    "Size of the uploads the gateway received",
    ["route"],
    buckets=(10_000, 100_000, 500_000, 1_000_000, 2_000_000, 3_000_000, 4_000_000, 5_000_000, 5_242_881),
)
RPC_CLIENT = Histogram(
    "ecandidat_rpc_client_duration_seconds",
    "Rpc latency as the caller sees it",
    ["subject", "outcome"],
    buckets=_LATENCY,
)
RPC_SERVER = Histogram("ecandidat_rpc_server_duration_seconds", "Rpc handling time", ["subject"], buckets=_LATENCY)
WEBHOOK_REQUESTS = Counter("ecandidat_webhook_requests", "Webhook requests sent to endpoints", ["outcome"])
WEBHOOK_LATENCY = Histogram(
    "ecandidat_webhook_request_duration_seconds", "Time an endpoint took to answer", buckets=_LATENCY
)
EVENTS_SETTLED = Counter("ecandidat_events_settled", "Events settled by consumers", ["consumer", "outcome"])
EVENTS_REDELIVERED = Counter("ecandidat_events_redelivered", "Deliveries after the first", ["consumer"])

MAIL_OVERDUE_AFTER = 15 * 60  # seconds


# -- hooks (one line each in the kit) ------------------------------------------------------------


_CHILDREN: dict[tuple[Any, ...], Any] = {}
_MAX_CHILDREN = 4096


def _child(metric: Any, *labels: str) -> Any:
    """`metric.labels(*labels)`, looked up once: `labels()` takes a lock and builds its key at every
    call, and the rpc hooks run at every request. Bounded (an unbounded label set stays uncached)."""
    key = (metric, *labels)
    child = _CHILDREN.get(key)
    if child is None:
        child = metric.labels(*labels)
        if len(_CHILDREN) < _MAX_CHILDREN:
            _CHILDREN[key] = child
    return child


def timed_rpc_call(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Decorates `RpcClient.request_subject(self, subject, ...)`."""

    @functools.wraps(fn)
    async def wrapper(self: Any, subject: str, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        outcome = "ok"
        try:
            return await fn(self, subject, *args, **kwargs)
        except Exception as exc:
            outcome = getattr(exc, "code", None) or type(exc).__name__
            raise
        finally:
            _child(RPC_CLIENT, subject, outcome).observe(time.perf_counter() - started)

    return wrapper


def timed_rpc_serve(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., Coroutine[Any, Any, None]]:
    """Decorates `RpcServer._serve(self, msg)`."""

    @functools.wraps(fn)
    async def wrapper(self: Any, msg: Any) -> None:
        started = time.perf_counter()
        try:
            await fn(self, msg)
        finally:
            _child(RPC_SERVER, msg.subject).observe(time.perf_counter() - started)

    return wrapper


def event_settled(consumer: str, outcome: str, deliveries: int) -> None:
    EVENTS_SETTLED.labels(consumer, outcome).inc()
    if deliveries > 1:
        EVENTS_REDELIVERED.labels(consumer).inc()


# -- what a service reports when scraped ----------------------------------------------------------


async def _bounded(coro: Awaitable[Any]) -> Any:
    try:
        return await asyncio.wait_for(coro, 2.0)
    except Exception as exc:
        log.warning("metrics: a source did not answer", extra={"error": repr(exc)})
        return None


async def service_families(service: Service) -> list[Any]:
    """The gauges read from JetStream and PostgreSQL, and the service's own counters."""
    families: list[Any] = []
    pending = GaugeMetricFamily("ecandidat_consumer_pending", "Events not delivered yet", labels=["consumer", "stream"])
    ack_pending = GaugeMetricFamily(
        "ecandidat_consumer_ack_pending", "Delivered, not acknowledged", labels=["consumer", "stream"]
    )
    redelivered = GaugeMetricFamily(
        "ecandidat_consumer_redelivered", "Redelivered, not acknowledged", labels=["consumer", "stream"]
    )
    js = service.nc.jetstream()
    for consumer in service.consumers:
        info = await _bounded(js.consumer_info(consumer.spec.stream, consumer.durable))
        if info is not None:
            labels = [consumer.durable, consumer.spec.stream]
            pending.add_metric(labels, info.num_pending or 0)
            ack_pending.add_metric(labels, info.num_ack_pending or 0)
            redelivered.add_metric(labels, info.num_redelivered or 0)
    families += [pending, ack_pending, redelivered]

    async def outbox() -> Any:
        async with service.pool.acquire() as conn:
            return await conn.fetchrow(
                "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age "
                "FROM outbox WHERE sent_at IS NULL"
            )

    row = await _bounded(outbox())
    if row is not None:
        backlog = GaugeMetricFamily("ecandidat_outbox_backlog", "Outbox rows not published", labels=["service"])
        backlog.add_metric([service.name], row["n"])
        oldest = GaugeMetricFamily(
            "ecandidat_outbox_oldest_seconds", "Age of the oldest unpublished row", labels=["service"]
        )
        oldest.add_metric([service.name], float(row["age"]))
        families += [backlog, oldest]
    if service.relay is not None:
        published = CounterMetricFamily(
            "ecandidat_outbox_published", "Events published by this relay", labels=["service"]
        )
        published.add_metric([service.name], service.relay.published)
        leader = GaugeMetricFamily(
            "ecandidat_outbox_relay_leader", "This relay is its service's leader", labels=["service"]
        )
        leader.add_metric([service.name], int(service.relay.is_leader))
        signals = CounterMetricFamily(
            "ecandidat_outbox_signals", "Outbox signals between a service's replicas", labels=["service", "direction"]
        )
        signals.add_metric([service.name, "sent"], service.relay.signals_sent)
        signals.add_metric([service.name, "received"], service.relay.signals_received)
        families += [published, leader, signals]
    if service.name == "mailer":
        families += await _mail_families(service)
    if service.name == "webhooks":
        families += await _webhook_families(service)
    return families


async def _webhook_families(service: Service) -> list[Any]:
    async def read() -> Any:
        async with service.pool.acquire() as conn:
            return await conn.fetch(
                "SELECT status, count(*) AS n, count(failing_since) AS failing FROM endpoints GROUP BY status"
            )

    rows = await _bounded(read())
    if rows is None:
        return []
    endpoints = GaugeMetricFamily("ecandidat_webhook_endpoints", "Webhook endpoints by status", labels=["status"])
    by_status = {r["status"]: r for r in rows}
    for status in ("active", "paused", "disabled"):
        endpoints.add_metric([status], by_status[status]["n"] if status in by_status else 0)
    endpoints.add_metric(["failing"], by_status["active"]["failing"] if "active" in by_status else 0)
    return [endpoints]


async def _mail_families(service: Service) -> list[Any]:
    async def read() -> Any:
        async with service.pool.acquire() as conn:
            counts = await conn.fetch("SELECT status, count(*) AS n FROM deliveries GROUP BY status")
            overdue = await conn.fetchval(
                "SELECT count(*) FROM deliveries WHERE status = 'pending' "
                "AND next_attempt_at < now() - make_interval(secs => $1)",
                MAIL_OVERDUE_AFTER,
            )
            return counts, overdue

    found = await _bounded(read())
    if found is None:
        return []
    counts, overdue = found
    deliveries = GaugeMetricFamily("ecandidat_mail_deliveries", "Mail deliveries by status", labels=["status"])
    by_status = {r["status"]: r["n"] for r in counts}
    for status in ("pending", "sending", "sent", "failed"):
        deliveries.add_metric([status], by_status.get(status, 0))
    late = GaugeMetricFamily("ecandidat_mail_overdue", "Pending mails due more than 15 minutes ago")
    late.add_metric([], overdue)
    return [deliveries, late]


class _Families:
    """A one-shot collector over families computed beforehand (the registry API is synchronous)."""

    def __init__(self, families: list[Any]) -> None:
        self.families = families

    def collect(self) -> list[Any]:
        return self.families


def exposition(extra: list[Any] | None = None) -> bytes:
    """The process's metrics, plus `extra` families, in the Prometheus text format."""
    text = generate_latest(REGISTRY)
    if extra:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Families(extra))
        text += generate_latest(registry)
    return text


def metrics_response(body: bytes) -> web.Response:
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


# -- the listener ---------------------------------------------------------------------------------


async def listen(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound = runner.addresses[0][1]
    log.info("metrics listening", extra={"port": bound})
    return runner, bound


async def serve_service(service: Service) -> None:
    """Start the service's listener on METRICS_PORT (nothing when it is unset); stopped at cleanup."""
    s = service.settings
    if s.metrics_port is None:
        return
    from ..contracts.health import HealthRequest
    from .rpc import RpcContext

    async def metrics(_: web.Request) -> web.Response:
        return metrics_response(exposition(await service_families(service)))

    async def live(_: web.Request) -> web.Response:
        return web.json_response({"status": "live"})

    async def ready(_: web.Request) -> web.Response:
        reply = await service._health(HealthRequest(), RpcContext(request_id="probe"))
        failing = sorted(name for name, check in reply.checks.items() if not check.ok)
        # Ready when it can serve (its database answers); a failing SMTP or storage check degrades it.
        return web.json_response({"ready": reply.ready, "failing": failing}, status=200 if reply.ready else 503)

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/health/live", live)
    app.router.add_get("/health/ready", ready)
    runner, service.metrics_port = await listen(app, s.metrics_host, s.metrics_port)
    service.on_cleanup(runner.cleanup)
