"""The idempotent consumer loop: inbox, retries, dead letters, replicas, replay."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

import nats.errors
import pytest
from nats.aio.msg import Msg

from ecandidat.contracts.envelope import envelope
from ecandidat.contracts.subjects import dead_letter_stream, dead_letter_subject, event_subject
from ecandidat.runtime.consumer import EventConsumer, PermanentFailure, Subscription
from ecandidat.runtime.deadletter import dead_letters_of as dead_letters_of_consumer
from ecandidat.runtime.deadletter import list_dead_letters, replay_dead_letter
from ecandidat.runtime.nats import connect
from tests.conftest import eventually
from tests.integration.conftest import KIT_SERVICE


async def publish(kit, model, value: int, *, event_id: uuid.UUID | None = None, msg_id: str | None = None) -> uuid.UUID:
    event_id = event_id or uuid.uuid4()
    body = envelope(model(value=value), event_id=event_id, time=datetime.now(timezone.utc))
    await kit.nc.jetstream().publish(
        event_subject(model), body.model_dump_json().encode(), headers={"Nats-Msg-Id": msg_id or str(event_id)}
    )
    return event_id


def recording_handler(consumer_name: str, fail_on: set[int] | None = None, permanent_on: set[int] | None = None):
    async def handle(conn, event, meta) -> None:
        if permanent_on and event.value in permanent_on:
            raise PermanentFailure(f"value {event.value} can never be handled")
        if fail_on and event.value in fail_on:
            raise RuntimeError(f"value {event.value} fails")
        await conn.execute(
            "INSERT INTO effects (event_id, consumer, value) VALUES ($1, $2, $3)", meta.id, consumer_name, event.value
        )

    return handle


def make_consumer(
    kit, model, handler, purpose="probe", nc=None, subscriptions=(), service_timings=False, **options
) -> EventConsumer:
    """A consumer of the kit's stream: `handler` for `model`, or the given `subscriptions`; with
    short waits and few deliveries, or with `service_timings` the services' own."""
    opts = {} if service_timings else dict(max_deliver=3, ack_wait=2.0, backoff=(0.1, 0.2), batch=20, fetch_timeout=0.3)
    opts.update(options)
    return EventConsumer(
        nc=nc or kit.nc,
        pool=kit.pool,
        service=KIT_SERVICE,
        purpose=purpose,
        producer=kit.producer,
        subscriptions=list(subscriptions) or [Subscription(model, handler)],
        **opts,
    )


async def handled_as_one_batch(kit, consumer: EventConsumer, n: int) -> list[str]:
    """The consumer's next `n` events fetched, handled in one batch and acked: their outcomes."""
    sub = await kit.nc.jetstream().pull_subscribe_bind(consumer.durable, consumer.spec.stream)
    try:
        msgs: list[Msg] = []
        while len(msgs) < n:
            msgs += await sub.fetch(n - len(msgs), timeout=5)
        outcomes = await consumer._handle_batch(msgs)
        for msg in msgs:
            await msg.ack()
    finally:
        await sub.unsubscribe()
    return [outcome for _, outcome, _ in outcomes]


async def effects(kit, consumer: str | None = None) -> list[int]:
    async with kit.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT value FROM effects WHERE $1::text IS NULL OR consumer = $1 ORDER BY id", consumer
        )
    return [r["value"] for r in rows]


async def dead_letters_of(kit, durable: str) -> list:
    return [d for d in await list_dead_letters(kit.nc.jetstream(), 10_000, [KIT_SERVICE]) if d.consumer == durable]


async def test_redelivered_event_changes_nothing(kit):
    Probe = kit.event_class()
    consumer = make_consumer(kit, Probe, recording_handler("a"))
    task = asyncio.create_task(consumer.run())
    try:
        event_id = uuid.uuid4()
        await publish(kit, Probe, 1, event_id=event_id)
        # The same event again, past JetStream's dedup (another Nats-Msg-Id): the inbox absorbs it.
        await publish(kit, Probe, 1, event_id=event_id, msg_id="another-copy")
        await publish(kit, Probe, 2)
        await eventually(lambda: consumer.handled == 3, message="three deliveries handled")
        assert await effects(kit) == [1, 2]
    finally:
        consumer.stop()
        await task


