"""Outbox throughput: events per second from commit to consumed-and-acked, beside the same producers'
bare commits and raw JetStream.

What is measured and how: bench/README.md, "outbox_throughput".

Exit status: 0 when the run measured what it claims (whatever the ratio), 1 when it is broken
(lost or duplicated events, an unacked message, a timeout).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import pstats
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from functools import partial
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import Arguments  # noqa: E402
from bench._common import BrokenRun, conditions, CpuMeter, database, median, nats_server, percentiles_ms  # noqa: E402
from bench._common import print_conditions, print_table, ratio, run_main, save_results, workdir, XminWatch  # noqa: E402

import asyncpg  # noqa: E402
import nats  # noqa: E402
import nats.errors  # noqa: E402
from nats.js.api import Header, StreamConfig  # noqa: E402

from ecandidat.contracts.base import Event  # noqa: E402
from ecandidat.contracts.envelope import CloudEvent, envelope  # noqa: E402
from ecandidat.contracts.subjects import durable_name, event_stream, event_subject, producer_events  # noqa: E402
from ecandidat.runtime.consumer import EventConsumer, Subscription  # noqa: E402
from ecandidat.runtime.db import create_pool, migrate  # noqa: E402
from ecandidat.runtime.nats import stream_configs  # noqa: E402
from ecandidat.runtime.outbox import OutboxRelay, add_event  # noqa: E402

EFFECTS_SQL = """
CREATE TABLE effects (
    event_id uuid NOT NULL,
    value    int NOT NULL
);
CREATE TABLE bare_commits (
    seq      bigserial PRIMARY KEY,
    event_id uuid NOT NULL,
    subject  text NOT NULL,
    payload  bytea NOT NULL
);
"""

perf = time.perf_counter
PAYLOAD_BYTES, TRICKLE_RATE, TIMEOUT = 512, 20.0, 120.0  # envelope size, trickle events/s, s before a run is broken


def stream_config(producer: str) -> StreamConfig:
    """The configuration `ecandidat.runtime.nats.stream_configs` gives every producer's stream."""
    return replace(stream_configs()[0], name=event_stream(producer), subjects=[producer_events(producer)])


def event_class(producer: str) -> type[Event]:
    fields = {"__annotations__": {"value": int, "text": str}}
    return type("BenchProbe", (Event,), fields | {"producer": producer, "entity": "probe", "action": "happened"})


def envelope_bytes(model: type[Event], text: str) -> bytes:
    event = model(value=1, text=text)
    at = datetime.now(timezone.utc)
    return envelope(event, event_id=uuid.uuid4(), time=at, subject="probe-000000").model_dump_json().encode()


def padding_for(payload_bytes: int) -> str:
    """The `text` that makes the CloudEvents envelope of a bench event `payload_bytes` long."""
    return "x" * max(0, payload_bytes - len(envelope_bytes(event_class("benchsizing"), "")))


class TracedRelay(OutboxRelay):
    """The kit's relay, unchanged, plus a record of each batch: (start, end, rows published)."""

    STALL = 0.5  # seconds: a pause longer than this that ends with rows to publish is a stall

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batches: list[tuple[float, float, int]] = []

    async def _publish_batch(self, conn: asyncpg.Connection) -> int:
        started = perf()
        sent = await super()._publish_batch(conn)
        self.batches.append((started, perf(), sent))
        return sent

    def stats(self, since: float) -> dict[str, Any]:
        """Batches after `since`, and the stalls: pauses > STALL s that ended with rows to publish."""
        batches = [b for b in self.batches if b[0] >= since]
        pauses = [b[0] - a[1] for a, b in zip(batches, batches[1:]) if b[2] > 0]
        return {
            "relay_batches": len(batches),
            "relay_empty_batches": sum(1 for b in batches if b[2] == 0),
            "relay_longest_stall_s": max(pauses, default=0.0),
            "relay_stalls": sum(1 for p in pauses if p > self.STALL),
        }


