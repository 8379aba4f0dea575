"""The transactional outbox and its relay, against real PostgreSQL and NATS JetStream."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import random

import asyncpg
import pytest

from ecandidat.contracts.envelope import CloudEvent
from ecandidat.runtime.db import create_pool, migrate
from ecandidat.runtime.natsauth import OPS
from ecandidat.runtime.outbox import INBOX_RETENTION, OutboxRelay, add_event, add_events
from tests.conftest import eventually
from tests.integration.conftest import die_before_marking

ROOT = Path(__file__).resolve().parents[2]


async def stream_messages(kit, count_at_least: int = 0) -> list:
    js = kit.nc.jetstream()
    info = await js.stream_info(kit.stream)
    msgs = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        if info.state.messages == 0:
            break
        msgs.append(await js.get_msg(kit.stream, seq))
    return msgs


async def stream_count(kit) -> int:
    return (await kit.nc.jetstream().stream_info(kit.stream)).state.messages


def relay_for(kit, **options) -> OutboxRelay:
    return OutboxRelay(kit.dsn, kit.schema, kit.nc, **{"poll_interval": 0.2, "publish_timeout": 1.0, **options})


async def run(relay: OutboxRelay) -> asyncio.Task:
    task = asyncio.create_task(relay.run())
    await eventually(lambda: relay.is_leader, message="relay became leader")
    return task


async def stop(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_committed_event_is_published_with_its_id_as_msg_id(kit):
    Probe = kit.event_class()
    task = await run(relay_for(kit))
    try:
        async with kit.pool.acquire() as conn, conn.transaction():
            event_id = await add_event(conn, Probe(value=7), subject="probe-1")
        await eventually(lambda: stream_count(kit), message="event published")
        [msg] = await stream_messages(kit)
        assert msg.headers["Nats-Msg-Id"] == str(event_id)
        envelope = CloudEvent.model_validate_json(msg.data)
        assert envelope.id == event_id
        assert envelope.type == f"fr.ecandidat.{kit.producer}.probe.happened"
        assert envelope.subject == "probe-1"
        assert envelope.specversion == "1.0"
        assert envelope.data == {"value": 7}
        async with kit.pool.acquire() as conn:
            await eventually(
                lambda: conn.fetchval("SELECT sent_at IS NOT NULL FROM outbox WHERE event_id = $1", event_id),
                message="row marked sent",
            )
    finally:
        await stop(task)


async def test_rolled_back_transaction_publishes_nothing(kit):
    Probe = kit.event_class()
    task = await run(relay_for(kit))
    try:
        with pytest.raises(RuntimeError):
            async with kit.pool.acquire() as conn, conn.transaction():
                await add_event(conn, Probe(value=1))
                raise RuntimeError("the state change failed")
        for value in (2, 3):
            async with kit.pool.acquire() as conn, conn.transaction():
                await add_event(conn, Probe(value=value))
        # Published in order: once the last event is in the stream, an earlier one would be too.
        await eventually(lambda: _count_is(kit, 2), message="the committed events published")
        msgs = await stream_messages(kit)
        assert [json.loads(m.data)["data"]["value"] for m in msgs] == [2, 3]
    finally:
        await stop(task)


async def test_events_added_together_are_published_in_list_order_with_their_subjects(kit):
    Probe = kit.event_class()
    task = await run(relay_for(kit))
    try:
        async with kit.pool.acquire() as conn, conn.transaction():
            await add_event(conn, Probe(value=0))
            ids = await add_events(
                conn, [(Probe(value=v), f"probe-{v}") for v in (1, 2, 3)], request_ids=["r1", None, "r3"]
            )
        await eventually(lambda: _count_is(kit, 4), message="the four events published")
        envelopes = [CloudEvent.model_validate_json(m.data) for m in await stream_messages(kit)]
        assert [e.data["value"] for e in envelopes] == [0, 1, 2, 3]
        assert [e.id for e in envelopes[1:]] == ids
        assert [e.subject for e in envelopes[1:]] == ["probe-1", "probe-2", "probe-3"]
        assert [e.request_id for e in envelopes[1:]] == ["r1", None, "r3"]
        async with kit.pool.acquire() as conn:
            with pytest.raises(RuntimeError):
                await add_events(conn, [(Probe(value=4), None)])  # outside a transaction
    finally:
        await stop(task)


async def test_add_event_outside_a_transaction_is_refused(kit):
    Probe = kit.event_class()
    async with kit.pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="inside the transaction"):
            await add_event(conn, Probe(value=1))


async def test_events_are_published_in_order_even_when_transactions_interleave(kit):
    """A transaction that took a smaller seq and commits later holds back the ones behind it."""
    Probe = kit.event_class()
    relay = relay_for(kit)
    task = await run(relay)
    try:
        slow = await kit.pool.acquire()
        tx = slow.transaction()
        await tx.start()
        await add_event(slow, Probe(value=1))  # seq n, not committed yet
        async with kit.pool.acquire() as conn, conn.transaction():
            await add_event(conn, Probe(value=2))  # seq n+1, committed first
        rounds = relay.rounds
        await eventually(lambda: relay.rounds >= rounds + 3, message="the relay looked at the outbox meanwhile")
        assert await stream_count(kit) == 0, "a later event was published before an earlier one could commit"
        await tx.commit()
        await kit.pool.release(slow)
        for value in range(3, 203):
            async with kit.pool.acquire() as conn, conn.transaction():
                await add_event(conn, Probe(value=value))
        await eventually(lambda: _count_is(kit, 202), message="all events published")
        values = [json.loads(m.data)["data"]["value"] for m in await stream_messages(kit)]
        assert values == list(range(1, 203))
    finally:
        await stop(task)


async def test_committed_events_below_a_writer_in_flight_are_published_without_waiting_for_it(kit):
    """Writers in flight above a run of committed seqs hold nothing of it back: the events whose
    every smaller seq is committed go while a later seq's transaction is still open, and one
    committed above that open seq waits for it."""
    Probe = kit.event_class()
    relay = OutboxRelay(kit.dsn, kit.schema, kit.nc, poll_interval=30)  # woken by the commits
    task = await run(relay)
    first = await kit.pool.acquire()
    slow = await kit.pool.acquire()
    try:
        tx_first, tx_slow = first.transaction(), slow.transaction()
        await tx_first.start()
        await add_event(first, Probe(value=1))  # seq n
        await tx_slow.start()
        await add_event(slow, Probe(value=2))  # seq n+1, in flight for the rest of the test
        await tx_first.commit()
        await eventually(lambda: _count_is(kit, 1), message="published while a later writer is in flight")
        async with kit.pool.acquire() as conn, conn.transaction():
            await add_event(conn, Probe(value=3))  # seq n+2, above the open seq n+1
        rounds = relay.rounds
        await eventually(lambda: relay.rounds >= rounds + 3, message="the relay looked at the outbox meanwhile")
        assert await stream_count(kit) == 1, "an event was published before a smaller seq could commit"
        await tx_slow.commit()
        await eventually(lambda: _count_is(kit, 3), message="the rest published once the writer committed")
        values = [json.loads(m.data)["data"]["value"] for m in await stream_messages(kit)]
        assert values == [1, 2, 3]
    finally:
        for conn in (first, slow):
            if conn.is_in_transaction():
                await conn.execute("ROLLBACK")
            await kit.pool.release(conn)
        await stop(task)


async def test_events_committed_by_another_replica_are_published_without_waiting_for_the_poll(kit, nats_server):
    """A replica whose relay stands by (another process holds the lock) tells the leader, by a NATS
    signal, that it committed events: the leader publishes them at once, not at its next poll
    (an hour here)."""
    relay = OutboxRelay(kit.dsn, kit.schema, kit.nc, poll_interval=3600)
    task = await run(relay)
    env = dict(os.environ, NATS_URL=nats_server.url, PYTHONPATH=str(ROOT))
    if nats_server.credentials is not None:
        env["NATS_NKEY_SEED"] = nats_server.credentials.seed(OPS)
    replica = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.outbox_replica",
        kit.dsn,
        kit.schema,
        kit.producer,
        "3",
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert replica.stdout is not None and replica.stdin is not None
        line = (await asyncio.wait_for(replica.stdout.readline(), 60)).decode()
        assert line.startswith("committed 3 signals "), line
        assert "state standby" in line, line
        assert int(line.split()[3]) >= 1, line
        await eventually(lambda: _count_is(kit, 3), timeout=10, message="the replica's events published by the leader")
        values = [json.loads(m.data)["data"]["value"] for m in await stream_messages(kit)]
        assert values == [0, 1, 2]
    finally:
        if replica.stdin is not None:
            replica.stdin.close()
        try:
            await asyncio.wait_for(replica.wait(), 20)
        except asyncio.TimeoutError:
            replica.kill()
            await replica.wait()
        await stop(task)


async def test_an_event_above_a_rolled_back_seq_goes_at_once_without_waiting_for_the_poll(kit):
    """A rolled-back seq ends the run of committed seqs above the horizon; the relay's round that
    learns the writers have ended moves the horizon past it and looks again at once, rather than
    at the next poll (30 s here)."""
    Probe = kit.event_class()
    relay = OutboxRelay(kit.dsn, kit.schema, kit.nc, poll_interval=30)  # woken by the commits
    task = await run(relay)
    try:
        await _rolled_back_then_committed(kit, Probe, 1, 2)
        await eventually(lambda: _count_is(kit, 1), message="published without waiting for the poll")
        assert [json.loads(m.data)["data"]["value"] for m in await stream_messages(kit)] == [2]
    finally:
        await stop(task)


async def test_the_relay_reads_the_outboxs_writers_only_for_a_gap_in_the_seqs(kit):
    """Reading the writers scans the server's whole lock table: a round that finds every seq taken
    committed does without it, however often it runs; a rolled-back seq, which never commits, is
    passed by a round that reads them."""
    Probe = kit.event_class()
    relay = OutboxRelay(kit.dsn, kit.schema, kit.nc, poll_interval=30)  # woken by the commits
    task = await run(relay)
    try:
        for value in range(20):
            async with kit.pool.acquire() as conn, conn.transaction():
                await add_event(conn, Probe(value=value))
        await eventually(lambda: _count_is(kit, 20), message="published")
        reads, rounds = relay.writer_reads, relay.rounds
        for _ in range(10):
            relay.wake()
            await eventually(lambda: relay.rounds > rounds, message="the relay took a round")
            rounds = relay.rounds
        assert relay.writer_reads == reads, "rounds without a gap read the writers"
        await _rolled_back_then_committed(kit, Probe, 20, 21)
        await eventually(lambda: _count_is(kit, 21), message="published past the rolled-back seq")
        assert relay.writer_reads > reads, "the rolled-back seq was passed without reading the writers"
        values = [json.loads(m.data)["data"]["value"] for m in await stream_messages(kit)]
        assert values == [*range(20), 21]
    finally:
        await stop(task)


async def _rolled_back_then_committed(kit, Probe, rolled_back: int, committed: int) -> None:
    """An event whose transaction rolls back (its seq never commits), then one committed above it."""
    with pytest.raises(RuntimeError):
        async with kit.pool.acquire() as conn, conn.transaction():
            await add_event(conn, Probe(value=rolled_back))
            raise RuntimeError("the state change failed")
    async with kit.pool.acquire() as conn, conn.transaction():
        await add_event(conn, Probe(value=committed))


async def _count_is(kit, n: int) -> bool:
    return await stream_count(kit) == n


@pytest.mark.slow
async def test_nats_down_at_commit_only_delays_publication(kit, nats_server):
    Probe = kit.event_class()
    relay = relay_for(kit)
    task = await run(relay)
    try:
        nats_server.stop()
        async with kit.pool.acquire() as conn, conn.transaction():
            event_ids = [await add_event(conn, Probe(value=v)) for v in range(5)]
        rounds = relay.rounds
        await eventually(lambda: relay.rounds >= rounds + 2, message="the relay tried while NATS was down")
        async with kit.pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 5
        nats_server.start()
        await eventually(lambda: _count_is(kit, 5), timeout=30, message="published after NATS came back")
        msgs = await stream_messages(kit)
        assert [m.headers["Nats-Msg-Id"] for m in msgs] == [str(e) for e in event_ids]
        async with kit.pool.acquire() as conn:
            await eventually(
                lambda: conn.fetchval("SELECT count(*) = 0 FROM outbox WHERE sent_at IS NULL"), message="marked sent"
            )
    finally:
        await stop(task)


@pytest.mark.slow
async def test_relay_killed_between_publish_and_mark_sent_publishes_no_duplicate(kit, monkeypatch):
    Probe = kit.event_class()
    relay = relay_for(kit)
    crashed = die_before_marking(monkeypatch, relay)  # after the acks, before the UPDATE
    async with kit.pool.acquire() as conn, conn.transaction():
        ids = [await add_event(conn, Probe(value=v)) for v in range(10)]
    task = asyncio.create_task(relay.run())  # after the commit: its first batch has the ten
    await asyncio.wait_for(crashed.wait(), 10)
    await asyncio.gather(task, return_exceptions=True)
    assert await stream_count(kit) == 10
    async with kit.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 10

    restarted = relay_for(kit)
    task = await run(restarted)
    try:
        async with kit.pool.acquire() as conn:
            await eventually(
                lambda: conn.fetchval("SELECT count(*) = 0 FROM outbox WHERE sent_at IS NULL"),
                message="rows marked sent",
            )
        msgs = await stream_messages(kit)
        assert [m.headers["Nats-Msg-Id"] for m in msgs] == [str(i) for i in ids], "duplicates or reordering"
    finally:
        await stop(task)


async def test_only_one_relay_per_service_publishes(kit):
    Probe = kit.event_class()
    first, second = relay_for(kit), relay_for(kit)
    t1 = await run(first)
    t2 = asyncio.create_task(second.run())
    try:
        await eventually(lambda: second.state == "standby", message="the second relay waits for the lock")
        async with kit.pool.acquire() as conn, conn.transaction():
            for v in range(20):
                await add_event(conn, Probe(value=v))
        await eventually(lambda: first.published == 20, message="published by the leader")
        assert second.state == "standby" and second.published == 0 and await stream_count(kit) == 20
        await stop(t1)  # the leader goes away: the standby takes over
        await eventually(lambda: second.is_leader, message="standby became leader")
        async with kit.pool.acquire() as conn, conn.transaction():
            await add_event(conn, Probe(value=99))
        await eventually(lambda: second.published == 1, message="published by the new leader")
        assert await stream_count(kit) == 21
    finally:
        await stop(t1)
        await stop(t2)


async def test_a_leader_that_stops_hands_over_to_a_standby_at_once(kit):
    """A rolling deployment stops the leader's process: it lets go of the lock and says so, and the
    replica standing by takes over at once, not at its next try of the lock (an hour here)."""
    Probe = kit.event_class()
    first = OutboxRelay(kit.dsn, kit.schema, kit.nc, poll_interval=3600, lock_retry=3600)
    second = OutboxRelay(kit.dsn, kit.schema, kit.nc, poll_interval=3600, lock_retry=3600)
    t1 = await run(first)
    t2 = asyncio.create_task(second.run())
    try:
        await eventually(lambda: second.state == "standby", message="the second relay waits for the lock")
        await stop(t1)
        await eventually(lambda: second.is_leader, timeout=5, message="the standby took over at once")
        async with kit.pool.acquire() as conn, conn.transaction():
            await add_event(conn, Probe(value=1))
        await eventually(lambda: second.published == 1, timeout=5, message="published by the new leader")
    finally:
        await stop(t1)
        await stop(t2)


async def test_a_commit_in_the_relays_process_wakes_it_before_the_poll_interval(kit):
    Probe = kit.event_class()
    relay = OutboxRelay(kit.dsn, kit.schema, kit.nc, poll_interval=30)
    wakes = []
    wake = relay.wake
    relay.wake = lambda: (wakes.append(relay.rounds), wake())  # type: ignore[method-assign]
    task = await run(relay)
    try:
        # Its first look is done: from now on it waits to be woken (or 30 s).
        await eventually(lambda: relay.rounds >= 1, message="the relay looked once")
        async with kit.pool.acquire() as conn, conn.transaction():
            await add_event(conn, Probe(value=1))
        await eventually(lambda: stream_count(kit), timeout=20, message="published without waiting for the poll (30 s)")
        woken = len(wakes)
        async with kit.pool.acquire() as conn:
            async with conn.transaction():
                await conn.execute("INSERT INTO effects (event_id, consumer, value) VALUES ($1, 'x', 1)", uuid.uuid4())
            with pytest.raises(RuntimeError):
                async with conn.transaction():
                    await add_event(conn, Probe(value=2))
                    raise RuntimeError("rolled back")
            async with conn.transaction():
                await add_event(conn, Probe(value=3))
        await eventually(lambda: _count_is(kit, 2), timeout=20, message="the second commit woke it too")
        assert len(wakes) == woken + 1, "only the commit that added an event woke the relay"
    finally:
        await stop(task)


async def test_an_event_committed_by_another_process_is_found_by_the_poll(kit):
    """A connection that is not the kit's (another process: a replica, the CLI) wakes nobody here."""
    Probe = kit.event_class()
    relay = relay_for(kit)  # polls every 0.2 s
    task = await run(relay)
    other = await asyncpg.connect(kit.dsn, server_settings={"search_path": kit.schema})
    try:
        async with other.transaction():
            event_id = await add_event(other, Probe(value=1))
        await eventually(lambda: stream_count(kit), message="published by the poll")
        [msg] = await stream_messages(kit)
        assert msg.headers["Nats-Msg-Id"] == str(event_id)
    finally:
        await other.close()
        await stop(task)


