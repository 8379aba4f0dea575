"""The idempotent consumer loop shared by every service.

A durable pull consumer fetches a batch; the batch is handled in one PostgreSQL transaction: the
ids of its events are inserted into the `inbox` table by one statement, and the handlers of those
that were not there yet run on the same connection, one after the other. When a handler fails (or
an event is malformed), that transaction is rolled back and the batch is handled again with each
event inside its own savepoint (its inbox row, then its handler), so that one failure costs the
others nothing. After the commit, handled events are acked;
an event whose handler failed is nak'ed with a growing delay, and on its last allowed delivery (or
at once when it can never succeed: malformed, or `PermanentFailure`) it is copied to its
service's dead-letter stream (`DEAD_LETTERS_<SERVICE>`) and terminated, so that it never holds up
the events behind it. A redelivered event finds its id in the inbox and changes nothing. A
subscription whose handler applies an event at most once by itself (`idempotent`: a projection
that keeps the version it holds and ignores an older or equal one) takes no inbox row: its events
are handed to it again when redelivered, one round trip an event less.

With nothing to do, a consumer waits on one pull request for up to CONSUMER_FETCH_WAIT (an event is handed
to it as soon as it arrives). `stop()` and a reconnection of its NATS connection cut that wait
short: the loop returns at once, or asks again rather than wait on a request the server forgot.

The ack wait is short (CONSUMER_ACK_WAIT, 5 s): the events of a replica that dies mid-batch go to
another one after that long. A batch that takes longer tells JetStream it is still being worked on
(`in_progress()`, every third of the ack wait) so that it is not delivered elsewhere meanwhile.
A batch whose transaction fails because the database is unavailable (restarting, down) is kept,
its ack wait extended, until the database answers again, then handled again: an outage uses up
no delivery and dead-letters nothing. A batch that fails for any other reason is retried as a
whole with the backoff. The loop never ends on an exception it can survive, and the service's
supervisor restarts it after one it cannot.

A subscription may also give a `batch` handler, `batch(conn, [(body, meta), ...])`: the fresh
events of a batch that follow one another in the stream and share that subscription are handed
to it at once (in stream order), so that it can do their work in a few statements instead of a
few per event. It must do what the handler does for each event, one after the other; when it
fails, the batch is handled again event by event with the handler, as above. A run of one event
goes to the handler: PostgreSQL keeps the plan of a statement on one key, while a run's statement
on arrays is planned again at each call or kept with a plan made for many rows.

Slow work that needs no database (rendering a PDF, writing it to storage) goes in a
subscription's `prepare(body, meta)`, run for each new event of the batch before the transaction
opens; its result is the handler's fourth argument. A transaction held open for seconds would hold
the locks on the rows it touched, a pooled connection, and — when its handlers add events — this
service's outbox relay (which publishes no event while an earlier one can still commit). `prepare` must be repeatable (an event may be
prepared again after a failure, or by another replica): write under a key derived from the event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from pydantic import ValidationError

from ..contracts.base import Event
from ..contracts.envelope import CloudEvent, event_type_name
from ..contracts.subjects import dead_letter_subject, durable_name, event_stream_of, event_subject
from . import metrics
from .aio import retry_delay, wait_event
from .db import database_unavailable
from .logging import bind
from .nats import ConsumerSpec, PullWait, declare_consumer
from .settings import KitSettings

log = logging.getLogger(__name__)

# How long one fetch waits for events before asking JetStream again (CONSUMER_FETCH_WAIT).
FETCH_WAIT: float = KitSettings.model_fields["consumer_fetch_wait"].default

# (conn, body, meta), and the prepared value as a fourth argument when the subscription has `prepare`.
Handler = Callable[..., Awaitable[None]]
# (conn, [(body, meta), ...]): consecutive fresh events of one subscription, in stream order.
BatchHandler = Callable[[asyncpg.Connection, list[tuple[Any, CloudEvent]]], Awaitable[None]]


_NOTHING = object()  # not prepared (no `prepare`, or the event was in the inbox already)


@dataclass(frozen=True)
class _Failed:
    error: str


@dataclass(frozen=True)
class _Replayed:
    """A dead letter's event handed to its consumer again (what `_handle_one` reads of a message)."""

    data: bytes


class PermanentFailure(Exception):
    """The event can never be handled (e.g. it refers to something that cannot exist)."""


Prepare = Callable[[Any, CloudEvent], Awaitable[Any]]