async def test_poison_event_is_dead_lettered_without_holding_up_the_others(kit):
    Probe = kit.event_class()
    consumer = make_consumer(kit, Probe, recording_handler("a", fail_on={13}))
    task = asyncio.create_task(consumer.run())
    try:
        poison = await publish(kit, Probe, 13)
        for v in range(1, 6):
            await publish(kit, Probe, v)
        await eventually(lambda: effects(kit), message="others handled")
        await eventually(lambda: _effects_are(kit, [1, 2, 3, 4, 5]), timeout=30, message="all good events handled")
        await eventually(lambda: consumer.dead_lettered == 1, timeout=30, message="poison dead-lettered")
        [letter] = await dead_letters_of(kit, consumer.durable)
        assert json.loads(letter.data)["id"] == str(poison)
        assert letter.deliveries == 3
        assert letter.error == "RuntimeError: value 13 fails"  # the count is the letter's own field, not in the text
        info = await kit.nc.jetstream().consumer_info(kit.stream, consumer.durable)
        assert info.num_ack_pending == 0 and info.num_pending == 0
    finally:
        consumer.stop()
        await task


async def _effects_are(kit, values, consumer: str | None = None) -> bool:
    return await effects(kit, consumer) == values


async def test_permanent_failure_goes_to_dead_letters_at_once(kit):
    Probe = kit.event_class()
    consumer = make_consumer(kit, Probe, recording_handler("a", permanent_on={66}), purpose="permanent")
    task = asyncio.create_task(consumer.run())
    try:
        await publish(kit, Probe, 66)
        await eventually(lambda: consumer.dead_lettered == 1, message="dead-lettered")
        [letter] = await dead_letters_of(kit, consumer.durable)
        assert letter.deliveries == 1
    finally:
        consumer.stop()
        await task


async def test_malformed_event_is_dead_lettered(kit):
    Probe = kit.event_class()
    consumer = make_consumer(kit, Probe, recording_handler("a"), purpose="malformed")
    task = asyncio.create_task(consumer.run())
    try:
        await kit.nc.jetstream().publish(event_subject(Probe), b"not json at all")
        body = envelope(Probe(value=1), event_id=uuid.uuid4(), time=datetime.now(timezone.utc)).model_dump()
        body["data"] = {"value": "not a number"}
        await kit.nc.jetstream().publish(event_subject(Probe), json.dumps(body, default=str).encode())
        await publish(kit, Probe, 5)
        await eventually(lambda: consumer.dead_lettered == 2, message="both dead-lettered")
        await eventually(lambda: _effects_are(kit, [5]), message="the good event behind them handled")
    finally:
        consumer.stop()
        await task


async def test_replayed_dead_letter_is_handled_once_fixed(kit):
    Probe = kit.event_class()
    broken = {21}
    consumer = make_consumer(kit, Probe, recording_handler("a", fail_on=broken), purpose="replay")
    task = asyncio.create_task(consumer.run())
    try:
        await publish(kit, Probe, 21)
        await eventually(lambda: consumer.dead_lettered == 1, timeout=30, message="dead-lettered")
        [letter] = await dead_letters_of(kit, consumer.durable)
        broken.clear()  # the operator fixed the cause
        await replay_dead_letter(kit.nc.jetstream(), KIT_SERVICE, letter.seq)
        await eventually(lambda: _effects_are(kit, [21]), message="handled after replay")
        assert await dead_letters_of(kit, consumer.durable) == []
        js = kit.nc.jetstream()
        assert (await js.stream_info(dead_letter_stream(KIT_SERVICE))).state.messages >= 0
    finally:
        consumer.stop()
        await task