async def test_a_long_transaction_of_another_database_or_service_holds_nothing_back(kit, pg_admin_url):
    """Only this outbox's own writers order its publication: a transaction holding a transaction
    id in another database of the server, and another service's writer in the same database, both
    open for the whole test, delay nothing here (they held the old `txid < pg_snapshot_xmin` back)."""
    Probe = kit.event_class()
    other_schema = f"kt_{uuid.uuid4().hex[:8]}"
    await migrate(kit.dsn, other_schema, None)
    other_pool = await create_pool(kit.dsn, other_schema, max_size=1)
    elsewhere = await asyncpg.connect(pg_admin_url)
    relay = OutboxRelay(kit.dsn, kit.schema, kit.nc, poll_interval=30)  # woken by the commit
    task = await run(relay)
    try:
        async with elsewhere.transaction():
            await elsewhere.fetchval("SELECT pg_current_xact_id()")  # an xid, in another database
            async with other_pool.acquire() as other, other.transaction():
                await add_event(other, kit.event_class("elsewhere")(value=0))  # another service's writer
                async with kit.pool.acquire() as conn, conn.transaction():
                    event_id = await add_event(conn, Probe(value=1))
                await eventually(lambda: stream_count(kit), message="published while both transactions are open")
                [msg] = await stream_messages(kit)
                assert msg.headers["Nats-Msg-Id"] == str(event_id)
                assert await elsewhere.fetchval("SELECT pg_current_xact_id() IS NOT NULL")
    finally:
        await stop(task)
        await elsewhere.close()
        await other_pool.close()
        conn = await asyncpg.connect(kit.dsn)
        try:
            await conn.execute(f'DROP SCHEMA "{other_schema}" CASCADE')
        finally:
            await conn.close()