@dataclass(frozen=True)
class Subscription:
    model: type[Event]
    handler: Handler  # (conn, body, meta), and the prepared value when `prepare` is given
    prepare: Prepare | None = None
    batch: BatchHandler | None = None  # not with `prepare`
    idempotent: bool = False  # the handler applies an event at most once itself: no inbox row


E = TypeVar("E", bound=Event)
D = TypeVar("D")


def subscription(
    model: type[E],
    handler: Callable[[D, asyncpg.Connection, E, CloudEvent], Awaitable[None]],
    deps: D,
    batch: Callable[[D, asyncpg.Connection, list[tuple[E, CloudEvent]]], Awaitable[None]] | None = None,
    *,
    idempotent: bool = False,
) -> Subscription:
    """A subscription whose handler is `handler(deps, conn, event, meta)` (`meta`: the envelope, its
    id, type and time): a service's `consumers.py` lists its handlers this way, as its `rpc.py`
    lists `handler(deps, request)`; `batch(deps, conn, [(event, meta), ...])`, when given, does the
    same for consecutive events at once; `idempotent`: both apply an event at most once themselves
    (no inbox row)."""

    async def handle(conn: asyncpg.Connection, event: E, meta: CloudEvent) -> None:
        await handler(deps, conn, event, meta)

    handle.__name__ = handler.__name__
    if batch is None:
        return Subscription(model, handle, idempotent=idempotent)
    batch_handler = batch

    async def handle_many(conn: asyncpg.Connection, items: list[tuple[E, CloudEvent]]) -> None:
        await batch_handler(deps, conn, items)

    handle_many.__name__ = batch.__name__
    return Subscription(model, handle, batch=handle_many, idempotent=idempotent)


