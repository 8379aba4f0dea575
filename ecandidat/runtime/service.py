"""Bootstrap of a service process: settings → migrations → pool → NATS → rpc, relay, consumers, jobs.

A service module describes itself with a `Service` (name, migrations, rpc routes, consumers, jobs,
extra health checks) and `run(service)` runs it until SIGTERM/SIGINT: it stops fetching events,
finishes the work in progress, stops the relay and drains the NATS connection.

Every background loop (relay, consumers, jobs, and the service's own, added with `spawn`) runs
supervised (`tasks.Supervised`): it is restarted after any exception. The health rpc reports
each check and each loop: `ready` when the database answers (the service can serve its rpc),
`ok` when every check passes and every loop runs; the gateway turns that into readiness and
degraded states.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from datetime import timedelta
from pathlib import Path

import asyncpg
import nats.js.errors
from nats.aio.client import Client as NATS
from pydantic import ValidationError

from ..contracts import access
from ..contracts import deadletters as dl
from ..contracts.auth import Principal
from ..contracts.envelope import CloudEvent
from ..contracts.errors import Conflict, Forbidden, NotFound
from ..contracts.health import CheckResult, HealthReply, HealthRequest
from ..contracts.subjects import rpc_operation_subject
from . import aio
from . import logging as kit_logging
from . import metrics
from .clock import Clock, SystemClock
from .consumer import EventConsumer, Subscription, consumers_for
from .db import create_pool, migrate
from .deadletter import DeadLetter, dead_letters_of, forget_dead_letter, get_dead_letter
from .heap import freeze_startup_objects
from .jobs import Job, JobRunner
from .nats import connect_as, declare_streams, wait_for_jetstream
from .outbox import OutboxRelay, pending_count
from .rpc import RpcContext, RpcServer
from .settings import KitSettings
from .tasks import Supervised, stop_all

log = logging.getLogger(__name__)

HealthCheck = Callable[[], Awaitable[str | None]]


class Service:
    """One running instance of a service. Subclasses or callers fill in `setup`."""

    def __init__(
        self,
        name: str,
        settings: KitSettings,
        *,
        migrations: Path | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.migrations = migrations
        self.clock: Clock = clock or SystemClock()
        self.instance = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self.pool: asyncpg.Pool
        self.nc: NATS
        self.rpc: RpcServer
        self.relay: OutboxRelay | None = None
        self.metrics_port: int | None = None  # where /metrics listens, once started (settings.metrics_port 0: any)
        self.consumers: list[EventConsumer] = []
        self.jobs: list[Job] = []
        self.checks: dict[str, HealthCheck] = {}
        self._health_round: asyncio.Future[HealthReply] | None = None
        self.tasks: list[Supervised] = []
        self._cleanups: list[Callable[[], Awaitable[None]]] = []

    # -- to be provided by each service -------------------------------------------------
    async def setup(self) -> None:
        """Register rpc routes, consumers, jobs and checks; open the service's own resources."""

    # -- helpers for setup --------------------------------------------------------------
    def subscribe(self, purpose: str, subscriptions: list[Subscription], **options: object) -> None:
        s = self.settings
        opts = dict(
            max_deliver=s.consumer_max_deliver,
            ack_wait=s.consumer_ack_wait,
            backoff=s.consumer_backoff,
            fetch_timeout=s.consumer_fetch_wait,
        )
        opts.update(options)
        self.consumers += consumers_for(
            nc=self.nc, pool=self.pool, service=self.name, purpose=purpose, subscriptions=subscriptions, **opts
        )

    def add_job(self, name: str, every: timedelta, fn: Callable) -> None:
        self.jobs.append(Job(name, every, fn))

    def on_cleanup(self, fn: Callable[[], Awaitable[None]]) -> None:
        self._cleanups.append(fn)

    def spawn(self, run: Callable[[], Awaitable[None]], name: str, *, stop: Callable[[], None] | None = None) -> None:
        """Run `run()` in the background, restarted after any exception until the service stops.
        `stop`, when given, asks the loop to finish its work in progress and return."""
        self.tasks.append(Supervised(name, run, stop=stop).start())

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self, *, relay: bool = True, consumers: bool = True, jobs: bool = True) -> None:
        s = self.settings
        await migrate(s.database_url, self.name, self.migrations)
        self.pool = await create_pool(s.database_url, self.name, max_size=s.database_pool_max)
        self.nc = await connect_as(s, self.name, name=f"{self.name}@{self.instance}")
        js = self.nc.jetstream()
        await wait_for_jetstream(js)
        await declare_streams(js, s.nats_stream_replicas, owner=self.name)
        self.rpc = RpcServer(self.nc, self.name, concurrency=s.rpc_concurrency)
        self.rpc.add(rpc_operation_subject(self.name, "health"), HealthRequest, self._health)
        self.rpc.add(rpc_operation_subject(self.name, dl.LIST_OPERATION), dl.ListDeadLetters, self._dead_letters)
        self.rpc.add(
            rpc_operation_subject(self.name, dl.REPLAY_OPERATION), dl.ReplayDeadLetter, self._replay_dead_letter
        )
        await self.setup()
        await self.rpc.start()
        if relay:
            self.relay = OutboxRelay(
                s.database_url,
                self.name,
                self.nc,
                poll_interval=s.outbox_poll_interval,
                lock_retry=s.outbox_lock_retry,
                retention=timedelta(days=s.outbox_retention_days),
            )
            self.spawn(self.relay.run, f"{self.name}-relay")
        if consumers:
            for consumer in self.consumers:
                await consumer.declare()
                self.spawn(consumer.run, consumer.durable, stop=consumer.stop)
        if jobs and self.jobs:
            self.spawn(JobRunner(self.pool, self.jobs, self.clock).run, f"{self.name}-jobs")
        await metrics.serve_service(self)
        log.info("service started", extra={"instance": self.instance, "rpc": self.rpc.subjects})

    async def stop(self) -> None:
        for task in self.tasks:
            task.stop()  # consumers stop fetching while the rpc in progress finish
        await self.rpc.stop()
        await stop_all(self.tasks, grace=self.settings.consumer_ack_wait)
        self.tasks.clear()
        for fn in reversed(self._cleanups):
            await fn()
        try:
            await asyncio.wait_for(self.nc.drain(), 10)
        except Exception:  # draining a broken connection: close it
            await self.nc.close()
        await self.pool.close()
        log.info("service stopped")

    async def _dead_letters(self, req: dl.ListDeadLetters, ctx: RpcContext) -> dl.DeadLetters:
        """The dead letters of this service's consumers, newest first (administrators)."""
        _operator(req.principal)
        js, durables = self.nc.jetstream(), [c.durable for c in self.consumers]
        letters, total = await dead_letters_of(js, self.name, durables, req.limit)
        return dl.DeadLetters(items=[_dead_letter_view(self.name, letter) for letter in letters], total=total)

    async def _replay_dead_letter(self, req: dl.ReplayDeadLetter, ctx: RpcContext) -> dl.DeadLetterReplayed:
        """Hand a dead letter's event to the consumer that failed on it; once handled, the letter
        goes. The number is one of this service's own dead-letter stream."""
        _operator(req.principal)
        js = self.nc.jetstream()
        gone = NotFound(
            "Cet événement n'est pas (ou plus) parmi les événements en échec : il a peut-être déjà été rejoué."
        )
        try:
            letter = await get_dead_letter(js, self.name, req.seq)
        except nats.js.errors.NotFoundError:
            raise gone from None
        # One durable name per purpose, on each stream the purpose reads: the letter names both.
        consumer = next(
            (c for c in self.consumers if c.durable == letter.consumer and c.spec.stream == letter.original_stream),
            None,
        )
        if consumer is None:
            raise gone
        outcome, error, seen = await consumer.replay(letter.data)
        if outcome != "ack":
            raise Conflict(
                f"Le rejeu a de nouveau échoué : {error or 'erreur inconnue'}. L'événement reste en échec.",
                reason="echec",
            )
        await forget_dead_letter(js, self.name, req.seq)
        return dl.DeadLetterReplayed(
            seq=req.seq, consumer=letter.consumer, event_id=_event_id(letter.data), already_handled=seen
        )

    async def _health(self, _: HealthRequest, ctx: RpcContext) -> HealthReply:
        """The service's health. Requests arriving while the checks run share that round (and its
        answer): a burst of probes (several gateways, a load balancer, `/health` under load) costs
        one database query and one JetStream request at a time, and no answer is older than the
        request that gets it by more than one round of checks."""
        if self._health_round is None:
            self._health_round = asyncio.ensure_future(self._check_health())
            self._health_round.add_done_callback(self._health_round_done)
        return await asyncio.shield(self._health_round)

    def _health_round_done(self, _: asyncio.Future[HealthReply]) -> None:
        self._health_round = None

    async def _check_health(self) -> HealthReply:
        checks: dict[str, CheckResult] = {}

        async def database() -> str | None:
            async with self.pool.acquire() as conn:
                backlog = await pending_count(conn)
            return f"outbox backlog {backlog}"

        async def jetstream() -> str | None:
            info = await self.nc.jetstream().account_info()
            return f"{info.streams} streams"

        async def run(name: str, check: HealthCheck) -> None:
            started = time.perf_counter()
            try:
                detail = await asyncio.wait_for(check(), 2.0)
                checks[name] = CheckResult(ok=True, detail=detail, latency_ms=_ms(started))
            except Exception as exc:
                checks[name] = CheckResult(
                    ok=False, detail=f"{type(exc).__name__}: {exc}"[:300], latency_ms=_ms(started)
                )

        await asyncio.gather(*(run(n, c) for n, c in {"database": database, "nats": jetstream, **self.checks}.items()))
        checks["tasks"] = self._tasks_check()
        ready = checks["database"].ok
        ok = all(c.ok for c in checks.values())
        return HealthReply(service=self.name, ok=ok, ready=ready, instance=self.instance, checks=checks)

    def _tasks_check(self) -> CheckResult:
        """Every background loop is running (a stopped or crashed one is named, with its last error)."""
        down = [t for t in self.tasks if not t.running]
        restarted = [t for t in self.tasks if t.running and t.restarts]
        detail = "; ".join(t.describe() for t in down + restarted) or f"{len(self.tasks)} running"
        return CheckResult(ok=not down, detail=detail[:1000])