async def test_concurrent_producers_are_published_in_seq_order_each_aggregate_in_commit_order(kit):
    """Five producers commit interleaved transactions, some held open a moment after their insert
    so that later seqs commit first; the stream follows the outbox's seq, with nothing lost or
    repeated, and each aggregate's events come in the order they were committed."""
    Probe = kit.event_class()
    relay = relay_for(kit)
    task = await run(relay)
    rng = random.Random(17)
    pauses = [[rng.choice((0, 0, 0, 0.001, 0.005)) for _ in range(25)] for _ in range(5)]
    try:

        async def producer(index: int) -> None:
            for n, pause in enumerate(pauses[index]):
                async with kit.pool.acquire() as conn, conn.transaction():
                    await add_event(conn, Probe(value=n), subject=f"aggregate-{index}")
                    await asyncio.sleep(pause)

        await asyncio.gather(*(producer(i) for i in range(5)))
        await eventually(lambda: _count_is(kit, 5 * 25), timeout=30, message="all events published")
        msgs = await stream_messages(kit)
        async with kit.pool.acquire() as conn:
            seq = {str(r["event_id"]): r["seq"] for r in await conn.fetch("SELECT event_id, seq FROM outbox")}
        seqs = [seq[m.headers["Nats-Msg-Id"]] for m in msgs]
        assert seqs == sorted(seq.values()), "the stream does not follow the outbox's seq"
        by_aggregate: dict[str, list[int]] = {}
        for m in msgs:
            envelope = json.loads(m.data)
            by_aggregate.setdefault(envelope["subject"], []).append(envelope["data"]["value"])
        assert by_aggregate == {f"aggregate-{i}": list(range(25)) for i in range(5)}
    finally:
        await stop(task)