async def test_a_dead_letter_handed_back_to_its_consumer_twice_at_once_has_one_effect(kit):
    Probe = kit.event_class()
    broken = {31}
    consumer = make_consumer(kit, Probe, recording_handler("a", fail_on=broken), purpose="handback")
    task = asyncio.create_task(consumer.run())
    try:
        await publish(kit, Probe, 31)
        await eventually(lambda: consumer.dead_lettered == 1, timeout=30, message="dead-lettered")
        [letter], _ = await dead_letters_of_consumer(
            kit.nc.jetstream(), KIT_SERVICE, [consumer.durable, consumer.durable]
        )
        assert letter.original_stream == consumer.spec.stream and letter.time is not None
        outcome, error, seen = await consumer.replay(letter.data)
        assert outcome == "retry" and "value 31 fails" in error and not seen  # not fixed yet
        broken.clear()
        outcomes = await asyncio.gather(consumer.replay(letter.data), consumer.replay(letter.data))
        assert [o[0] for o in outcomes] == ["ack", "ack"]
        assert await consumer.replay(letter.data) == ("ack", None, True)
        assert await effects(kit, "a") == [31]
    finally:
        consumer.stop()
        await task


async def test_a_service_lists_its_newest_dead_letters_and_counts_them_all(kit):
    """Hundreds of letters of two consumers, some replayed (removed) among them and at the end: the
    listing is the newest, as the page says, and the count is all of them."""
    js, tag = kit.nc.jetstream(), uuid.uuid4().hex[:6]
    a, b = f"{KIT_SERVICE}_newest_a_{tag}", f"{KIT_SERVICE}_newest_b_{tag}"
    seqs: dict[str, list[int]] = {a: [], b: []}
    for i in range(700):
        durable = a if i % 3 else b
        headers = {"Ecandidat-Consumer": durable, "Ecandidat-Error": "RuntimeError: x", "Ecandidat-Deliveries": "3"}
        ack = await js.publish(dead_letter_subject(KIT_SERVICE, durable), str(i).encode(), headers=headers)
        seqs[durable].append(ack.seq)
    removed = {*seqs[a][-50:-20], *seqs[b][-10:], *seqs[a][:5]}
    for seq in removed:
        await js.delete_msg(dead_letter_stream(KIT_SERVICE), seq)
    kept = {d: [s for s in found if s not in removed] for d, found in seqs.items()}

    listed, _ = await dead_letters_of_consumer(js, KIT_SERVICE, [a, b], 200)
    assert [letter.seq for letter in listed] == sorted(kept[a] + kept[b], reverse=True)[:200]
    assert {letter.consumer for letter in listed} == {a, b} and listed[0].error == "RuntimeError: x"
    only_b, _ = await dead_letters_of_consumer(js, KIT_SERVICE, [b], 50)
    assert [letter.seq for letter in only_b] == sorted(kept[b], reverse=True)[:50]
    everything, _ = await dead_letters_of_consumer(js, KIT_SERVICE, [a], 500)
    assert [letter.seq for letter in everything] == sorted(kept[a], reverse=True)
    listed, total = await dead_letters_of_consumer(js, KIT_SERVICE, [a, b], 10)
    assert len(listed) == 10 and total == len(kept[a]) + len(kept[b]), "the total counts beyond the page"
    assert (await dead_letters_of_consumer(js, KIT_SERVICE, [b], 10))[1] == len(kept[b])


async def test_two_replicas_share_the_work_with_one_effect_per_event(kit):
    Probe = kit.event_class()
    replicas = [make_consumer(kit, Probe, recording_handler("shared"), purpose="shared", batch=5) for _ in range(2)]
    tasks = [asyncio.create_task(r.run()) for r in replicas]
    try:
        ids = [await publish(kit, Probe, v) for v in range(300)]
        # and every event a second time, as a redelivery would bring it
        for v, event_id in enumerate(ids[:100]):
            await publish(kit, Probe, v, event_id=event_id, msg_id=f"again-{event_id}")
        await eventually(lambda: sum(r.handled for r in replicas) == 400, timeout=30, message="all handled")
        values = await effects(kit, "shared")
        assert sorted(values) == list(range(300)), "an event had no effect or more than one"
        assert all(r.handled > 0 for r in replicas), [r.handled for r in replicas]
    finally:
        for r in replicas:
            r.stop()
        await asyncio.gather(*tasks)


