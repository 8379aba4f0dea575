"""Transactional outbox: events are rows written in the caller's transaction; a relay publishes them.

`add_event(conn, event, ...)` must be called inside the transaction that changes the state the
event describes: both commit or neither does. The relay of a service runs in one replica at a time
(a PostgreSQL advisory lock held on its connection). It publishes rows in `seq` order, and only
rows that are final: up to the *horizon*, a `seq` below which no row can still commit. Rows
committed just above the horizon with no gap in their seqs are final (a committed row is, and
nothing can appear between consecutive seqs): each round reads them, with the sequence's last
value V, in one statement; they go at once and the horizon moves past them, so that a writer in
flight holds back only the events behind its own seq, not those committed below it. When that run
reaches V, every seq taken is published or being published. A *gap* (a seq below V that is not
committed) is most often a writer about to commit, which fills it: the next rounds see it filled.
When the same gap outlasts GAP_PATIENCE (a rollback, which leaves a seq that never commits, or a
long transaction), a round also reads the transactions writing to this outbox right now (those
holding the table's RowExclusiveLock, which an INSERT takes before its `seq`), after V: once every
one of them has ended, every row up to V is committed or never will be, and V becomes the horizon
(`outbox_writers()`, kit migration 0002); another round follows at once when that moved the
horizon past rows the round could not take. Reading the writers scans the server's lock table (its
cost grows with every database's activity), so the common round does without it. Only this
outbox's own writers hold it back: a long transaction of another service or another database of
the server does not.

Publication is pipelined, each message carrying `Nats-Msg-Id` = event id (JetStream drops a
re-publication inside its duplicate window) and `Nats-Expected-Last-Msg-Id` = the previous event of
the batch in the same stream (the public `evt.…` one, or the mailer-only `prv.…` one), so that a
failure in the middle of a batch cannot store a later event before an earlier one. Rows are marked
sent after their acknowledgement, by the statement of the next round when one follows within
MARK_DELAY (events close together: no UPDATE of their own), else alone; until then a round leaves
them out. A crash between the two re-publishes rows that JetStream recognises as duplicates. The
marks are committed without waiting for the WAL flush (`synchronous_commit = off` on the relay's
connection): a PostgreSQL crash may lose the last ones, which is the same case.

The relay is woken, without any NOTIFY in the commit path, by the commits of the service's
processes: a transaction of a kit connection that called `add_event` wakes the relay of its schema
in this process after it commits (`KitConnection.after_commit`); when that relay is not the leader
(another replica holds the lock), it tells the leader with a core NATS signal
(`sig.<service>.outbox_committed`, no payload, one per turn of the event loop whatever the number
of commits), to which every relay of the service listens. The poll (OUTBOX_POLL_INTERVAL) is what
remains for a signal lost (NATS reconnecting) and for events committed by processes without a
relay (the CLI); while writers of this outbox are in flight the relay looks again every
HELD_BACK_RECHECK.

The replicas that do not hold the lock try it every OUTBOX_LOCK_RETRY (a statement that reads
nothing: a leader whose process died is replaced within that). A leader that stops (its process
shutting down, a rolling deployment) lets go of the lock and says so on the same signal (payload
`leader_left`): the replicas standing by try the lock at once, and one of them takes over without
waiting for its next try. When the lock's connection is lost, whatever the error, the relay
connects again (quickly at first, then every OUTBOX_POLL_INTERVAL at most) and competes for the
lock again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from datetime import datetime, timedelta

import asyncpg
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import Header

from ..contracts.base import Event
from ..contracts.envelope import envelope
from ..contracts.subjects import event_subject, outbox_committed_signal
from .aio import retry_delay, wait_event
from .clock import Clock, SystemClock
from .db import connect, database_unavailable, wake_after_commit, woken_by
from .nats import EVENT_MAX_AGE
from .logging import current_fields

log = logging.getLogger(__name__)

_system_clock = SystemClock()

HELD_BACK_RECHECK = 0.05  # seconds between looks while writers of this outbox are in flight
GAP_PATIENCE = 0.1  # seconds a gap in the seqs may last before a round reads the outbox's writers
MARK_DELAY = 0.05  # seconds published rows wait for the next round to mark them sent, else marked alone
MAX_CHECKPOINTS = 1000  # horizons waiting for their writers to end; older ones are superseded anyway

WAKE_CHANNEL = "outbox"  # `db.wake_after_commit`: a commit with events wakes this process's relay
LEADER_LEFT = b"leader_left"  # the signal's payload when a leader let go of the lock


async def add_event(
    conn: asyncpg.Connection,
    event: Event,
    *,
    subject: str | None = None,
    event_id: uuid.UUID | None = None,
    clock: Clock = _system_clock,
) -> uuid.UUID:
    """Write `event` to the outbox inside the caller's transaction; return its id.

    `subject` is the CloudEvents subject (the entity it is about, e.g. a candidature id).
    """
    if not conn.is_in_transaction():
        raise RuntimeError("add_event must run inside the transaction of the state change")
    event_id = event_id or uuid.uuid4()
    body = envelope(
        event, event_id=event_id, time=clock.now(), subject=subject, request_id=current_fields().get("request_id")
    )
    await conn.execute(
        "INSERT INTO outbox (event_id, subject, payload) VALUES ($1, $2, $3)",
        event_id,
        event_subject(event),
        body.model_dump_json().encode(),
    )
    wake_after_commit(conn, WAKE_CHANNEL)
    return event_id


async def add_events(
    conn: asyncpg.Connection,
    events: list[tuple[Event, str | None]],
    *,
    request_ids: list[str | None] | None = None,
    clock: Clock = _system_clock,
) -> list[uuid.UUID]:
    """`add_event` for several `(event, subject)` at once: one statement, the rows in list order
    (their `seq`, so their publication, follows it); return their ids. `request_ids`: each
    event's request id (by default the one of the current log context, as `add_event`)."""
    if not conn.is_in_transaction():
        raise RuntimeError("add_events must run inside the transaction of the state change")
    if not events:
        return []
    now = clock.now()
    if request_ids is None:
        request_ids = [current_fields().get("request_id")] * len(events)
    ids = [uuid.uuid4() for _ in events]
    await conn.execute(
        """INSERT INTO outbox (event_id, subject, payload)
           SELECT i, s, p FROM unnest($1::uuid[], $2::text[], $3::bytea[]) WITH ORDINALITY AS e(i, s, p, n) ORDER BY n""",
        ids,
        [event_subject(event) for event, _ in events],
        [
            envelope(event, event_id=i, time=now, subject=subject, request_id=r).model_dump_json().encode()
            for i, (event, subject), r in zip(ids, events, request_ids, strict=True)
        ],
    )
    wake_after_commit(conn, WAKE_CHANNEL)
    return ids