class CountingConsumer(EventConsumer):
    """The kit's consumer, plus a signal when `target` events have been handled (and acked)."""

    def __init__(self, *, target: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target, self.done, self.batch_sizes = target, asyncio.Event(), list[int]()
        self.started_at = self.done_at = 0.0  # the consumer's task started; the target reached
        self.handled_at: dict[str, float] = {}  # event id (the relay's Nats-Msg-Id) → acked at

    async def process(self, msgs: list) -> None:
        await super().process(msgs)  # commit, then ack each message
        now = perf()
        for msg in msgs:
            self.handled_at[(msg.headers or {}).get("Nats-Msg-Id", "")] = now
        self.batch_sizes.append(len(msgs))
        if self.handled >= self.target and not self.done.is_set():
            self.done_at = perf()
            self.done.set()


def effects_subscription(model: type[Event]) -> Subscription:
    """The bench's consumer handler: one effect row per event, and for a run of events one statement
    (the kit's batch handler, as the services' busiest consumers have)."""

    async def effect(conn: asyncpg.Connection, body: Any, meta: CloudEvent) -> None:
        await conn.execute("INSERT INTO effects (event_id, value) VALUES ($1, $2)", meta.id, body.value)

    async def effects(conn: asyncpg.Connection, run: list[tuple[Any, CloudEvent]]) -> None:
        await conn.execute(
            "INSERT INTO effects (event_id, value) SELECT * FROM unnest($1::uuid[], $2::int[])",
            [meta.id for _, meta in run],
            [body.value for body, _ in run],
        )

    return Subscription(model, effect, batch=effects)


def counting_consumer(nc: Any, pool: asyncpg.Pool, schema: str, producer: str, target: int) -> CountingConsumer:
    """The bench's consumer of `producer`'s events, as a service of schema `schema` would run it."""
    return CountingConsumer(
        target=target,
        nc=nc,
        pool=pool,
        service=schema,
        purpose="effects",
        producer=producer,
        subscriptions=[effects_subscription(event_class(producer))],
    )


@dataclass
class ConsumerProcess:
    """The kit's consumer in a process of its own (`python bench/outbox_throughput.py consumer
    SPEC`), seen from here as a `CountingConsumer`: it says on its stdout when it is fetching, then
    when it has handled and acked its target (time.perf_counter is CLOCK_MONOTONIC, the same clock
    in every process), with its CPU over that span."""

    proc: asyncio.subprocess.Process
    target: int
    durable: str
    done: asyncio.Event = field(default_factory=asyncio.Event)
    started_at: float = 0.0
    done_at: float = 0.0
    handled: int = 0
    dead_lettered: int = 0
    cpu_s: float = 0.0
    batch_sizes: list[int] = field(default_factory=list)
    reader: asyncio.Task | None = None

    @classmethod
    async def start(cls, fx: Fixture, target: int) -> ConsumerProcess:
        spec = {"dsn": fx.env.dsn, "nats_url": fx.env.nats_url, "schema": fx.schema, "producer": fx.producer}
        spec["target"] = target
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "consumer", json.dumps(spec), stdout=asyncio.subprocess.PIPE, limit=2**24
        )
        child = cls(proc, target, durable_name(fx.schema, "effects"))
        try:
            ready = json.loads(await asyncio.wait_for(proc.stdout.readline(), 30) or b"null")
        except asyncio.TimeoutError:
            ready = None
        if not ready:
            await child.stop()
            raise BrokenRun(f"the consumer process did not start (exit {proc.returncode})")
        child.started_at = ready["ready"]
        child.reader = asyncio.create_task(child._read())
        return child

    async def _read(self) -> None:
        line = await self.proc.stdout.readline()
        if line:
            report = json.loads(line)
            self.done_at, self.handled, self.dead_lettered = report["done"], report["handled"], report["dead_lettered"]
            self.cpu_s, self.batch_sizes = report["cpu_s"], report["batches"]
            self.done.set()
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)


async def replica_process(spec: dict[str, Any]) -> None:
    """Another replica of the producing service, in a process of its own (`python
    bench/outbox_throughput.py replica SPEC`): with `relay`, its outbox relay stands by (the
    bench's holds the lock) and signals the leader at each commit, as a service's replicas do;
    without, it is a process with no relay (the CLI), whose events the leader finds by its poll.
    It commits `count` events at `rate` a second and prints when each commit returned."""
    pool = await create_pool(spec["dsn"], spec["schema"], max_size=2)
    nc = await nats.connect(spec["nats_url"], name="bench-replica")
    relay = OutboxRelay(spec["dsn"], spec["schema"], nc) if spec["relay"] else None
    task = asyncio.create_task(relay.run()) if relay is not None else None
    while relay is not None and relay.state != "standby":
        await asyncio.sleep(0.01)
    model, interval = event_class(spec["producer"]), 1.0 / spec["rate"]
    committed: dict[str, float] = {}
    started = perf()
    for i in range(spec["count"]):
        event_id = uuid.uuid4()
        async with pool.acquire() as conn, conn.transaction():
            await add_event(conn, model(value=i, text=spec["payload"]), subject=f"probe-{i:06d}", event_id=event_id)
        committed[str(event_id)] = perf()
        await asyncio.sleep(max(0.0, started + (i + 1) * interval - perf()))
    await nc.flush()
    print(json.dumps({"committed": committed, "signals": relay.signals_sent if relay else 0}), flush=True)
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    await nc.close()
    await pool.close()


async def consumer_process(spec: dict[str, Any]) -> None:
    """The child's side of `ConsumerProcess`."""
    pool = await create_pool(spec["dsn"], spec["schema"])
    nc = await nats.connect(spec["nats_url"], name="bench-consumer")
    consumer = counting_consumer(nc, pool, spec["schema"], spec["producer"], spec["target"])
    await consumer.declare()
    started, cpu = perf(), time.process_time()
    task = asyncio.create_task(consumer.run())
    await asyncio.sleep(0.2)  # bound and fetching
    print(json.dumps({"ready": started}), flush=True)
    await consumer.done.wait()
    cpu = time.process_time() - cpu
    await nc.flush()  # the acks are on their way
    report = {"done": consumer.done_at, "handled": consumer.handled, "dead_lettered": consumer.dead_lettered}
    report |= {"cpu_s": cpu, "batches": consumer.batch_sizes}
    print(json.dumps(report), flush=True)
    consumer.stop()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await nc.close()
    await pool.close()