async def test_consumer_resumes_after_a_crash_before_ack(kit, monkeypatch):
    """Effects committed but not acked: the redelivery finds the inbox rows and changes nothing."""
    Probe = kit.event_class()
    first = make_consumer(kit, Probe, recording_handler("crash"), purpose="crash")

    async def crash(msg, outcome, error):
        raise asyncio.CancelledError()  # the process dies after the commit, before any ack

    monkeypatch.setattr(first, "_settle", crash)
    for v in range(10):
        await publish(kit, Probe, v)
    task = asyncio.create_task(first.run())
    await eventually(lambda: _effects_are(kit, list(range(10))), message="effects committed")
    await asyncio.gather(task, return_exceptions=True)

    second = make_consumer(kit, Probe, recording_handler("crash"), purpose="crash")
    task = asyncio.create_task(second.run())
    try:
        await eventually(lambda: second.handled >= 10, timeout=15, message="redelivered after ack_wait")
        assert await effects(kit) == list(range(10))
    finally:
        second.stop()
        await task


async def test_a_consumer_waiting_for_events_stops_at_once_and_loses_none(kit):
    """An idle consumer waits long for events (one fetch per wait is what it costs at rest); asked to
    stop, it returns at once rather than at the end of its wait, and an event published then, which
    the abandoned pull request may still take, reaches the replica that comes next."""
    Probe = kit.event_class()
    first = make_consumer(kit, Probe, recording_handler("idle"), purpose="idle", fetch_timeout=30.0)
    task = asyncio.create_task(first.run())
    await publish(kit, Probe, 1)
    await eventually(lambda: first.handled == 1, message="first event handled")
    await asyncio.sleep(0.2)  # back to waiting for the next events
    stopping = asyncio.get_running_loop().time()
    first.stop()
    assert await asyncio.wait_for(task, 5.0) is None, "the loop returns, it is not left cancelled"
    stopped_in = asyncio.get_running_loop().time() - stopping
    assert stopped_in < 1.0, f"stopped {stopped_in:.2f} s after being asked, in the middle of a 30 s wait"
    await publish(kit, Probe, 2)

    second = make_consumer(kit, Probe, recording_handler("idle"), purpose="idle")
    task = asyncio.create_task(second.run())
    try:
        await eventually(lambda: _effects_are(kit, [1, 2]), timeout=15, message="the event after the stop handled")
    finally:
        second.stop()
        await task


@pytest.mark.slow
async def test_a_consumer_waiting_for_events_fetches_again_as_soon_as_nats_is_back(kit, nats_server):
    """A restarted nats-server forgets the pull request the consumer was waiting on: the consumer
    asks again when its connection is back, not at the end of its (long) wait."""
    Probe = kit.event_class()
    nc = await connect(
        [nats_server.url], "consumer-reconnects", reconnect_time_wait=0.2, **nats_server.connect_options()
    )
    consumer = make_consumer(
        kit, Probe, recording_handler("reconnects"), purpose="reconnects", nc=nc, fetch_timeout=60.0
    )
    task = asyncio.create_task(consumer.run())
    try:
        await publish(kit, Probe, 1)
        await eventually(lambda: consumer.handled == 1, message="first event handled")
        nats_server.restart()
        await eventually(lambda: nc.is_connected, timeout=20, message="connected again")
        after = uuid.uuid4()

        async def published() -> bool:  # JetStream answers a moment after the server is back
            try:
                await publish(kit, Probe, 2, event_id=after)  # again with the same id: stored once
            except (nats.errors.Error, asyncio.TimeoutError):
                return False
            return True

        await eventually(published, timeout=20, message="published once JetStream is back")
        await eventually(lambda: _effects_are(kit, [1, 2]), timeout=15, message="the event after the restart handled")
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 5.0)
        await nc.close()


