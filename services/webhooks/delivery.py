"""Delivering events to the endpoints: one durable JetStream consumer per endpoint and stream.

Each consumer (`webhooks_ep-<endpoint>-<producer>`) reads the endpoint's event types from the
moment it was registered, with at most one event unacknowledged (`max_ack_pending=1`): events
go out one after another, in the stream's order (so in order per subject), whichever replica
holds the consumer, and an event is acknowledged only once the endpoint answered 2xx. A failing
endpoint keeps its event and retries with exponential backoff (WEBHOOK_RETRY_BASE…MAX), keeping
it in progress; after WEBHOOK_GIVE_UP_AFTER seconds of failures the endpoint is disabled. Every
endpoint has its own loop and consumer: a slow or dead one holds up nothing but itself. A loop
with nothing to deliver waits on one pull request (`PullWait`, CONSUMER_FETCH_WAIT), as the
services' consumers do; a replay's lane waits a second at a time (REPLAY_FETCH_WAIT), the time
it takes to find it has read everything and record the replay finished.

The delivery log (`deliveries`) has one row per event and endpoint: a redelivered event already
delivered is acknowledged without being sent again. A replay reads a time range with a consumer
of its own (`webhooks_rp-<replay>-<producer>`), deleted when the range is read.

A lane's consumer is created to start at the stream's first message at or after the lane's start
(`first_sequence_at`), not with `DeliverPolicy.BY_START_TIME`: given that time and several filter
subjects, nats-server (2.15.1) starts the consumer at the latest of the subjects' first messages
at or after it, and skips the earlier ones of the other subjects whenever older messages of theirs
are kept — a replay of an endpoint that takes `account.activated` and `account.password_changed`
delivered the password changes of the range and none of its activations. Asked without a filter,
the server answers that time → sequence question right (`tests/e2e/test_webhooks.py`, the replay).

Requests follow Standard Webhooks: `webhook-id` is the event id (the receiver's idempotency key),
`webhook-timestamp`, `webhook-signature` (`v1,<HMAC-SHA256>` by the `standardwebhooks`
library; during a rotation, one signature per valid secret). The body is the CloudEvent as
published.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import aiohttp
import asyncpg
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from standardwebhooks import Webhook

from ecandidat.contracts.compat import event_key, public_events
from ecandidat.contracts.subjects import durable_name, event_stream_of, event_subject
from ecandidat.contracts.webhooks import WebhookEndpointDisabled
from ecandidat.runtime import metrics
from ecandidat.runtime.aio import WakeableLoop
from ecandidat.runtime.nats import PullWait
from ecandidat.runtime.clock import Clock
from ecandidat.runtime.outbox import add_event
from ecandidat.runtime.sealing import Sealer
from ecandidat.runtime.tasks import Supervised, stop_all

from . import store
from .guard import GuardedResolver
from .settings import WebhooksSettings

log = logging.getLogger(__name__)

REPLAY_FETCH_WAIT = 1.0  # seconds a replay's lane waits before checking whether it has read everything

CATALOGUE = {event_key(cls): cls for cls in public_events()}


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def signature(
    endpoint: asyncpg.Record, event_id: str, at: datetime, body: str, now: datetime, unseal=lambda secret: secret
) -> str:
    """`v1,<signature>` with the endpoint's secret, and with the previous one while it is still valid
    (a rotation); the secrets are kept sealed (WEBHOOK_SEALING_KEY), `unseal` opens them."""
    keys = [endpoint["secret"]]
    if endpoint["previous_secret"] and endpoint["previous_valid_until"] and endpoint["previous_valid_until"] > now:
        keys.append(endpoint["previous_secret"])
    return " ".join(Webhook(unseal(key)).sign(event_id, at, body) for key in keys)


def backoff(attempts: int, base: float, maximum: float) -> float:
    return min(base * 2 ** max(attempts - 1, 0), maximum)


def matches(endpoint: asyncpg.Record, data: dict) -> bool:
    """The endpoint's filters: an event goes to an endpoint filtered on a centre (a formation) only
    when it names that centre (that formation)."""
    for column, field in (("centre_code", "centre_code"), ("formation_code", "formation_code")):
        if endpoint[column] is not None and data.get(field) != endpoint[column]:
            return False
    return True


@dataclass(frozen=True)
class Lane:
    """What one consumer delivers: an endpoint's events of one stream, live or replayed."""

    endpoint_id: uuid.UUID
    stream: str
    producer: str
    subjects: tuple[str, ...]
    start: datetime
    replay_id: uuid.UUID | None = None
    until: datetime | None = None

    @property
    def durable(self) -> str:
        if self.replay_id is None:
            return durable_name("webhooks", f"ep-{self.endpoint_id.hex}-{self.producer}")
        return durable_name("webhooks", f"rp-{self.replay_id.hex}-{self.producer}")