@dataclass
class Env:
    dsn: str
    nats_url: str
    payload: str
    timeout: float
    profiler: cProfile.Profile | None = None
    consumer_process: bool = False  # the consumer in a process of its own, not in this one


@dataclass
class Fixture:
    """A fresh producer: its own schema (outbox, inbox, effects) and its own stream."""

    env: Env
    producers: int
    schema: str = ""
    producer: str = ""
    model: type[Event] = Event
    pool: asyncpg.Pool | None = None  # the producing service's
    consumer_pool: asyncpg.Pool | None = None  # the consuming service's
    nc_producer: Any = None
    nc_consumer: Any = None
    tasks: list[asyncio.Task] = field(default_factory=list)
    children: list[ConsumerProcess] = field(default_factory=list)

    async def __aenter__(self) -> Fixture:
        suffix = uuid.uuid4().hex[:8]
        self.schema = f"bench_{suffix}"
        self.producer = f"bench{suffix}"
        self.model = event_class(self.producer)
        with tempfile.TemporaryDirectory(prefix="ecandidat-bench-migrations-") as folder:
            (Path(folder) / "0001_effects.sql").write_text(EFFECTS_SQL)
            await migrate(self.env.dsn, self.schema, Path(folder))
        self.pool = await create_pool(self.env.dsn, self.schema, min_size=self.producers, max_size=self.producers)
        self.consumer_pool = await create_pool(self.env.dsn, self.schema)
        self.nc_producer = await nats.connect(self.env.nats_url, name="bench-producer")
        self.nc_consumer = await nats.connect(self.env.nats_url, name="bench-consumer")
        await self.nc_producer.jetstream().add_stream(stream_config(self.producer))
        return self

    async def __aexit__(self, *_: Any) -> None:
        for child in self.children:
            await child.stop()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.nc_producer.jetstream().delete_stream(event_stream(self.producer))
        await self.nc_consumer.close()
        await self.nc_producer.close()
        await self.consumer_pool.close()
        async with self.pool.acquire() as conn:
            await conn.execute(f'DROP SCHEMA "{self.schema}" CASCADE')
        await self.pool.close()

    # -- the pieces ---------------------------------------------------------------------------

    async def start_relay(self, **options: Any) -> TracedRelay:
        relay = TracedRelay(self.env.dsn, self.schema, self.nc_producer, **options)
        self.tasks.append(asyncio.create_task(relay.run()))
        deadline = perf() + 15
        while not relay.is_leader:
            if perf() > deadline:
                raise BrokenRun("the outbox relay did not become leader within 15 s")
            await asyncio.sleep(0.01)
        return relay

    async def start_consumer(self, target: int) -> CountingConsumer | ConsumerProcess:
        """The consumer, bound and fetching: in this process, or in one of its own with
        `env.consumer_process` (as in production, where it is another service's)."""
        if self.env.consumer_process:
            child = await ConsumerProcess.start(self, target)
            self.children.append(child)
            return child
        consumer = counting_consumer(self.nc_consumer, self.consumer_pool, self.schema, self.producer, target)
        await consumer.declare()
        consumer.started_at = perf()
        self.tasks.append(asyncio.create_task(consumer.run()))
        await asyncio.sleep(0.2)  # bound and fetching
        return consumer

    async def commit(self, n: int, per_tx: int, bare: bool = False) -> None:
        """`self.producers` concurrent producers commit n events, `per_tx` per transaction; `bare`:
        the same envelope serialised and inserted into a plain table instead of the outbox."""
        transactions = -(-n // per_tx)
        shares = [transactions // self.producers + (i < transactions % self.producers) for i in range(self.producers)]
        model, text = self.model, self.env.payload
        left = [n]

        async def bare_event(conn: asyncpg.Connection, event: Event, subject: str) -> None:
            event_id = uuid.uuid4()
            body = envelope(event, event_id=event_id, time=datetime.now(timezone.utc), subject=subject)
            await conn.execute(
                "INSERT INTO bare_commits (event_id, subject, payload) VALUES ($1, $2, $3)",
                event_id,
                event_subject(event),
                body.model_dump_json().encode(),
            )

        add = bare_event if bare else add_event

        async def producer(index: int, count: int) -> None:
            for j in range(count):
                async with self.pool.acquire() as conn:
                    async with conn.transaction():
                        for _ in range(min(per_tx, left[0])):
                            left[0] -= 1
                            await add(conn, model(value=index, text=text), subject=f"probe-{j:06d}")

        await asyncio.gather(*(producer(i, c) for i, c in enumerate(shares)))

    async def wait_done(self, consumer: CountingConsumer | ConsumerProcess, watch: XminWatch | None = None) -> None:
        try:
            await asyncio.wait_for(consumer.done.wait(), self.env.timeout)
        except asyncio.TimeoutError:
            why = f" (oldest foreign transaction: {watch.stats()})" if watch is not None else ""
            raise BrokenRun(
                f"consumer handled {consumer.handled}/{consumer.target} events within {self.env.timeout:.0f} s{why}"
            ) from None

    async def verify(self, n: int, consumer: CountingConsumer | ConsumerProcess, relay: OutboxRelay) -> None:
        """Every event once in the stream, once in the effects, acked; nothing dead-lettered."""
        stored = (await self.nc_producer.jetstream().stream_info(event_stream(self.producer))).state.messages
        async with self.pool.acquire() as conn:
            for _ in range(50):  # the relay marks its last rows alone after MARK_DELAY without another round
                unsent = await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
                if not unsent:
                    break
                await asyncio.sleep(0.02)
            effects, distinct = await conn.fetchrow("SELECT count(*), count(DISTINCT event_id) FROM effects")
        await self.nc_consumer.flush()
        for _ in range(50):  # acks are asynchronous: give the server a moment to count them
            info = await self.nc_consumer.jetstream().consumer_info(event_stream(self.producer), consumer.durable)
            if info.num_ack_pending == 0 and info.num_pending == 0:
                break
            await asyncio.sleep(0.05)
        pending = (info.num_ack_pending, info.num_pending)
        checks = {
            f"{stored} messages in the stream, expected {n}": stored != n,
            f"relay published {relay.published}, expected {n}": relay.published != n,
            f"{unsent} outbox rows not marked sent": unsent > 0,
            f"{effects} effects for {distinct} distinct events, expected {n}": effects != n or distinct != n,
            f"{consumer.dead_lettered} events dead-lettered": consumer.dead_lettered > 0,
            "consumer: {} unacked, {} undelivered".format(*pending): any(pending),
        }
        if problems := [what for what, wrong in checks.items() if wrong]:
            raise BrokenRun(f"{self.schema}: " + "; ".join(problems))


def _profiled(env: Env) -> Any:
    return env.profiler if env.profiler is not None else contextlib.nullcontext()


def _rate(n: int, cpu: CpuMeter, started: float, committed: float, ended: float, **row: Any) -> dict[str, Any]:
    """A run's row: `row`, then the events, their rate (`started` → `ended`), the commit phase (→
    `committed`) and the tail after it, the CPU it took."""
    timed = {"elapsed_s": ended - started, "commit_phase_s": committed - started, "tail_s": ended - committed}
    machine = {"cpu_us_per_event": cpu.process_s / n * 1e6, "machine_busy": cpu.machine_busy}
    machine["machine_us_per_event"] = cpu.machine_busy_s / n * 1e6
    return row | {"events": n, "events_per_s": n / (ended - started)} | timed | machine


@dataclass
class Raw:
    """A fresh stream of the bench's (`js` publishes to it) and, with `consume`, a bare pull
    consumer without database acking that many messages (`acked`: message id → when)."""

    js: Any
    subject: str
    stream: str
    payload: bytes
    acked: dict[str, float] = field(default_factory=dict)
    task: asyncio.Task | None = None


@contextlib.asynccontextmanager
async def raw_stream(env: Env, consume: int = 0) -> AsyncIterator[Raw]:
    producer = f"benchraw{uuid.uuid4().hex[:8]}"
    model = event_class(producer)
    nc = await nats.connect(env.nats_url, name="bench-raw")
    nc_consumer = await nats.connect(env.nats_url, name="bench-raw-consumer")
    raw = Raw(nc.jetstream(), event_subject(model), event_stream(producer), envelope_bytes(model, env.payload))
    await raw.js.add_stream(stream_config(producer))
    try:
        if consume:
            sub = await nc_consumer.jetstream().pull_subscribe(raw.subject, durable="raw", stream=raw.stream)

            async def consume_loop() -> None:
                while len(raw.acked) < consume:
                    try:
                        msgs = await sub.fetch(100, timeout=1.0)
                    except (asyncio.TimeoutError, nats.errors.TimeoutError):
                        continue
                    for msg in msgs:
                        await msg.ack()
                    now = perf()
                    for msg in msgs:
                        raw.acked[msg.headers[Header.MSG_ID.value]] = now

            raw.task = asyncio.create_task(consume_loop())
            await asyncio.sleep(0.2)
        yield raw
    finally:
        if raw.task is not None:
            raw.task.cancel()
            await asyncio.gather(raw.task, return_exceptions=True)
        with contextlib.suppress(Exception):
            await raw.js.delete_stream(raw.stream)
        await nc_consumer.close()
        await nc.close()


# -- the runs --------------------------------------------------------------------------------------


async def run_outbox(env: Env, n: int, producers: int, per_tx: int) -> dict[str, Any]:
    async with Fixture(env, producers) as fx:
        relay = await fx.start_relay()
        consumer = await fx.start_consumer(n)
        async with XminWatch(env.dsn) as watch:
            with CpuMeter() as cpu, _profiled(env):
                started = perf()
                await fx.commit(n, per_tx)
                committed = perf()
                await fx.wait_done(consumer, watch)
        await fx.verify(n, consumer, relay)
        path = (f"outbox x{per_tx}" if per_tx > 1 else "outbox") + (", 2 processes" if env.consumer_process else "")
        batch = statistics.mean(consumer.batch_sizes or [0])
        row = _rate(n, cpu, started, committed, consumer.done_at, path=path, consumer_batch_avg=batch)
        return row | _consumer_cpu(consumer, n) | relay.stats(started) | watch.stats()


def _consumer_cpu(consumer: CountingConsumer | ConsumerProcess, n: int) -> dict[str, float]:
    """The consumer process's CPU per event (in this process's CPU when it runs here)."""
    return {"consumer_cpu_us_per_event": consumer.cpu_s / n * 1e6} if isinstance(consumer, ConsumerProcess) else {}


async def run_bare(env: Env, n: int, producers: int, per_tx: int) -> dict[str, Any]:
    """The baseline: the same producers' bare commits (no outbox, no relay, no consumer)."""
    async with Fixture(env, producers) as fx:
        async with XminWatch(env.dsn) as watch:
            with CpuMeter() as cpu, _profiled(env):
                started = perf()
                await fx.commit(n, per_tx, bare=True)
                ended = perf()
        async with fx.pool.acquire() as conn:
            stored = await conn.fetchval("SELECT count(*) FROM bare_commits")
        if stored != n:
            raise BrokenRun(f"bare commits: {stored} rows, expected {n}")
        path = f"bare commits x{per_tx}" if per_tx > 1 else "bare commits"
        return _rate(n, cpu, started, ended, ended, path=path) | watch.stats()


async def run_raw(env: Env, n: int, consume: bool = False, awaited_by: int = 0) -> dict[str, Any]:
    """Pipelined js.publish_async of n messages of the payload's size; all acks awaited.

    `consume`: a bare pull consumer (no database) acks them too, the timer stops at the last.
    `awaited_by=P`: instead of pipelining, P concurrent publishers each await every ack
    (`js.publish`), as a service publishing straight from its handlers would.
    """
    ids = [str(uuid.uuid4()) for _ in range(n)]
    async with raw_stream(env, n if consume else 0) as raw:
        js, subject, payload = raw.js, raw.subject, raw.payload
        try:
            with CpuMeter() as cpu, _profiled(env):
                started = perf()
                if awaited_by:

                    async def publisher(share: list[str]) -> None:
                        for msg_id in share:
                            await js.publish(subject, payload, headers={Header.MSG_ID.value: msg_id})

                    shares = [ids[i::awaited_by] for i in range(awaited_by)]
                    await asyncio.wait_for(asyncio.gather(*(publisher(share) for share in shares)), env.timeout)
                else:
                    futures = [await js.publish_async(subject, payload, headers={Header.MSG_ID.value: i}) for i in ids]
                    await asyncio.wait_for(asyncio.gather(*futures), env.timeout)
                published = perf()
                if raw.task is not None:
                    await asyncio.wait_for(raw.task, env.timeout)
                ended = perf()
        except asyncio.TimeoutError:
            raise BrokenRun(f"raw: not done within {env.timeout:.0f} s") from None
        stored = (await js.stream_info(raw.stream)).state.messages
        if stored != n:
            raise BrokenRun(f"raw: {stored} messages in the stream, expected {n}")
        if consume and len(raw.acked) != n:
            raise BrokenRun(f"raw: consumed {len(raw.acked)}, expected {n}")
    path = f"raw awaited x{awaited_by}" if awaited_by else "raw pub+consume" if consume else "raw publish"
    return _rate(n, cpu, started, published, ended, path=path, payload_bytes=len(payload))


async def run_trickle(env: Env, kind: str, count: int, rate: float) -> dict[str, Any]:
    """Latency of single events at a low, steady rate (what a user waiting for a mail feels).

    `outbox`: one producer commits one event every 1/rate s; latency = commit returned → the
    consumer has committed and acked it. `replica`: the same producer in another process, a
    replica whose relay stands by and signals the leader (here) at each commit; `replica, poll
    0.5 s`: the same process without a relay, found by the leader's poll of 0.5 s — how the
    leader found the other replicas' events before their signal. `raw`: one awaited js.publish
    every 1/rate s to a bare pull consumer; latency = publish started → ack sent.
    """
    interval = 1.0 / rate
    extra: dict[str, Any] = {}
    if kind.startswith("replica"):
        signalled = kind == "replica"
        async with Fixture(env, 1) as fx:
            relay = await fx.start_relay(**({} if signalled else {"poll_interval": 0.5}))
            consumer = await fx.start_consumer(count)
            spec = {"dsn": env.dsn, "nats_url": env.nats_url, "schema": fx.schema, "producer": fx.producer}
            spec |= {"count": count, "rate": rate, "payload": env.payload, "relay": signalled}
            proc = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "replica", json.dumps(spec), stdout=asyncio.subprocess.PIPE, limit=2**24
            )
            try:
                line = await asyncio.wait_for(proc.stdout.readline(), env.timeout)
            except asyncio.TimeoutError:
                line = b""
            finally:
                if proc.returncode is None:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(proc.wait(), 10)
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
            if not line:
                raise BrokenRun(f"the replica process did not report its commits (exit {proc.returncode})")
            report = json.loads(line)
            await fx.wait_done(consumer)
            await fx.verify(count, consumer, relay)
            latencies = [consumer.handled_at[k] - t for k, t in report["committed"].items()]
            first_commit = min(report["committed"].values(), default=0.0)  # perf_counter: one clock for all processes
            extra = relay.stats(first_commit) | {"signals": report["signals"]}
    elif kind == "outbox":
        async with Fixture(env, 1) as fx:
            relay = await fx.start_relay()
            consumer = await fx.start_consumer(count)
            committed: dict[str, float] = {}
            async with XminWatch(env.dsn) as watch:
                started = perf()
                for i in range(count):
                    event_id = uuid.uuid4()
                    async with fx.pool.acquire() as conn:
                        async with conn.transaction():
                            await add_event(
                                conn, fx.model(value=i, text=env.payload), subject=f"probe-{i:06d}", event_id=event_id
                            )
                    committed[str(event_id)] = perf()
                    await asyncio.sleep(max(0.0, started + (i + 1) * interval - perf()))
                await fx.wait_done(consumer, watch)
            await fx.verify(count, consumer, relay)
            latencies = [consumer.handled_at[k] - t for k, t in committed.items()]
            extra = relay.stats(started) | watch.stats()
    else:
        sent: dict[str, float] = {}
        async with raw_stream(env, count) as raw:
            try:
                started = perf()
                for i in range(count):
                    msg_id = str(uuid.uuid4())
                    sent[msg_id] = perf()
                    await raw.js.publish(raw.subject, raw.payload, headers={Header.MSG_ID.value: msg_id})
                    await asyncio.sleep(max(0.0, started + (i + 1) * interval - perf()))
                await asyncio.wait_for(raw.task, env.timeout)
            except asyncio.TimeoutError:
                raise BrokenRun(f"raw trickle: {len(raw.acked)}/{count} consumed within {env.timeout:.0f} s") from None
            latencies = [raw.acked[k] - t for k, t in sent.items()]
    path = "raw publish → consume" if kind == "raw" else kind
    over_1s = sum(1 for x in latencies if x > 1.0)
    return {"path": path, "events": count, "rate": rate, **percentiles_ms(latencies), "over_1s": over_1s, **extra}


class HeldRelay(TracedRelay):
    """A relay whose lock's connection the bench can cut, as the death of its process would."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn: asyncpg.Connection | None = None

    async def _publish_batch(self, conn: asyncpg.Connection) -> int:
        self.conn = conn
        return await super()._publish_batch(conn)


async def run_handover(env: Env, kind: str, count: int) -> dict[str, Any]:
    """How long the relay is without a leader when its leader goes: `stopped` (its process shuts
    down: it unlocks and signals `leader_left`), `died` (its lock's connection cut, no word: the
    standby finds the lock free at its next try, every OUTBOX_LOCK_RETRY). Time: from the
    leader's task cancelled (stopped) or its connection cut (died) to the standby leading."""
    times, retry = [], 0.0
    async with Fixture(env, 1) as fx:
        for _ in range(count):
            leader, standby = (
                HeldRelay(env.dsn, fx.schema, fx.nc_producer),
                HeldRelay(env.dsn, fx.schema, fx.nc_producer),
            )
            retry, tasks = standby.lock_retry, [asyncio.create_task(leader.run())]
            try:
                while leader.conn is None:
                    await asyncio.sleep(0.005)
                tasks.append(asyncio.create_task(standby.run()))
                while standby.state != "standby":
                    await asyncio.sleep(0.005)
                await asyncio.sleep(random.uniform(0.05, retry))  # any phase of the standby's tries
                started = perf()
                if kind == "died":
                    leader.conn.terminate()
                tasks[0].cancel()
                while not standby.is_leader:
                    if perf() - started > env.timeout:
                        raise BrokenRun(f"handover ({kind}): no new leader within {env.timeout:.0f} s")
                    await asyncio.sleep(0.001)
                times.append(perf() - started)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
    return {"leader": kind, "handovers": count, "retry_s": retry, **percentiles_ms(times)}


async def run_stages(env: Env, n: int, producers: int) -> list[dict[str, Any]]:
    """Each stage alone: commits (relay stopped), then the relay on that backlog, then the consumer."""
    rows = []
    async with Fixture(env, producers) as fx:
        with CpuMeter() as cpu:
            started = perf()
            await fx.commit(n, 1)
            ended = perf()
        rows.append(_rate(n, cpu, started, ended, ended, stage="commits only"))
        async with XminWatch(env.dsn) as watch:
            with CpuMeter() as cpu:
                started = perf()
                relay = await fx.start_relay()  # includes connecting and taking the leader lock (~ms)
                deadline = started + env.timeout
                while relay.published < n:
                    if perf() > deadline:
                        raise BrokenRun(f"stages: relay published {relay.published}/{n}")
                    await asyncio.sleep(0.002)
                ended = perf()
        rows.append(
            _rate(n, cpu, started, ended, ended, stage="relay only (backlog)") | watch.stats() | relay.stats(started)
        )
        with CpuMeter() as cpu:
            consumer = await fx.start_consumer(n)
            await fx.wait_done(consumer)
        rows.append(
            _rate(n, cpu, consumer.started_at, consumer.done_at, consumer.done_at, stage="consumer only (backlog)")
        )
        await fx.verify(n, consumer, relay)
    return rows


# -- main ------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    quick = "smoke run: 400 events, 1 repetition, 20 trickle events"
    parser = Arguments(__doc__, quick, events=(4000, 400), reps=(3, 1), trickle=(200, 20), handovers=(10, 3))
    parser.add_argument("--events", type=int, help="events per run (default 4000, quick 400)")
    parser.add_argument("--producers", type=int, default=8, help="concurrent producers (default 8)")
    parser.add_argument("--per-tx", default="1,10", help="events per transaction, an outbox path each (default 1,10)")
    parser.add_argument("--reps", type=int, help="repetitions of each path, interleaved (default 3, quick 1)")
    parser.add_argument("--no-stages", action="store_true", help="skip the per-stage decomposition")
    parser.add_argument(
        "--no-consumer-process",
        action="store_true",
        help="skip the path `outbox, 2 processes` (the consumer in a process of its own)",
    )
    parser.add_argument("--trickle", type=int, help="events of the latency runs, 0: none (default 200, quick 20)")
    parser.add_argument("--handovers", type=int, help="leaders stopped, then killed, 0: none (default 10, quick 3)")
    parser.add_argument("--profile", action="store_true", help="cProfile the timed sections, print the top functions")
    args = parser.parse_args()
    args.per_tx = [int(x) for x in args.per_tx.split(",") if x.strip()]
    return args


async def main() -> None:
    args = parse_args()
    info = conditions(
        mode="quick" if args.quick else "full",
        events=args.events,
        producers=args.producers,
        repetitions=args.reps,
        **{"events per transaction": ",".join(map(str, args.per_tx))},
    )
    with workdir("outbox") as folder, nats_server(folder) as ns:
        async with database(folder) as db:
            info["database"] = db.where
            info["postgresql"] = ", ".join(f"{k}={v}" for k, v in db.settings.items())
            info["nats store"] = "file, default sync policy (fsync every 2 min), own nats-server"
            info["process layout"] = (
                "producers, relay, consumer and raw publisher in this one process (1 core); "
                "`outbox, 2 processes`: the consumer in a process of its own"
            )
            env = Env(db.url, ns.url, padding_for(PAYLOAD_BYTES), TIMEOUT, cProfile.Profile() if args.profile else None)
            print_conditions(info)
            # Warm-up: connections, imports, the first stream and schema; not reported.
            await run_raw(env, min(500, args.events))
            await run_outbox(env, min(200, args.events), args.producers, 1)

            runs: list[dict[str, Any]] = []
            n = args.events
            plan = [
                partial(run_raw, env, n),
                partial(run_raw, env, n, True),
                partial(run_raw, env, n, False, args.producers),
            ]
            for k in args.per_tx:
                plan += [partial(run_bare, env, n, args.producers, k), partial(run_outbox, env, n, args.producers, k)]
            if 1 in args.per_tx and not args.no_consumer_process:
                plan.append(partial(run_outbox, replace(env, consumer_process=True), n, args.producers, 1))
            for rep in range(1, args.reps + 1):
                for run in plan if rep % 2 else plan[::-1]:  # alternate the order so drift does not favour one path
                    row = await run()
                    row["rep"] = rep
                    runs.append(row)
                    print(f"  rep {rep}: {row['path']:<16} {row['events_per_s']:>9,.0f} events/s", flush=True)
            print()
            stages = [] if args.no_stages else await run_stages(env, args.events, args.producers)
            kinds = ("raw", "outbox", "replica", "replica, poll 0.5 s") if args.trickle else ()
            trickle = [await run_trickle(env, kind, args.trickle, TRICKLE_RATE) for kind in kinds]
            kinds = ("stopped", "died") if args.handovers else ()
            handovers = [await run_handover(env, kind, args.handovers) for kind in kinds]

    report(info, args, runs, stages, trickle, env, handovers)


def _table(title: str, headers: str, keys: str, rows: list[dict[str, Any]]) -> None:
    """`rows`' values of the space-separated `keys` (None where missing; machine_busy as a percentage)
    under the |-separated `headers`."""
    cells = [[f"{r[k]:.0%}" if k == "machine_busy" else r.get(k) for k in keys.split()] for r in rows]
    print_table(title, headers.split("|"), cells)


def _ceiling(stages: list[dict[str, Any]]) -> str:
    """What the machine's CPU allows the outbox path when its cores are all busy: each event then
    costs at least the machine CPU of its commit, its relaying and its consumption, each measured
    alone on a backlog, against the commit's alone for bare commits."""
    cost = {row["stage"].split()[0]: row["machine_us_per_event"] for row in stages}
    whole = cost["commits"] + cost["relay"] + cost["consumer"]
    return (
        f"CPU ceiling of outbox ÷ bare commits on this machine when its cores are saturated: commit "
        f"{cost['commits']:.0f} µs ÷ (commit + relay {cost['relay']:.0f} + consumer {cost['consumer']:.0f} µs) "
        f"of machine CPU per event = {cost['commits'] / whole:.2f}\n"
    )


def _baseline(path: str) -> str:
    """The baseline of a path: an outbox path's is the same producers' bare commits."""
    return path.split(",")[0].replace("outbox", "bare commits") if path.startswith("outbox") else "raw publish"


def report(
    info: dict[str, Any],
    args: argparse.Namespace,
    runs: list[dict[str, Any]],
    stages: list[dict[str, Any]],
    trickle: list[dict[str, Any]],
    env: Env,
    handovers: list[dict[str, Any]],
) -> None:
    print_conditions(info)
    _table(
        "each run (timer: first commit → N-th event handled and acked; raw: first publish → last ack)",
        "rep|path|events/s|elapsed s|commit/pub s|tail s|CPU µs/ev|cons. CPU|machine|cons. batch|relay batches|empty|"
        "stall s|stalls|other xact s",
        """rep path events_per_s elapsed_s commit_phase_s tail_s cpu_us_per_event consumer_cpu_us_per_event
        machine_busy consumer_batch_avg
        relay_batches relay_empty_batches relay_longest_stall_s relay_stalls other_xact_max_s""",
        runs,
    )
    print(
        "  commit/pub s: until the last commit (raw: the last publish ack); tail s: from there to the last\n"
        "  event handled; CPU µs/ev: this process's CPU per event; cons. CPU: the consumer process's\n"
        "  (`outbox, 2 processes`; elsewhere it is part of this one's); machine: all cores busy during the run;\n"
        "  cons. batch: mean fetched batch; relay batches/empty: relay rounds / those that found nothing\n"
        "  publishable; stall s: longest relay pause that ended with rows to publish; stalls: pauses > 0.5 s\n"
        "  that ended with rows to publish; other xact s: the longest-lived transaction holding an xid\n"
        "  elsewhere on the PostgreSQL server (other databases included) seen during the run (it held the\n"
        "  relay back while the relay ordered by the server's oldest transaction; it no longer does).\n"
    )
    by_rep: dict[int, dict[str, dict[str, Any]]] = {}
    for r in runs:
        by_rep.setdefault(r["rep"], {})[r["path"]] = r
    summary = []
    for path in dict.fromkeys(r["path"] for r in runs):
        rates = [r["events_per_s"] for r in runs if r["path"] == path]
        base = _baseline(path)
        ratios = [ratio(rep[path]["events_per_s"], rep[base]["events_per_s"]) for rep in by_rep.values() if base in rep]
        raw = [ratio(rep[path]["events_per_s"], rep["raw publish"]["events_per_s"]) for rep in by_rep.values()]
        cells = [median(rates), min(rates), max(rates), base if path != base else "-"]
        summary.append([path, *cells, *(f"{x:.3f}" for x in (median(ratios), min(ratios), max(ratios), median(raw)))])
    print_table(
        "summary (median of the repetitions; ratio = path / its baseline in the same repetition: an outbox\n"
        "path's is the same producers' bare commits, the others' raw publish)",
        ["path", "events/s", "min", "max", "baseline", "ratio", "ratio min", "ratio max", "÷ raw publish"],
        summary,
    )
    outbox = next((s for s in summary if s[0] == "outbox"), None)
    if outbox is not None:
        verdict = "met" if float(outbox[5]) >= 0.8 else "NOT met"
        print(
            f"target (outbox ≥ 0.8 × the same producers' bare commits, one event per transaction): {verdict} — "
            f"ratio {outbox[5]}\n"
        )
    if stages:
        _table(
            "stages alone (same N, same producers; each on the backlog left by the previous one)",
            "stage|events/s|elapsed s|CPU µs/event|machine µs/event|machine busy|relay stall s|other xact s",
            """stage events_per_s elapsed_s cpu_us_per_event machine_us_per_event machine_busy relay_longest_stall_s
            other_xact_max_s""",
            stages,
        )
        print(
            "  CPU µs/event: this process's (the stages run in it); machine µs/event: every core's busy time\n"
            "  over the stage, per event (PostgreSQL and nats-server included, and whatever else runs)\n"
        )
        print(_ceiling(stages))
    if trickle:
        _table(
            f"latency at a trickle ({TRICKLE_RATE:g} events/s, one producer; outbox: commit returned → handled and acked)",
            "path|events|p50 ms|p90 ms|p99 ms|max ms|> 1 s|relay stall s|stalls|other xact s|signals",
            "path events p50_ms p90_ms p99_ms max_ms over_1s relay_longest_stall_s relay_stalls other_xact_max_s signals",
            trickle,
        )
        print("  signals: those the replica's relay sent the leader (`replica`: one per commit here)\n")
    if handovers:
        _table(
            "the relay without a leader, from its leader stopped (it unlocks and signals) or died (its connection cut)"
            " to the standby leading",
            "leader|handovers|p50 ms|p90 ms|p99 ms|max ms",
            "leader handovers p50_ms p90_ms p99_ms max_ms",
            handovers,
        )
        retry = handovers[0]["retry_s"]
        print(f"  died: found at the standby's next try of the lock, every {retry:g} s (OUTBOX_LOCK_RETRY)\n")
    if env.profiler is not None:
        print("cProfile of the timed sections (all paths together), top 30 by own time:")
        pstats.Stats(env.profiler, stream=sys.stdout).sort_stats("tottime").print_stats(30)
    save_results(
        "outbox_throughput",
        {"conditions": info, "runs": runs, "stages": stages, "trickle": trickle, "handovers": handovers},
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["consumer"]:
        asyncio.run(consumer_process(json.loads(sys.argv[2])))
    elif sys.argv[1:2] == ["replica"]:
        asyncio.run(replica_process(json.loads(sys.argv[2])))
    else:
        run_main(main)
