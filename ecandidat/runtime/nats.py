"""NATS connection and the one place where streams and consumers are declared.

Streams: one per producing service (`EVT_<PRODUCER>` on `evt.<producer>.>`) and the dead-letter
stream. Declarations are applied idempotently at start: a missing stream is created, an existing
one is updated to the declared configuration.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
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

from ..contracts.subjects import DEAD_LETTER_STREAM, event_stream, producer_events

log = logging.getLogger(__name__)

PRODUCERS = ("accounts", "dossiers", "candidatures", "documents", "mailer")

EVENT_MAX_AGE = 90 * 24 * 3600  # seconds an event stays in its stream (integrators may replay)
DUPLICATE_WINDOW = 300  # seconds JetStream remembers Nats-Msg-Id values


async def connect(servers: list[str], name: str, **options: object) -> NATS:
    """Connect with unlimited reconnects; log connection state changes."""

    async def disconnected() -> None:
        log.warning("nats disconnected")

    async def reconnected() -> None:
        log.info("nats reconnected")

    async def error(exc: Exception) -> None:
        log.warning("nats error", extra={"error": repr(exc)})

    return await nats.connect(
        servers=servers,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=2,
        allow_reconnect=True,
        disconnected_cb=disconnected,
        reconnected_cb=reconnected,
        error_cb=error,
        **options,
    )


def stream_configs(replicas: int = 1) -> list[StreamConfig]:
    configs = [
        StreamConfig(
            name=event_stream(p),
            subjects=[producer_events(p)],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=EVENT_MAX_AGE,
            duplicate_window=DUPLICATE_WINDOW,
            num_replicas=replicas,
            discard=DiscardPolicy.OLD,
        )
        for p in PRODUCERS
    ]
    configs.append(
        StreamConfig(
            name=DEAD_LETTER_STREAM,
            subjects=["dlq.>"],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=EVENT_MAX_AGE,
            num_replicas=replicas,
        )
    )
    return configs


async def declare_streams(js: JetStreamContext, replicas: int = 1) -> None:
    for config in stream_configs(replicas):
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


async def declare_consumer(js: JetStreamContext, spec: ConsumerSpec) -> None:
    await js.add_consumer(spec.stream, spec.config())


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
