"""NATS connection and the one place where streams and consumers are declared.

Streams: one per producing service (`EVT_<PRODUCER>` on `evt.<producer>.>`), one for the
mailer-only events of the producers that have some (`PRV_<PRODUCER>` on `prv.<producer>.>`) and
one dead-letter stream per service (`DEAD_LETTERS_<SERVICE>` on `dead.<service>.>`, the events its
consumers could never handle: only that service, and the operator, may read them). Declarations
are applied idempotently: a missing stream is created, an existing one is updated to the declared
configuration. A service declares only its own streams
(its NATS user may touch no other); the provisioning (`declare_streams` without an owner, as the
`ops` identity: the local stack, the tests, a deployment's set-up job) declares them all, so that
a consumer never waits for its producer's first start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from ..contracts.subjects import (
    dead_letter_stream,
    dead_letters_of_service,
    event_stream,
    private_events,
    private_stream,
    producer_events,
)
from .aio import cancelling
from .settings import KitSettings

log = logging.getLogger(__name__)

PRODUCERS = ("accounts", "dossiers", "candidatures", "documents", "mailer", "webhooks")
PRIVATE_PRODUCERS = (
    "accounts",
    "candidatures",
    "webhooks",
)  # producers of mailer-only events (sealed link tokens, a commission's or an administrator's address)
STREAM_WAIT = 60.0  # seconds a consumer waits for its producer's stream to be declared

EVENT_MAX_AGE = 90 * 24 * 3600  # seconds an event stays in its stream (integrators may replay)
DUPLICATE_WINDOW = 300  # seconds JetStream remembers Nats-Msg-Id values


async def flush(nc: NATS, timeout: int = 10) -> None:
    """Return once the server has processed everything this connection sent before the call: a
    subscription just made holds for the next message, from whatever connection.

    nats-py's `flush()` (2.16) writes its PING straight to the socket, ahead of the commands still
    waiting for its flusher task, so its PONG can come back before the server has them: a message
    published at once from another connection then missed a subscription just "flushed" (19 to
    50 times in 1,000 here, `tests/integration/test_rpc.py`). During that first round trip the
    flusher writes them; a second PING follows them."""
    await nc.flush(timeout)
    await nc.flush(timeout)


async def connect_as(settings: KitSettings, identity: str, name: str | None = None, **options: object) -> NATS:
    """Connect to the bus as `identity` (its credentials from the settings)."""
    return await connect(settings.nats_servers, name=name or identity, **{**settings.nats_options(identity), **options})


_reconnect_listeners: weakref.WeakKeyDictionary[NATS, list[Callable[[], None]]] = weakref.WeakKeyDictionary()


def on_reconnect(nc: NATS, listener: Callable[[], None]) -> Callable[[], None]:
    """Call `listener()` each time `nc` (made by `connect`) is connected again after losing its
    server: what was waiting on the old connection (a pull request) is not answered there. Returns
    the function that removes it."""
    listeners = _reconnect_listeners.setdefault(nc, [])
    listeners.append(listener)
    return lambda: listeners.remove(listener) if listener in listeners else None


class PullWait:
    """A pull loop's wait for its next events: long, since an event is handed over as soon as it
    arrives and each wait costs a fetch (two pull requests and their answers, here and in
    nats-server), and cut short by `stop()` — the loop ends at once instead of at the end of the
    wait — and by a reconnection of the connection, after which the loop asks again instead of
    waiting on a request the server forgot. Whatever a cut fetch would have brought is not
    acknowledged: JetStream delivers it again after the ack wait, to this loop or another replica.
    `fetch` must be called from the loop's task, inside `bound()`."""

    def __init__(self, nc: NATS, wait: float) -> None:
        self.nc = nc
        self.wait = wait
        self.stopping = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._idle = False  # in a fetch, nothing in hand
        self._cut = False

    def stop(self) -> None:
        self.stopping.set()
        self._cut_short()

    def _cut_short(self) -> None:
        if self._idle and self._task is not None and not self._cut:
            self._cut = True
            self._task.cancel()

    @contextlib.contextmanager
    def bound(self) -> Iterator[None]:
        """The loop's task is the one a cut cancels; reconnections cut its waits while inside."""
        self._task = asyncio.current_task()
        forget = on_reconnect(self.nc, self._cut_short)
        try:
            yield
        finally:
            forget()

    async def fetch(self, sub: JetStreamContext.PullSubscription, batch: int) -> list[Msg]:
        """The next events, at most `batch`; none when the wait ended without any (its time, a stop,
        a reconnection). A cancellation of the task that is not a cut of this wait propagates."""
        try:
            self._idle = True
            return await sub.fetch(batch, timeout=self.wait)
        except (asyncio.TimeoutError, nats.errors.TimeoutError, asyncio.CancelledError) as exc:
            # Python 3.11's wait_for, inside nats-py, may turn a cancellation into a TimeoutError.
            if isinstance(exc, asyncio.CancelledError) or cancelling():
                if not self._own_cut():
                    raise asyncio.CancelledError() from None
            return []
        finally:
            self._idle = False

    def _own_cut(self) -> bool:
        """Whether the cancellation being handled is this wait's own cut, with no other one pending."""
        cut, self._cut = self._cut, False
        task = asyncio.current_task()
        return cut and task is not None and task.uncancel() == 0