# The rows to publish now, in seq order: those up to the horizon ($1), then those committed just
# above it with no gap in their seqs (seq = horizon + 1, + 2, …). A committed row is final, and no
# row can still appear between two consecutive seqs, so such a run is final too, however many
# writers are in flight above it: an event is held back only while a smaller seq is missing. The
# run is read in the same statement (the same snapshot) as the rows; a gap (a writer in flight, or
# a rollback) ends it, and the writers' horizon then decides. Rows above the horizon are never
# sent ones of this leadership; a sent one of a former leader only ends the run early.
_PUBLISHABLE = """
SELECT seq, event_id, subject, payload FROM outbox
 WHERE sent_at IS NULL AND NOT (seq = ANY($3::bigint[]))
   AND seq <= greatest($1, (SELECT max(seq) FROM (
           SELECT seq, seq - row_number() OVER (ORDER BY seq) AS gap_before FROM (
               SELECT seq FROM outbox WHERE sent_at IS NULL AND seq > $1 ORDER BY seq LIMIT $2) above
         ) run WHERE gap_before = $1))
 ORDER BY seq LIMIT $2"""


# One round trip a round: the sequence's last value and the rows publishable under the horizon
# known so far, with one row of NULLs when there are none; with the writers (`outbox_writers()`,
# for the horizon of the next rounds) when a gap has lasted. The rows the last rounds published
# ($3) are marked sent by the same statement (its query still sees them unsent: they are left out).
def _round(last_seq_and_writers: str) -> str:
    return f"""
WITH marked AS (UPDATE outbox SET sent_at = now() WHERE seq = ANY($3::bigint[])),
     w AS ({last_seq_and_writers})
SELECT w.last_seq, w.writers, p.seq, p.event_id, p.subject, p.payload
  FROM w LEFT JOIN ({_PUBLISHABLE}) p ON true
 ORDER BY p.seq"""