class EventConsumer:
    """Consumes one producer's stream for one purpose of one service."""

    def __init__(
        self,
        *,
        nc: NATS,
        pool: asyncpg.Pool,
        service: str,
        purpose: str,
        producer: str,
        subscriptions: Sequence[Subscription],
        max_deliver: int = 6,
        ack_wait: float = 5.0,
        backoff: Sequence[float] = (1.0, 5.0, 30.0, 120.0, 600.0),
        batch: int = 100,
        fetch_timeout: float = FETCH_WAIT,
    ) -> None:
        if any(s.model.producer != producer for s in subscriptions):
            raise ValueError("every subscription of a consumer must come from the same producer")
        self.nc = nc
        self.js = nc.jetstream()
        self.pool = pool
        self.producer = producer
        self.service = service
        self.durable = durable_name(service, purpose)
        self.spec = ConsumerSpec(
            stream=event_stream_of(subscriptions[0].model),
            durable=self.durable,
            filter_subjects=tuple(sorted({event_subject(s.model) for s in subscriptions})),
            max_deliver=max_deliver,
            ack_wait=ack_wait,
        )
        self.routes = {event_type_name(s.model): s for s in subscriptions}
        self.backoff = list(backoff) or [1.0]
        self.batch = batch
        self.handled = 0
        self.dead_lettered = 0
        self._pull = PullWait(nc, fetch_timeout)
        self._stopping = self._pull.stopping

    def stop(self) -> None:
        """Stop fetching; the batch in progress is finished, a wait for events is cut short."""
        self._pull.stop()

    async def declare(self) -> None:
        await declare_consumer(self.js, self.spec)

    async def run(self) -> None:
        with self._pull.bound():
            await self._run()

    async def _run(self) -> None:
        while True:
            try:
                await self.declare()
                sub = await self.js.pull_subscribe_bind(self.durable, self.spec.stream)
                break
            except (nats.errors.Error, nats.js.errors.Error, asyncio.TimeoutError) as exc:
                if self._stopping.is_set():
                    return
                log.warning("consumer not ready, retrying", extra={"consumer": self.durable, "error": repr(exc)})
                await asyncio.sleep(1.0)
        try:
            while not self._stopping.is_set() and not self.nc.is_closed and not self.pool.is_closing():
                try:
                    msgs = await self._pull.fetch(sub, self.batch)
                except (
                    nats.errors.ConnectionClosedError,
                    nats.errors.ConnectionReconnectingError,
                    nats.js.errors.Error,
                    nats.errors.Error,
                ) as exc:
                    log.warning("fetch failed", extra={"consumer": self.durable, "error": repr(exc)})
                    await wait_event(self._stopping, 1.0)
                    continue
                if not msgs:
                    continue
                await self.process(msgs)
        finally:
            try:
                await sub.unsubscribe()
            except nats.errors.Error:
                pass

    async def process(self, msgs: list[Msg]) -> None:
        heartbeat = asyncio.create_task(self._keep_in_progress(msgs))
        try:
            outcomes = await self._handle_batch(msgs)
            while outcomes is None:  # the database went away: keep the batch until it is back
                await self._wait_for_database()
                outcomes = await self._handle_batch(msgs)
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
        for msg, outcome, error in outcomes:
            await self._settle(msg, outcome, error)

    async def _handle_batch(self, msgs: list[Msg]) -> list[tuple[Msg, str, str | None]] | None:
        """The outcome of each message, in one transaction; None when the database is unavailable
        (a restart, an outage), which must not use up the deliveries of the events."""
        envelopes = [_envelope(msg) for msg in msgs]
        prepared = await self._prepare(msgs, envelopes)
        try:
            async with self.pool.acquire() as conn:
                outcomes = await self._handle_together(conn, msgs, envelopes, prepared)
                if outcomes is None:  # a handler failed: again, each event in its own savepoint
                    outcomes = []
                    async with conn.transaction():
                        for msg, event in zip(msgs, envelopes):
                            ready = prepared.get(id(msg), _NOTHING)
                            if isinstance(ready, _Failed):
                                outcomes.append((msg, "retry", ready.error))
                            else:
                                outcomes.append(await self._handle_one(conn, msg, event, ready))
            return outcomes
        except Exception as exc:  # the batch did not commit, whatever the reason
            if database_unavailable(exc) and not self._stopping.is_set() and not await self._database_answers():
                log.warning(
                    "database unavailable, batch kept until it is back",
                    extra={"consumer": self.durable, "error": repr(exc)},
                )
                return None
            log.warning("batch transaction failed", extra={"consumer": self.durable, "error": repr(exc)})
            return [(m, "retry", repr(exc)) for m in msgs]

    async def _handle_together(
        self,
        conn: asyncpg.Connection,
        msgs: list[Msg],
        envelopes: list[CloudEvent | ValidationError],
        prepared: dict[int, Any],
    ) -> list[tuple[Msg, str, str | None]] | None:
        """The batch in one transaction, its events' ids inserted into the inbox by one statement
        and the handlers run without savepoints; None (and nothing committed) when a handler
        fails or an event's preparation failed, so that the caller isolates each event."""
        outcomes: list[tuple[Msg, str, str | None]] = []
        work: list[tuple[Msg, CloudEvent, Subscription, Any]] = []
        for msg, event in zip(msgs, envelopes):
            ready = prepared.get(id(msg), _NOTHING)
            if isinstance(ready, _Failed) or isinstance(event, ValidationError):
                return None
            try:
                route = self.routes.get(event.type)
                body = route.model.model_validate(event.data) if route is not None else None
            except ValidationError:
                return None  # dead-lettered, with its reason, by _handle_one
            if route is not None:
                work.append((msg, event, route, (body, ready)))
            outcomes.append((msg, "ack", None))  # acked also when this consumer does not handle its type
        if not work:
            return outcomes
        try:
            async with conn.transaction():
                fresh = {event.id for _, event, route, _ in work if route.idempotent}
                inbox = list(dict.fromkeys(event.id for _, event, route, _ in work if not route.idempotent))
                if inbox:
                    fresh.update(
                        await conn.fetchval(
                            """WITH added AS (
                               INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::uuid[])
                               ON CONFLICT DO NOTHING RETURNING event_id)
                           SELECT coalesce(array_agg(event_id), '{}') FROM added""",
                            self.durable,
                            inbox,
                        )
                    )
                run: list[tuple[Any, CloudEvent]] = []  # consecutive fresh events of one batch handler
                run_route: Subscription | None = None
                for _, event, route, (body, ready) in work:
                    if event.id not in fresh:  # handled before, or twice in this batch: it changes nothing
                        with bind(event_id=str(event.id), event_type=event.type, consumer=self.durable):
                            log.info("event already handled")
                        continue
                    fresh.discard(event.id)
                    if run and (route.batch is None or route.prepare is not None or run_route is not route):
                        await self._run_batch(conn, run_route, run)
                        run = []
                    if route.batch is not None and route.prepare is None:
                        run_route = route
                        run.append((body, event))
                        continue
                    with bind(
                        event_id=str(event.id),
                        event_type=event.type,
                        consumer=self.durable,
                        request_id=event.request_id,
                    ):
                        if route.prepare is None:
                            await route.handler(conn, body, event)
                        else:
                            if ready is _NOTHING:  # handled by then, yet not in the inbox before: prepare now
                                ready = await route.prepare(body, event)
                            await route.handler(conn, body, event, ready)
                if run:
                    await self._run_batch(conn, run_route, run)
        except (asyncpg.InterfaceError, asyncpg.exceptions.ConnectionDoesNotExistError):
            raise
        except Exception as exc:
            if database_unavailable(exc):
                raise
            log.info(
                "a handler of the batch failed: handling each event on its own",
                extra={"consumer": self.durable, "error": repr(exc)},
            )
            return None
        self.handled += len(work)
        return outcomes

    async def _run_batch(
        self, conn: asyncpg.Connection, route: Subscription | None, run: list[tuple[Any, CloudEvent]]
    ) -> None:
        assert route is not None and route.batch is not None
        first = run[0][1]
        with bind(event_id=str(first.id), event_type=first.type, consumer=self.durable, events=len(run)):
            if len(run) == 1:  # the event's own handler: its statements' plans are kept, a run's are not
                await route.handler(conn, *run[0])
            else:
                await route.batch(conn, run)

    async def _database_answers(self) -> bool:
        try:
            async with self.pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
            return True
        except Exception:
            return False

    async def _wait_for_database(self) -> None:
        failures = 0
        while not self._stopping.is_set() and not await self._database_answers():
            failures += 1
            await asyncio.sleep(retry_delay(failures))

    async def _keep_in_progress(self, msgs: list[Msg]) -> None:
        """While the batch is being handled, reset the ack timer of its messages."""
        interval = self.spec.ack_wait / 3
        while True:
            await asyncio.sleep(interval)
            for msg in msgs:
                try:
                    await msg.in_progress()
                except (nats.errors.Error, nats.js.errors.Error) as exc:
                    log.warning("could not extend the ack wait", extra={"consumer": self.durable, "error": repr(exc)})
                    return

    async def _prepare(self, msgs: list[Msg], envelopes: list[CloudEvent | ValidationError]) -> dict[int, Any]:
        """The prepared values of the batch's events whose subscription has `prepare` and which
        this consumer has not handled yet, by message; a failure is kept as `_Failed`."""
        wanted: list[tuple[Msg, CloudEvent, type[Event], Prepare]] = []
        for msg, event in zip(msgs, envelopes):
            if isinstance(event, ValidationError):
                continue  # dead-lettered by _handle_one
            route = self.routes.get(event.type)
            if route is not None and route.prepare is not None:
                wanted.append((msg, event, route.model, route.prepare))
        if not wanted:
            return {}
        async with self.pool.acquire() as conn:
            done = set(
                await conn.fetchval(
                    "SELECT coalesce(array_agg(event_id), '{}') FROM inbox WHERE consumer = $1 AND event_id = ANY($2::uuid[])",
                    self.durable,
                    [event.id for _, event, _, _ in wanted],
                )
            )
        prepared: dict[int, Any] = {}
        for msg, event, model, prepare in wanted:
            if event.id in done:
                continue
            with bind(
                event_id=str(event.id), event_type=event.type, consumer=self.durable, request_id=event.request_id
            ):
                try:
                    prepared[id(msg)] = await prepare(model.model_validate(event.data), event)
                except ValidationError:
                    continue  # dead-lettered by _handle_one
                except Exception as exc:
                    log.warning("event preparation failed", exc_info=True)
                    prepared[id(msg)] = _Failed(f"{type(exc).__name__}: {exc}")
        return prepared

    async def _handle_one(
        self, conn: asyncpg.Connection, msg: Msg, event: CloudEvent | ValidationError, ready: Any = _NOTHING
    ) -> tuple[Msg, str, str | None]:
        if isinstance(event, ValidationError):
            return msg, "dead", f"malformed envelope: {event.errors(include_url=False)[:3]}"
        route = self.routes.get(event.type)
        if route is None:
            return msg, "ack", None  # an event type this consumer does not handle
        with bind(event_id=str(event.id), event_type=event.type, consumer=self.durable, request_id=event.request_id):
            try:
                async with conn.transaction():
                    fresh = route.idempotent or await conn.fetchval(
                        "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
                        self.durable,
                        event.id,
                    )
                    if fresh:
                        body = route.model.model_validate(event.data)
                        if route.prepare is None:
                            await route.handler(conn, body, event)
                        elif ready is _NOTHING:  # handled by then, yet not in the inbox before: prepare now
                            await route.handler(conn, body, event, await route.prepare(body, event))
                        else:
                            await route.handler(conn, body, event, ready)
                    else:
                        log.info("event already handled")
                self.handled += 1
                return msg, "ack", None
            except (ValidationError, PermanentFailure) as exc:
                log.error("event can never be handled", extra={"error": str(exc)})
                return msg, "dead", f"{type(exc).__name__}: {exc}"
            except (asyncpg.InterfaceError, asyncpg.exceptions.ConnectionDoesNotExistError):
                raise
            except Exception as exc:  # any other failure is retried, then dead-lettered
                log.warning("event handling failed", exc_info=True)
                return msg, "retry", f"{type(exc).__name__}: {exc}"

    async def replay(self, data: bytes) -> tuple[str, str | None, bool]:
        """Handle a dead-lettered event again, as a delivery would (inbox first: an event this
        consumer handled already changes nothing). Its outcome (`ack`, `retry` or `dead`), the
        error, and whether it had been handled already."""
        replayed = _Replayed(data)
        event = _envelope(replayed)  # type: ignore[arg-type]
        async with self.pool.acquire() as conn, conn.transaction():
            seen = not isinstance(event, ValidationError) and await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM inbox WHERE consumer = $1 AND event_id = $2)", self.durable, event.id
            )
            _msg, outcome, error = await self._handle_one(conn, replayed, event)  # type: ignore[arg-type]
        return outcome, error, seen

    async def _settle(self, msg: Msg, outcome: str, error: str | None) -> None:
        try:
            deliveries = msg.metadata.num_delivered
            if outcome == "retry" and deliveries >= self.spec.max_deliver:
                outcome = "dead"  # the letter carries the count of deliveries beside the error
            metrics.event_settled(self.durable, outcome, deliveries)
            if outcome == "ack":
                await msg.ack()
            elif outcome == "retry":
                delay = self.backoff[min(deliveries - 1, len(self.backoff) - 1)]
                await msg.nak(delay=delay)
            else:
                await self._dead_letter(msg, error or "")
        except (nats.errors.Error, nats.js.errors.Error) as exc:
            # Not settled: JetStream redelivers after ack_wait, and the inbox absorbs the repeat.
            log.warning("could not settle message", extra={"consumer": self.durable, "error": repr(exc)})

    async def _dead_letter(self, msg: Msg, error: str) -> None:
        meta = msg.metadata
        headers = {
            "Ecandidat-Original-Subject": msg.subject,
            "Ecandidat-Original-Stream": meta.stream,
            "Ecandidat-Original-Sequence": str(meta.sequence.stream),
            "Ecandidat-Consumer": self.durable,
            "Ecandidat-Deliveries": str(meta.num_delivered),
            "Ecandidat-Error": error[:2000].replace("\r", " ").replace("\n", " "),
            "Nats-Msg-Id": f"{self.durable}:{meta.stream}:{meta.sequence.stream}",
        }
        await self.js.publish(dead_letter_subject(self.service, self.durable), msg.data, headers=headers)
        await msg.term()
        self.dead_lettered += 1
        log.error("event dead-lettered", extra={"consumer": self.durable, "subject": msg.subject, "error": error})


def _envelope(msg: Msg) -> CloudEvent | ValidationError:
    try:
        return CloudEvent.model_validate_json(msg.data)
    except ValidationError as exc:
        return exc


def consumers_for(
    *,
    nc: NATS,
    pool: asyncpg.Pool,
    service: str,
    purpose: str,
    subscriptions: Sequence[Subscription],
    **options: Any,
) -> list[EventConsumer]:
    """One `EventConsumer` per producer stream that the subscriptions read from."""
    by_producer: dict[tuple[str, str], list[Subscription]] = {}
    for s in subscriptions:
        by_producer.setdefault((s.model.producer, event_stream_of(s.model)), []).append(s)
    return [
        EventConsumer(nc=nc, pool=pool, service=service, purpose=purpose, producer=p[0], subscriptions=subs, **options)
        for p, subs in sorted(by_producer.items())
    ]