async def test_the_relay_purges_what_cannot_come_again_and_keeps_the_rest(kit):
    """Sent outbox rows after the retention; inbox rows only once their event cannot be delivered
    or replayed any more (the stream's age, and a day)."""
    old, recent = uuid.uuid4(), uuid.uuid4()
    async with kit.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO inbox (consumer, event_id, processed_at) VALUES "
            "('probe', $1, now() - $3::interval), ('probe', $2, now() - $4::interval)",
            old,
            recent,
            INBOX_RETENTION + timedelta(hours=1),
            INBOX_RETENTION - timedelta(hours=1),
        )
        await relay_for(kit)._purge(conn)
        kept = {r["event_id"] for r in await conn.fetch("SELECT event_id FROM inbox WHERE consumer = 'probe'")}
    assert kept == {recent}
    assert INBOX_RETENTION > timedelta(days=90)


async def test_the_relays_statements_are_planned_once_not_at_each_round(kit, monkeypatch):
    """A round of one event marks `seq = ANY($1)` with one element: PostgreSQL would plan such a
    statement again at every round (a custom plan looks cheaper than the kept one), some 0.05 ms
    of the server's CPU each; the relay's connection keeps one plan for each of its statements.
    Events one at a time, each marked alone once the relay has waited MARK_DELAY for another — or
    by the next round, when the commit's wake reached the relay during the round that published it
    (seen on a loaded machine): the test waits for the mark, whichever statement made it."""
    Probe = kit.event_class()
    plans: list[asyncpg.Record] = []
    mark = OutboxRelay._mark_sent

    async def mark_and_count(self, conn):
        marking = bool(self._unmarked)
        await mark(self, conn)
        if marking:
            plans.append(
                await conn.fetchrow(
                    """SELECT sum(generic_plans) FILTER (WHERE statement LIKE 'UPDATE outbox%') AS marks,
                              sum(custom_plans) AS custom_plans FROM pg_prepared_statements"""
                )
            )

    async def marked(count: int) -> bool:
        async with kit.pool.acquire() as conn:
            return await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL") >= count

    monkeypatch.setattr(OutboxRelay, "_mark_sent", mark_and_count)
    task = await run(relay_for(kit, poll_interval=30))  # only the commits wake it: no round between
    try:
        for value in range(8):
            async with kit.pool.acquire() as conn, conn.transaction():
                await add_event(conn, Probe(value=value))
            await eventually(lambda: marked(value + 1), timeout=20, message=f"event {value} marked sent")
        await eventually(lambda: plans, message="one event marked alone")
    finally:
        await stop(task)
    assert [dict(p) for p in plans[-1:]] == [{"marks": len(plans), "custom_plans": 0}]