async def test_a_batch_longer_than_the_ack_wait_is_not_delivered_again(kit, monkeypatch):
    """A long handler tells JetStream it is still at work: the other replica does not get its
    event meanwhile, however short the ack wait."""
    Probe = kit.event_class()
    beats = 0
    in_progress = Msg.in_progress

    async def counted(self) -> None:
        nonlocal beats
        beats += 1
        await in_progress(self)

    monkeypatch.setattr(Msg, "in_progress", counted)
    handled: list[int] = []

    async def long_handler(conn, event, meta) -> None:
        handled.append(event.value)
        # Outlive the ack wait (1 s) twice over, counted in heartbeats (one every third of it).
        await eventually(lambda: beats >= 6, timeout=30, message="heartbeats while the handler works")

    replicas = [make_consumer(kit, Probe, long_handler, purpose="long", ack_wait=1.0) for _ in range(2)]
    tasks = [asyncio.create_task(r.run()) for r in replicas]
    try:
        await publish(kit, Probe, 1)
        await eventually(lambda: sum(r.handled for r in replicas) == 1, timeout=60, message="handled")

        async def acked():
            info = await kit.nc.jetstream().consumer_info(kit.stream, replicas[0].durable)
            return info if info.num_ack_pending == 0 and info.num_pending == 0 else None

        info = await eventually(acked, message="the event acked")
        assert info.num_redelivered == 0
        assert handled == [1], "the event was handed to the other replica while the first worked on it"
    finally:
        for r in replicas:
            r.stop()
        await asyncio.gather(*tasks)


KILLED_CONSUMER = """
import asyncio, json, pathlib, sys
import nats
from ecandidat.contracts.base import Event
from ecandidat.runtime.consumer import EventConsumer, Subscription
from ecandidat.runtime.db import create_pool

dsn, schema, url, options, producer, marker = sys.argv[1:]
Probe = type("Probe", (Event,), {"__annotations__": {"value": int}, "producer": producer, "entity": "probe",
                                 "action": "happened"})

async def handle(conn, event, meta):
    pathlib.Path(marker).touch()
    await asyncio.Event().wait()  # still at work when the process is killed

async def main():
    pool = await create_pool(dsn, schema, max_size=2)
    nc = await nats.connect(url, **json.loads(options))
    consumer = EventConsumer(nc=nc, pool=pool, service="kittest", purpose="killed", producer=producer,
                             subscriptions=[Subscription(Probe, handle)], fetch_timeout=0.3)
    await consumer.run()

asyncio.run(main())
"""


@pytest.mark.slow
async def test_the_events_of_a_consumer_process_killed_mid_batch_go_to_another_replica_soon(kit, nats_server, tmp_path):
    """With the default ack wait (short: long batches extend it), not after half a minute."""
    Probe = kit.event_class()
    marker = tmp_path / "handling"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            KILLED_CONSUMER,
            kit.dsn,
            kit.schema,
            nats_server.url,
            json.dumps(nats_server.connect_options()),
            kit.producer,
            str(marker),
        ],
        cwd=Path(__file__).parents[2],
    )
    try:
        await publish(kit, Probe, 5)
        await eventually(marker.exists, timeout=60, message="the consumer process is handling the event")
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    survivor = EventConsumer(
        nc=kit.nc,
        pool=kit.pool,
        service=KIT_SERVICE,
        purpose="killed",
        producer=kit.producer,
        subscriptions=[Subscription(Probe, recording_handler("survivor"))],
        fetch_timeout=0.3,
    )
    task = asyncio.create_task(survivor.run())
    try:
        await eventually(lambda: _effects_are(kit, [5]), timeout=20, message="handled by the surviving replica")
    finally:
        survivor.stop()
        await task