def lanes(endpoint: asyncpg.Record) -> list[Lane]:
    by_stream: dict[str, list] = {}
    for name in endpoint["event_types"]:
        cls = CATALOGUE.get(name)
        if cls is not None:
            by_stream.setdefault(event_stream_of(cls), []).append(cls)
    return [
        Lane(
            endpoint["id"],
            stream,
            classes[0].producer,
            tuple(sorted(event_subject(c) for c in classes)),
            endpoint["deliver_from"],
        )
        for stream, classes in sorted(by_stream.items())
    ]


async def first_sequence_at(js: JetStreamContext, stream: str, at: datetime) -> int:
    """The sequence of the stream's first message at or after `at` (the next one to come when
    there is none yet), read from a consumer without filter made for the question and deleted."""
    name = durable_name("webhooks", f"at-{uuid.uuid4().hex}")
    question = ConsumerConfig(
        name=name,
        ack_policy=AckPolicy.NONE,
        deliver_policy=DeliverPolicy.BY_START_TIME,
        opt_start_time=at,  # nats-py sends it in UTC, RFC 3339
        inactive_threshold=60.0,  # gone by itself if this process dies before deleting it
        mem_storage=True,
    )
    info = await js.add_consumer(stream, question)
    try:
        await js.delete_consumer(stream, name)
    except nats.js.errors.NotFoundError:
        pass
    if info.delivered is None:
        raise RuntimeError(f"nats-server gave no start for a consumer of {stream}")
    return info.delivered.stream_seq + 1