async def test_the_next_round_marks_what_the_last_one_published(kit, monkeypatch):
    """Events close together: the round that looks for the next ones marks the last ones sent in
    the same statement (no UPDATE of its own); after MARK_DELAY with no round, they are marked
    alone. Until marked, a row is not published again."""
    monkeypatch.setattr("ecandidat.runtime.outbox.MARK_DELAY", 5.0)
    Probe = kit.event_class()
    alone: list[list[int]] = []
    mark = OutboxRelay._mark_sent

    async def counted(self, conn):
        if self._unmarked:
            alone.append(list(self._unmarked))
        await mark(self, conn)

    monkeypatch.setattr(OutboxRelay, "_mark_sent", counted)

    async def sent(conn) -> list[bool]:
        return [r["sent"] for r in await conn.fetch("SELECT sent_at IS NOT NULL AS sent FROM outbox ORDER BY seq")]

    relay = relay_for(kit, poll_interval=30)  # only the commits wake it: no round between
    task = await run(relay)
    try:
        async with kit.pool.acquire() as conn:
            async with conn.transaction():
                await add_event(conn, Probe(value=1))
            await eventually(lambda: _count_is(kit, 1), timeout=20, message="the first published")
            assert await sent(conn) == [False]  # the relay waits for a round to mark it
            async with conn.transaction():
                await add_event(conn, Probe(value=2))
            await eventually(lambda: _count_is(kit, 2), timeout=20, message="the second published")
            assert await sent(conn) == [True, False] and alone == []

            async def both_marked() -> bool:
                return await sent(conn) == [True, True]

            await eventually(both_marked, timeout=20, message="the last marked alone")
            assert len(alone) == 1 and await stream_count(kit) == 2
            assert relay.published == 2  # neither published again while it waited for its mark
    finally:
        await stop(task)