_ROUND = _round(
    "SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('outbox', 'seq')::regclass), 0) AS last_seq,"
    " NULL::text[] AS writers"
)
_ROUND_WITH_WRITERS = _round("SELECT last_seq, writers FROM outbox_writers()")


def _lock_key(schema: str) -> int:
    return int.from_bytes(hashlib.sha256(f"outbox-relay:{schema}".encode()).digest()[:8], "big", signed=True)


INBOX_RETENTION = timedelta(seconds=EVENT_MAX_AGE, days=1)


class OutboxRelay:
    """Publishes a service's outbox to JetStream; start with `run()` as a task."""

    def __init__(
        self,
        dsn: str,
        schema: str,
        nc: NATS,
        *,
        batch_size: int = 500,
        poll_interval: float = 2.0,
        lock_retry: float = 0.5,
        publish_timeout: float = 5.0,
        retention: timedelta = timedelta(days=7),
    ) -> None:
        self.dsn = dsn
        self.schema = schema
        self.js = nc.jetstream()
        self.nc = nc
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.lock_retry = lock_retry  # seconds between a standby's tries of the lock
        self.publish_timeout = publish_timeout
        self.retention = retention
        self.state = "connecting"  # then "standby" (waiting for the lock) or "leader"
        self.published = 0
        self.rounds = 0  # looks at the outbox so far (tests wait for a round rather than for time)
        self._wake = asyncio.Event()
        self._last_purge: datetime | None = None
        self.horizon = 0  # every row with seq <= horizon is committed or never will be
        self._checkpoints: list[tuple[int, frozenset[str]]] = []  # (last seq, its writers then)
        self._look_again = False  # the last round left rows the horizon now covers
        self._unmarked: list[int] = []  # seqs published and acknowledged, not yet marked sent
        self._gap_since: float | None = None  # the horizon has waited for a missing seq since then
        self.writer_reads = 0  # rounds that read the outbox's writers
        self.signal = outbox_committed_signal(schema)
        self.signals_sent = 0
        self.signals_received = 0
        self._signalling: asyncio.Task[None] | None = None
        self._leader_left = asyncio.Event()  # a standby tries the lock at once

    async def run(self) -> None:
        """Run until cancelled or until the NATS connection is closed for good (the process is
        shutting down: leadership passes to another replica), reconnecting to PostgreSQL after
        any failure."""
        subscription = await self.nc.subscribe(self.signal, cb=self._signalled)
        try:
            with woken_by(self.schema, WAKE_CHANNEL, self.wake):
                await self._run()
        finally:
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()

    async def _run(self) -> None:
        failures = 0
        while not self.nc.is_closed:
            try:
                await self._run_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if database_unavailable(exc):
                    log.warning("outbox relay lost its database connection", extra={"error": repr(exc)})
                else:
                    log.exception("outbox relay failed", extra={"schema": self.schema})
                failures += 1
            self.state = "connecting"
            await asyncio.sleep(min(self.poll_interval, retry_delay(failures)))

    async def _run_once(self) -> None:
        # "Sent" marks (and purges) are safe to lose: a mark lost in a server crash only makes the
        # relay publish the row again, which JetStream drops as a duplicate (its Nats-Msg-Id). Not
        # waiting for their WAL flush spares the relay's round a disk flush. Its statements' plans
        # do not depend on their arguments: each is planned once, not at every round.
        conn = await connect(self.dsn, self.schema, durable_commits=False, generic_plans=True)
        lost = asyncio.Event()

        def on_lost(_: object) -> None:
            lost.set()
            self._wake.set()
            self._leader_left.set()  # ends a standby's wait

        conn.add_termination_listener(on_lost)
        try:
            self.state = "standby"
            while True:
                self._leader_left.clear()  # before the try: a leader leaving after it is not missed
                if await conn.fetchval("SELECT pg_try_advisory_lock($1)", _lock_key(self.schema)):
                    break
                await wait_event(self._leader_left, self.lock_retry)
                if lost.is_set():
                    return
            self.horizon, self._checkpoints, self._unmarked = 0, [], []
            self._gap_since = float("-inf")  # a new leader reads the writers at once: rows below may be sent
            self.state = "leader"
            log.info("outbox relay is leader", extra={"schema": self.schema})
            while not self.nc.is_closed and not lost.is_set():
                # Cleared before reading, so that a commit during the batch wakes the next round
                # instead of being lost.
                self._wake.clear()
                sent = await self._publish_batch(conn)
                if sent == self.batch_size or (sent >= 0 and self._look_again):
                    continue
                if sent < 0:  # NATS refused or timed out: retry after a pause
                    await asyncio.sleep(min(self.poll_interval, 1.0))
                    continue
                if self._unmarked and await wait_event(self._wake, MARK_DELAY):
                    continue  # the next round marks them
                await self._mark_sent(conn)
                if self._checkpoints or self._gap_since is not None:
                    # Writers of this outbox are in flight; those of other processes wake nobody
                    # here when they commit: look again soon.
                    await wait_event(self._wake, HELD_BACK_RECHECK)
                    continue
                await self._purge(conn)
                await wait_event(self._wake, self.poll_interval)
            if lost.is_set():
                log.warning("outbox relay lost its database connection", extra={"schema": self.schema})
        finally:
            was_leader = self.is_leader
            self.state = "connecting"
            await asyncio.shield(self._let_go(conn, was_leader and not lost.is_set()))

    async def _let_go(self, conn: asyncpg.Connection, leader: bool) -> None:
        """Close the lock's connection; a leader first marks what it published (the next leader
        would publish it again, for JetStream to drop) and unlocks (closing alone frees the lock
        only when the server's backend has ended), then tells the replicas standing by."""
        if leader:
            try:
                await asyncio.wait_for(self._mark_sent(conn), 2)
                await asyncio.wait_for(conn.execute("SELECT pg_advisory_unlock($1)", _lock_key(self.schema)), 2)
            except Exception:  # the connection's end frees it anyway
                leader = False
        await _close(conn)
        if leader:
            try:
                await self.nc.publish(self.signal, LEADER_LEFT)
            except nats.errors.Error:  # NATS closed: the replicas find the lock free at their next try
                pass

    @property
    def is_leader(self) -> bool:
        return self.state == "leader"

    def wake(self) -> None:
        """A commit of this process wrote to the outbox: the leader looks at once, wherever it runs."""
        self._wake.set()
        if not self.is_leader and self._signalling is None:
            self._signalling = asyncio.ensure_future(self._signal_leader())

    async def _signal_leader(self) -> None:
        # Started at the next turn of the event loop: the commits of this turn share one signal.
        try:
            await self.nc.publish(self.signal)
            self.signals_sent += 1
        except nats.errors.Error as exc:  # closed or reconnecting: the leader's poll finds the rows
            log.info("outbox signal not sent", extra={"error": repr(exc), "schema": self.schema})
        finally:
            self._signalling = None

    async def _signalled(self, msg: Msg) -> None:
        if msg.data == LEADER_LEFT:
            self._leader_left.set()
            return
        self.signals_received += 1
        self._wake.set()  # a leader looks; a replica in standby clears it when it becomes leader

    async def _publish_batch(self, conn: asyncpg.Connection) -> int:
        """Publish the next publishable rows; return how many, or -1 after a publish failure."""
        self.rounds += 1
        looked_under = self.horizon
        now = asyncio.get_running_loop().time()
        with_writers = self._gap_since is not None and now - self._gap_since >= GAP_PATIENCE
        found = await conn.fetch(
            _ROUND_WITH_WRITERS if with_writers else _ROUND, looked_under, self.batch_size, self._unmarked
        )
        self._unmarked = []
        last_seq = found[0]["last_seq"]
        if with_writers:
            self.writer_reads += 1
            self._advance(last_seq, frozenset(found[0]["writers"]))
        rows = [row for row in found if row["seq"] is not None]
        if rows:
            self._final(rows[-1]["seq"])
        if last_seq <= self.horizon:  # every seq taken is final
            self._gap_since = None
        elif with_writers or self._gap_since is None or self.horizon > looked_under:
            self._gap_since = now  # a new gap (or one just asked about): give it its time
        # The writers moved the horizon past rows this round could not take (a rolled-back seq
        # ended the run above the former horizon): the next round takes them at once.
        self._look_again = self.horizon > max(looked_under, rows[-1]["seq"] if rows else 0)
        if not rows:
            return 0
        futures = []
        previous: dict[str, str] = {}  # per stream: evt.<producer>.… and the private prv.<producer>.…
        try:
            for row in rows:
                msg_id = str(row["event_id"])
                headers = {Header.MSG_ID.value: msg_id}
                lane = row["subject"].split(".", 1)[0]
                if lane in previous:
                    headers[Header.EXPECTED_LAST_MSG_ID.value] = previous[lane]
                futures.append(await self.js.publish_async(row["subject"], row["payload"], headers=headers))
                previous[lane] = msg_id
        except (nats.errors.Error, nats.js.errors.Error, OSError) as exc:
            log.warning("outbox publish failed", extra={"error": repr(exc), "schema": self.schema})
        acked: list[int] = []
        failed = len(futures) < len(rows)
        if futures:
            _, late = await asyncio.wait(futures, timeout=self.publish_timeout)  # no task per message
            for future in late:
                future.cancel()
            for row, future in zip(rows, futures):
                error = asyncio.TimeoutError() if future.cancelled() else future.exception()
                if error is not None:
                    failed = True
                    log.warning(
                        "outbox event not acknowledged",
                        extra={"event_id": str(row["event_id"]), "error": repr(error), "schema": self.schema},
                    )
                    break  # later events were refused by Expected-Last-Msg-Id or will be retried in order
                acked.append(row["seq"])
            for future in futures:  # retrieve every outcome, so that none is reported as unhandled
                if not future.cancelled():
                    future.exception()
        self._unmarked += acked  # marked by the next round, or alone after MARK_DELAY
        self.published += len(acked)
        return -1 if failed else len(acked)

    def _advance(self, last_seq: int, writers: frozenset[str]) -> None:
        """Move the horizon to the last seq of the latest look whose writers have all ended.

        A transaction that took a seq up to `last_seq` held the table's lock when `writers` was
        read (the lock comes first, and stays until the transaction ends); once none of `writers`
        is still writing, those rows are final. Transaction ids (virtualtransaction) are never
        reused by another transaction."""
        for seq, waited in self._checkpoints:
            if not waited & writers:
                self.horizon = max(self.horizon, seq)
        if not writers:
            self.horizon = max(self.horizon, last_seq)
        elif last_seq > self.horizon and (not self._checkpoints or self._checkpoints[-1] != (last_seq, writers)):
            self._checkpoints.append((last_seq, writers))
        self._checkpoints = [
            (seq, waited) for seq, waited in self._checkpoints[-MAX_CHECKPOINTS:] if seq > self.horizon
        ]

    def _final(self, seq: int) -> None:
        """Every row up to `seq` is final (committed, or never will be): the horizon moves there."""
        if seq > self.horizon:
            self.horizon = seq
            self._checkpoints = [(last, waited) for last, waited in self._checkpoints if last > seq]

    async def _mark_sent(self, conn: asyncpg.Connection) -> None:
        """Mark sent the rows published since the last round, when no round came to do it."""
        if self._unmarked:
            await conn.execute("UPDATE outbox SET sent_at = now() WHERE seq = ANY($1::bigint[])", self._unmarked)
            self._unmarked = []

    async def _purge(self, conn: asyncpg.Connection) -> None:
        now = datetime.now().astimezone()
        if self._last_purge and now - self._last_purge < timedelta(hours=1):
            return
        self._last_purge = now
        await conn.execute("DELETE FROM outbox WHERE sent_at < now() - $1::interval", self.retention)
        # The inbox (the events this service's consumers handled) is kept as long as an event can
        # come again: its stream keeps it EVENT_MAX_AGE, and a dead letter may be replayed meanwhile.
        await conn.execute("DELETE FROM inbox WHERE processed_at < now() - $1::interval", INBOX_RETENTION)


async def _close(conn: asyncpg.Connection) -> None:
    try:
        await asyncio.wait_for(conn.close(), 2)
    except Exception:  # the connection is being abandoned; terminate it
        conn.terminate()


async def pending_count(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