class Pump:
    """The loop of one lane."""

    def __init__(
        self,
        lane: Lane,
        *,
        nc: NATS,
        pool: asyncpg.Pool,
        http: aiohttp.ClientSession,
        settings: WebhooksSettings,
        clock: Clock,
        sealer: Sealer,
    ) -> None:
        self.lane = lane
        self.js = nc.jetstream()
        self.nc = nc
        self.pool = pool
        self.http = http
        self.s = settings
        self.clock = clock
        self.sealer = sealer
        self.delivered = 0  # events this loop delivered (this replica's share)
        # A replay's lane ends when a wait finds nothing left to read: it waits a second at a time,
        # so the replay is recorded as finished within that; an endpoint's lane lives on and waits long.
        wait = REPLAY_FETCH_WAIT if lane.replay_id is not None else settings.consumer_fetch_wait
        self._pull = PullWait(nc, wait)
        self._stopping = self._pull.stopping

    def stop(self) -> None:
        self._pull.stop()

    def config(self, start: ConsumerConfig) -> ConsumerConfig:
        """The lane's consumer; where it starts (`deliver_policy` and its option) is `start`'s: a
        consumer keeps the start it was created with."""
        return ConsumerConfig(
            durable_name=self.lane.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=start.deliver_policy,
            opt_start_seq=start.opt_start_seq,
            opt_start_time=start.opt_start_time,
            ack_wait=self.s.webhook_ack_wait,
            max_ack_pending=1,
            max_deliver=-1,
            filter_subjects=list(self.lane.subjects) if len(self.lane.subjects) > 1 else None,
            filter_subject=self.lane.subjects[0] if len(self.lane.subjects) == 1 else None,
        )

    async def declare(self) -> None:
        """Create the lane's consumer at the first message of its start, or update the one that
        exists (its settings, not where it started: a consumer made before `first_sequence_at`
        keeps its start time)."""
        try:
            start = (await self.js.consumer_info(self.lane.stream, self.lane.durable)).config
        except nats.js.errors.NotFoundError:
            first = await first_sequence_at(self.js, self.lane.stream, self.lane.start)
            start = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=first)
        await self.js.add_consumer(self.lane.stream, self.config(start))

    async def run(self) -> None:
        await self.declare()
        sub = await self.js.pull_subscribe_bind(self.lane.durable, self.lane.stream)
        try:
            with self._pull.bound():
                while not self._stopping.is_set():
                    msgs = await self._pull.fetch(sub, 1)
                    if not msgs:
                        if (
                            self.lane.replay_id is not None
                            and not self._stopping.is_set()
                            and await self._replayed(sub)
                        ):
                            return
                        continue
                    if not await self.handle(msgs[0]):
                        return
        finally:
            try:
                await sub.unsubscribe()
            except nats.errors.Error:
                pass

    async def _replayed(self, sub) -> bool:
        info = await sub.consumer_info()
        if info.num_pending or info.num_ack_pending:
            return False
        await self._finish_replay()
        return True

    async def _finish_replay(self) -> None:
        if self.lane.replay_id is None:
            return
        async with self.pool.acquire() as conn:
            await store.stream_replayed(conn, self.lane.replay_id, self.lane.stream, self.clock.now())
        try:
            await self.js.delete_consumer(self.lane.stream, self.lane.durable)
        except nats.js.errors.NotFoundError:
            pass

    async def handle(self, msg: Msg) -> bool:
        """Deliver one event; False when the lane must stop (paused, disabled, stopping, replay read)."""
        event = json.loads(msg.data)
        if self.lane.until is not None and datetime.fromisoformat(event["time"]) > self.lane.until:
            await self._finish_replay()
            return False
        async with self.pool.acquire() as conn:
            endpoint = await store.endpoint(conn, self.lane.endpoint_id)
            if endpoint is None or endpoint["status"] != "active":
                await msg.nak()
                return False
            if not matches(endpoint, event.get("data") or {}):
                await msg.ack_sync()
                return True
            row = await store.delivery(
                conn,
                endpoint_id=endpoint["id"],
                event_id=uuid.UUID(event["id"]),
                replay_id=self.lane.replay_id,
                event_type=event["type"],
                subject=msg.subject,
                now=self.clock.now(),
            )
        attempts = row["attempts"]
        if row["status"] == "delivered":
            await msg.ack_sync()
            return True
        while not self._stopping.is_set():
            ok, code, error = await self._post(endpoint, event["id"], msg.data.decode())
            attempts += 1
            now = self.clock.now()
            async with self.pool.acquire() as conn:
                await store.attempted(conn, row["id"], ok=ok, status_code=code, error=error, now=now)
                if ok:
                    await store.recovered(conn, endpoint["id"])
                else:
                    await self._failed(conn, endpoint, error, now)
            if ok:
                await msg.ack_sync()
                self.delivered += 1
                return True
            if not await self._wait(msg, backoff(attempts, self.s.webhook_retry_base, self.s.webhook_retry_max)):
                break
            async with self.pool.acquire() as conn:
                endpoint = await store.endpoint(conn, self.lane.endpoint_id)
            if endpoint is None or endpoint["status"] != "active":
                break
        await msg.nak()
        return False

    async def _failed(
        self, conn: asyncpg.Connection, endpoint: asyncpg.Record, error: str | None, now: datetime
    ) -> None:
        """Count the failure; past WEBHOOK_GIVE_UP_AFTER, disable the endpoint and tell its
        administrator (a mailer-only event, in the same transaction)."""
        async with conn.transaction():
            since = await store.failing(conn, endpoint["id"], now)
            if now - since < timedelta(seconds=self.s.webhook_give_up_after):
                return
            if await store.disable(conn, endpoint["id"], now):
                await add_event(
                    conn,
                    WebhookEndpointDisabled(
                        endpoint_id=endpoint["id"],
                        url=endpoint["url"],
                        notify=endpoint["created_by"],
                        failing_since=since,
                        last_error=error,
                    ),
                    clock=self.clock,
                )
                log.warning(
                    "webhook endpoint disabled",
                    extra={"endpoint": str(endpoint["id"]), "failing_since": since.isoformat()},
                )

    async def _wait(self, msg: Msg, delay: float) -> bool:
        """Wait `delay` seconds holding the event (in progress); False if asked to stop meanwhile."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay
        while (left := deadline - loop.time()) > 0:
            try:
                await asyncio.wait_for(self._stopping.wait(), min(left, self.s.webhook_ack_wait / 3))
                return False
            except asyncio.TimeoutError:
                await msg.in_progress()
        return True

    async def _post(self, endpoint: asyncpg.Record, event_id: str, body: str) -> tuple[bool, int | None, str | None]:
        now = self.clock.now()
        at = datetime.now(timezone.utc)
        headers = {
            "content-type": "application/json",
            "webhook-id": event_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature(endpoint, event_id, at, body, now, self.sealer.unseal),
        }
        outcome: tuple[bool, int | None, str | None]
        started = time.perf_counter()
        try:
            async with self.http.post(
                endpoint["url"],
                data=body.encode(),
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.s.webhook_timeout),
            ) as resp:
                await resp.read()
                ok = 200 <= resp.status < 300
                outcome = (ok, resp.status, None if ok else f"HTTP {resp.status}")
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            outcome = (False, None, f"{type(exc).__name__}: {exc}"[:500])
        metrics.WEBHOOK_LATENCY.observe(time.perf_counter() - started)
        metrics.WEBHOOK_REQUESTS.labels("delivered" if outcome[0] else "failed").inc()
        return outcome


class Dispatcher(WakeableLoop):
    """Keeps one supervised pump per lane of every active endpoint and running replay; looks at the
    endpoints every WEBHOOK_RECONCILE_INTERVAL seconds, or at once when woken (a change here)."""

    def __init__(
        self, *, nc: NATS, pool: asyncpg.Pool, settings: WebhooksSettings, clock: Clock, sealer: Sealer
    ) -> None:
        super().__init__()
        self.nc, self.pool, self.s, self.clock, self.sealer = nc, pool, settings, clock, sealer
        self.pumps: dict[str, tuple[Pump, Supervised]] = {}
        self.http: aiohttp.ClientSession | None = None

    async def run(self) -> None:
        connector = aiohttp.TCPConnector(
            resolver=None if self.s.webhook_allow_private else GuardedResolver(), limit=0, limit_per_host=4
        )
        self.http = aiohttp.ClientSession(connector=connector)
        try:
            while not self._stopping.is_set():
                await self.reconcile()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.s.webhook_reconcile_interval)
                except asyncio.TimeoutError:
                    pass
                self._wake.clear()
        finally:
            # within the service's own grace (CONSUMER_ACK_WAIT), after which it cancels this loop
            await stop_all([task for _, task in self.pumps.values()], grace=self.s.consumer_ack_wait * 0.8)
            self.pumps.clear()
            await self.http.close()

    async def reconcile(self) -> None:
        if self.http is None:
            raise RuntimeError("the webhook dispatcher reconciles only while it runs")
        async with self.pool.acquire() as conn:
            endpoints = {e["id"]: e for e in await store.endpoints(conn)}
            replays = await store.running_replays(conn)
        wanted: dict[str, Lane] = {}
        for endpoint in endpoints.values():
            if endpoint["status"] == "active":
                wanted.update({lane.durable: lane for lane in lanes(endpoint)})
        for replay in replays:
            endpoint = endpoints.get(replay["endpoint_id"])
            if endpoint is None or endpoint["status"] != "active":
                continue
            for lane in lanes(endpoint):
                if lane.stream in replay["pending_streams"]:
                    lane = Lane(
                        lane.endpoint_id,
                        lane.stream,
                        lane.producer,
                        lane.subjects,
                        replay["since"],
                        replay["id"],
                        replay["until"],
                    )
                    wanted[lane.durable] = lane
        for durable in list(self.pumps):
            _, task = self.pumps[durable]
            if durable not in wanted:
                task.stop()  # it finishes its attempt in progress and returns
            if durable not in wanted or task.finished:
                del self.pumps[durable]
        for durable, lane in wanted.items():
            if durable not in self.pumps:
                pump = Pump(
                    lane,
                    nc=self.nc,
                    pool=self.pool,
                    http=self.http,
                    settings=self.s,
                    clock=self.clock,
                    sealer=self.sealer,
                )
                self.pumps[durable] = (pump, Supervised(durable, pump.run, stop=pump.stop).start())