def cached(check: HealthCheck, ttl: float = 5.0) -> HealthCheck:
    """A health check of an external dependency, asked at most once per `ttl` seconds; callers
    arriving while it is being asked share that one answer."""
    state: dict[str, Any] = {}

    async def wrapper() -> str | None:
        now = time.monotonic()
        if "done" in state and now - state["at"] < ttl:
            return await state["done"]
        if "running" not in state:

            async def refresh() -> str | None:
                try:
                    return await check()
                finally:
                    state["at"] = time.monotonic()
                    state["done"] = state.pop("running")

            state["running"] = asyncio.ensure_future(refresh())
        return await asyncio.shield(state["running"])

    return wrapper


def _operator(principal: Principal) -> None:
    if principal.realm != "staff" or not principal.has_role(*access.OPERATORS):
        raise Forbidden("Les événements en échec sont réservés aux administrateurs.")


def _event_id(data: bytes) -> uuid.UUID | None:
    try:
        return CloudEvent.model_validate_json(data).id
    except ValidationError:
        return None


def _dead_letter_view(service: str, letter: DeadLetter) -> dl.DeadLetterView:
    try:
        event = CloudEvent.model_validate_json(letter.data)
        event_type, event_id = event.type, event.id
    except ValidationError:
        event_type, event_id = None, None
    return dl.DeadLetterView(
        seq=letter.seq,
        service=service,
        consumer=letter.consumer,
        subject=letter.original_subject,
        event_type=event_type,
        event_id=event_id,
        deliveries=letter.deliveries,
        error=letter.error,
        dead_lettered_at=letter.time,
    )


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def run(service: Service) -> None:
    """Run a service until SIGTERM or SIGINT, then shut it down gracefully."""
    kit_logging.configure(service.name, service.settings.log_level, service.settings.log_format)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await service.start()
        freeze_startup_objects()
        await stop.wait()
        log.info("stopping", extra={"instance": service.instance})
        await service.stop()

    aio.run(main(), service.settings.event_loop)