async def test_prepared_work_runs_before_the_transaction_and_reaches_the_handler(kit):
    """`prepare` (slow work without the database: a PDF, a file in storage) runs with no
    transaction of the service open; a failed preparation is retried; an event already handled is
    not prepared again."""
    Probe = kit.event_class()
    prepared: list[int] = []
    open_transactions: list[int] = []
    failures = {2}

    async def prepare(event, meta) -> int:
        # A transaction held open around this call would be waiting on it: "idle in transaction".
        # (The test's own polling queries, single statements of the same pool, are "active".)
        async with kit.pool.acquire() as conn:
            open_transactions.append(
                await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 "
                    "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()",
                    f"ecandidat-{kit.schema}",
                )
            )
        prepared.append(event.value)
        if event.value in failures:
            failures.discard(event.value)
            raise RuntimeError("storage unavailable for a moment")
        return event.value * 10

    async def handle(conn, event, meta, value) -> None:
        await conn.execute(
            "INSERT INTO effects (event_id, consumer, value) VALUES ($1, 'prepared', $2)", meta.id, value
        )

    consumer = EventConsumer(
        nc=kit.nc,
        pool=kit.pool,
        service=KIT_SERVICE,
        purpose="prepared",
        producer=kit.producer,
        subscriptions=[Subscription(Probe, handle, prepare=prepare)],
        max_deliver=3,
        ack_wait=2.0,
        backoff=(0.1, 0.2),
        batch=20,
        fetch_timeout=0.3,
    )
    task = asyncio.create_task(consumer.run())
    try:
        first = await publish(kit, Probe, 1)
        await publish(kit, Probe, 2)
        await eventually(lambda: _effects_are(kit, [10, 20], "prepared"), message="both handled, the second retried")
        await publish(kit, Probe, 1, event_id=first, msg_id="a-copy")  # redelivered: handled already
        await publish(kit, Probe, 3)
        await eventually(lambda: _effects_are(kit, [10, 20, 30], "prepared"), message="the third handled")
        assert sorted(prepared) == [1, 2, 2, 3]
        assert open_transactions and not any(open_transactions), open_transactions
    finally:
        consumer.stop()
        await task


async def test_a_failing_handler_in_a_batch_costs_the_others_nothing(kit):
    """One batch: a repeated event, an event whose handler fails, a malformed one. The batch is
    first handled together (one inbox insert, no savepoints), then, because a handler failed, each
    event on its own: the others' effects once each, the failure retried, the malformed dead-lettered."""
    Probe = kit.event_class()
    consumer = make_consumer(kit, Probe, recording_handler("batch", fail_on={3}), purpose="batch", batch=10)
    await consumer.declare()
    first = await publish(kit, Probe, 1)
    await publish(kit, Probe, 1, event_id=first, msg_id="again")
    for v in (2, 3, 4):
        await publish(kit, Probe, v)
    await kit.nc.jetstream().publish(event_subject(Probe), b"{not json", headers={"Nats-Msg-Id": "malformed"})
    sub = await kit.nc.jetstream().pull_subscribe_bind(consumer.durable, consumer.spec.stream)
    msgs: list[Msg] = []
    while len(msgs) < 6:
        msgs += await sub.fetch(6 - len(msgs), timeout=5)
    outcomes = await consumer._handle_batch(msgs)
    assert [outcome for _, outcome, _ in outcomes] == ["ack", "ack", "ack", "retry", "ack", "dead"]
    assert sorted(await effects(kit, "batch")) == [1, 2, 4]
    async with kit.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", consumer.durable) == 3

    healthy = make_consumer(kit, Probe, recording_handler("batch"), purpose="batch", batch=10)
    outcomes = await healthy._handle_batch(msgs[:5])  # the same events again, the handler fixed
    assert [outcome for _, outcome, _ in outcomes] == ["ack"] * 5
    assert sorted(await effects(kit, "batch")) == [1, 2, 3, 4]
    for msg in msgs:
        await msg.term()
    await sub.unsubscribe()


