"""Background loops survive any exception, and the health rpc says when one is not running."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg

from ecandidat.contracts.health import HealthReply
from ecandidat.runtime.consumer import Subscription
from ecandidat.runtime.rpc import RpcClient
from ecandidat.runtime.service import Service
from ecandidat.runtime.settings import KitSettings
from tests.conftest import eventually
from tests.integration.test_consumer import effects, publish, recording_handler


class ProbeService(Service):
    def __init__(self, kit, settings: KitSettings, probe, *, consumer_crashes: int = 0) -> None:
        super().__init__(kit.schema, settings)
        self.probe = probe
        self.consumer_crashes = consumer_crashes

    async def setup(self) -> None:
        self.subscribe("probe", [Subscription(self.probe, recording_handler("svc"))])
        [consumer] = self.consumers
        run, crashes = consumer.run, self.consumer_crashes

        async def run_after_crashes() -> None:
            nonlocal crashes
            if crashes:
                crashes -= 1
                raise ValueError("not among the exceptions the consumer loop knows")
            await run()

        consumer.run = run_after_crashes


async def health(service: Service) -> HealthReply:
    raw = await RpcClient(service.nc).call_subject(f"rpc.{service.name}.health", b"{}")
    return HealthReply.model_validate(raw)


class BrokenOnce:
    """A pool whose first connection leaves `async with conn.transaction()` with the error asyncpg
    raises for a connection that PostgreSQL closed in the middle of an operation."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.broken = False

    def __getattr__(self, name):
        return getattr(self.pool, name)

    @contextlib.asynccontextmanager
    async def acquire(self):
        async with self.pool.acquire() as conn:
            yield conn
            if not self.broken:
                self.broken = True
                raise asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in progress")


async def test_a_consumer_whose_transaction_breaks_keeps_consuming(kit, settings_for):
    Probe = kit.event_class()
    service = ProbeService(kit, settings_for(KitSettings), Probe)
    await service.start(relay=False, jobs=False)
    try:
        [consumer] = service.consumers
        consumer.pool = BrokenOnce(consumer.pool)
        await publish(kit, Probe, 1)
        await eventually(lambda: consumer.pool.broken, message="the batch met the broken connection")
        await publish(kit, Probe, 2)
        await eventually(lambda: _effects_are(kit, [1, 2]), message="both events handled")
        assert (await health(service)).checks["tasks"].ok
    finally:
        await service.stop()


async def test_a_loop_that_raises_is_restarted_and_reported_until_it_runs(kit, settings_for):
    Probe = kit.event_class()
    service = ProbeService(kit, settings_for(KitSettings), Probe, consumer_crashes=1)
    await service.start(relay=False, jobs=False)
    failing = True
    attempts = 0

    async def worker() -> None:
        nonlocal attempts
        attempts += 1
        if failing:
            raise RuntimeError("the worker broke")
        await asyncio.Event().wait()

    try:
        service.spawn(worker, "probe-worker")
        await eventually(lambda: attempts >= 2, message="the worker was restarted after its failure")
        reply = await health(service)
        assert reply.ready and not reply.ok
        assert not reply.checks["tasks"].ok
        assert "probe-worker: waiting to restart" in reply.checks["tasks"].detail
        assert "RuntimeError: the worker broke" in reply.checks["tasks"].detail

        await publish(kit, Probe, 7)
        await eventually(lambda: _effects_are(kit, [7]), message="the consumer runs after its crash")
        [consumer_task] = [t for t in service.tasks if t.name == service.consumers[0].durable]
        assert consumer_task.restarts == 1 and consumer_task.running

        failing = False
        await eventually(lambda: _tasks_ok(service), timeout=30, message="health says every loop runs again")
    finally:
        tasks = list(service.tasks)
        await service.stop()
    assert all(t.task.done() for t in tasks), "a loop outlived its service"


async def _tasks_ok(service: Service) -> bool:
    reply = await health(service)
    return reply.ok and reply.checks["tasks"].ok


async def _effects_are(kit, values) -> bool:
    return await effects(kit) == values


async def test_health_requests_arriving_together_share_one_round_of_checks(kit, settings_for):
    Probe = kit.event_class()
    service = ProbeService(kit, settings_for(KitSettings), Probe)
    gate = asyncio.Event()
    rounds = 0

    async def slow_check() -> str:
        nonlocal rounds
        rounds += 1
        await gate.wait()
        return "answered"

    service.checks["slow"] = slow_check
    await service.start(relay=False, jobs=False)
    try:
        together = [asyncio.ensure_future(health(service)) for _ in range(5)]
        await eventually(
            lambda: len(service.rpc._tasks) == 5, message="the five requests are in the service, the checks held"
        )
        gate.set()
        replies = await asyncio.gather(*together)
        assert rounds == 1 and all(r.checks["slow"].detail == "answered" for r in replies)
        assert (await health(service)).checks["slow"].ok and rounds == 2  # the next request: a new round
    finally:
        await service.stop()