async def connect(servers: list[str], name: str, **options: object) -> NATS:
    """Connect with unlimited reconnects (unless `options` say otherwise); log state changes."""
    made: list[NATS] = []

    async def disconnected() -> None:
        log.warning("nats disconnected")

    async def reconnected() -> None:
        log.info("nats reconnected")
        for listener in list(_reconnect_listeners.get(made[0], ())) if made else ():
            listener()

    async def error(exc: Exception) -> None:
        log.warning("nats error", extra={"error": repr(exc)})

    defaults: dict[str, object] = dict(
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=2,
        allow_reconnect=True,
        disconnected_cb=disconnected,
        reconnected_cb=reconnected,
        error_cb=error,
    )
    nc = await nats.connect(servers=servers, name=name, **{**defaults, **options})
    made.append(nc)
    return nc


def _event_stream(name: str, subject: str, replicas: int) -> StreamConfig:
    return StreamConfig(
        name=name,
        subjects=[subject],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=EVENT_MAX_AGE,
        duplicate_window=DUPLICATE_WINDOW,
        num_replicas=replicas,
        discard=DiscardPolicy.OLD,
    )


def stream_configs(replicas: int = 1, owner: str | None = None) -> list[StreamConfig]:
    """Every stream, or only those `owner` may declare (its own events, and its dead letters)."""
    producers = PRODUCERS if owner is None else tuple(p for p in PRODUCERS if p == owner)
    configs = [_event_stream(event_stream(p), producer_events(p), replicas) for p in producers]
    configs += [
        _event_stream(private_stream(p), private_events(p), replicas) for p in producers if p in PRIVATE_PRODUCERS
    ]
    configs += [dead_letter_config(p, replicas) for p in producers]
    return configs


def dead_letter_config(service: str, replicas: int = 1) -> StreamConfig:
    """The dead-letter stream of one service's consumers."""
    return StreamConfig(
        name=dead_letter_stream(service),
        subjects=[dead_letters_of_service(service)],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=EVENT_MAX_AGE,
        num_replicas=replicas,
    )


async def declare_streams(js: JetStreamContext, replicas: int = 1, owner: str | None = None) -> None:
    for config in stream_configs(replicas, owner):
        try:
            await js.add_stream(config)
        except nats.js.errors.BadRequestError as exc:
            if exc.err_code != 10058:  # stream name already in use with a different configuration
                raise
            await js.update_stream(config)


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable pull consumer on one producer's stream."""

    stream: str
    durable: str
    filter_subjects: tuple[str, ...]
    max_deliver: int
    ack_wait: float
    max_ack_pending: int = 1000

    def config(self) -> ConsumerConfig:
        # max_deliver is enforced by the consumer loop (dead-letter on the last delivery); the
        # server's limit is one above it so that the loop always sees the last delivery.
        return ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait,
            max_deliver=self.max_deliver + 1,
            max_ack_pending=self.max_ack_pending,
            filter_subjects=list(self.filter_subjects) if len(self.filter_subjects) > 1 else None,
            filter_subject=self.filter_subjects[0] if len(self.filter_subjects) == 1 else None,
        )


async def declare_consumer(js: JetStreamContext, spec: ConsumerSpec, stream_wait: float = STREAM_WAIT) -> None:
    """Create or update the consumer; wait (up to `stream_wait` s) for a stream not declared yet."""
    deadline = asyncio.get_running_loop().time() + stream_wait
    while True:
        try:
            await js.add_consumer(spec.stream, spec.config())
            return
        except nats.js.errors.NotFoundError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            log.warning("stream not declared yet: waiting for its producer", extra={"stream": spec.stream})
            await asyncio.sleep(1.0)


async def wait_for_jetstream(js: JetStreamContext, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            await js.account_info()
            return
        except (nats.errors.Error, nats.js.errors.Error, asyncio.TimeoutError):
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)