async def test_a_batch_handler_gets_the_runs_of_its_events_in_order_and_falls_back_to_the_handler(kit):
    """Two event types of one producer, one with a batch handler: the fresh events of that type
    that follow one another reach it together, the effects stay in stream order, a repeated event
    is handled once; a lone one and, when the batch handler fails, each event go through the handler."""
    Probe, Other = kit.event_class(), kit.event_class("other")
    runs: list[list[int]] = []

    def batch_handler(fail_on: set[int] | None = None):
        async def handle_many(conn, items) -> None:
            runs.append([event.value for event, _ in items])
            if fail_on and any(event.value in fail_on for event, _ in items):
                raise RuntimeError("the batch fails")
            for event, meta in items:
                await conn.execute(
                    "INSERT INTO effects (event_id, consumer, value) VALUES ($1, 'runs', $2)", meta.id, event.value
                )

        return handle_many

    async def handled_batch(handler, values, *, repeat_first=False) -> list[str]:
        subscriptions = [
            Subscription(Probe, recording_handler("runs"), batch=handler),
            Subscription(Other, recording_handler("runs")),
        ]
        consumer = make_consumer(kit, None, None, purpose="runs", subscriptions=subscriptions)
        await consumer.declare()
        ids = []
        for n, (model, value) in enumerate(values):
            ids.append(await publish(kit, model, value))
            if n == 0 and repeat_first:
                await publish(kit, model, value, event_id=ids[0], msg_id="again")
        return await handled_as_one_batch(kit, consumer, len(values) + repeat_first)

    values = [(Probe, 1), (Probe, 2), (Other, 3), (Probe, 4), (Probe, 5), (Probe, 6)]
    assert await handled_batch(batch_handler(), values, repeat_first=True) == ["ack"] * 7
    assert runs == [[1, 2], [4, 5, 6]]
    assert await effects(kit, "runs") == [1, 2, 3, 4, 5, 6]

    runs.clear()
    values = [(Probe, 7), (Probe, 8), (Other, 9)]
    assert await handled_batch(batch_handler(fail_on={8}), values) == ["ack"] * 3
    assert runs == [[7, 8]]  # then, rolled back, one event at a time through the handler
    assert await effects(kit, "runs") == [1, 2, 3, 4, 5, 6, 7, 8, 9]

    runs.clear()  # a run of one event goes to the handler, whose statements keep their plans
    values = [(Probe, 10), (Other, 11), (Probe, 12), (Probe, 13)]
    assert await handled_batch(batch_handler(), values) == ["ack"] * 4
    assert runs == [[12, 13]]
    assert await effects(kit, "runs") == list(range(1, 14))


async def test_an_idempotent_subscription_takes_no_inbox_row_and_gets_a_redelivery_again(kit):
    """A handler that applies an event at most once itself (a projection keeping the version it
    holds) gets its events without an inbox row, one statement an event less; a redelivered event
    reaches it again, while the other subscription's repeat changes nothing."""
    Probe, Other = kit.event_class(), kit.event_class("other")
    subscriptions = [
        Subscription(Probe, recording_handler("idem"), idempotent=True),
        Subscription(Other, recording_handler("idem")),
    ]
    consumer = make_consumer(kit, None, None, purpose="idem", subscriptions=subscriptions)
    await consumer.declare()
    ids = [await publish(kit, Probe, 1), await publish(kit, Other, 2)]
    assert await handled_as_one_batch(kit, consumer, 2) == ["ack", "ack"]
    await publish(kit, Probe, 1, event_id=ids[0], msg_id="again-1")  # delivered again
    await publish(kit, Other, 2, event_id=ids[1], msg_id="again-2")
    assert await handled_as_one_batch(kit, consumer, 2) == ["ack", "ack"]
    assert await effects(kit, "idem") == [1, 2, 1]
    async with kit.pool.acquire() as conn:
        inbox = await conn.fetch("SELECT event_id FROM inbox WHERE consumer = $1", consumer.durable)
    assert [r["event_id"] for r in inbox] == [ids[1]]
