"""Operator tools for the dead-letter streams: list, show and replay dead-lettered events.

Each service has its own dead-letter stream (`DEAD_LETTERS_<SERVICE>`): its NATS user reads and
removes the letters of its own consumers only; the operator (`ops`) reads them all. A letter is
named by its service and its number in that service's stream.

The operator's replay (`ecandidat dlq replay SERVICE SEQ`) publishes the original event again on
its original subject. Every consumer of that subject receives it; those that had already handled
it find its id in their inbox and change nothing, the one that had failed handles it now.

Each service also lists and replays its own consumers' dead letters over its rpc (the staff API's
page of events in failure): the replay hands the event straight to the consumer that failed, in
its usual transaction (inbox first), so that replaying it twice has one effect.

`migrate_legacy_dead_letters` (`ecandidat dlq migrate`) moves the letters left in the single
`DEAD_LETTERS` stream of earlier versions into their service's stream, then removes that stream.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.header import Header, decode_header

import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg, StreamState

from ..contracts.subjects import LEGACY_DEAD_LETTER_STREAM, dead_letter_stream, dead_letter_subject
from ..contracts.subjects import dead_letters_of_service
from .nats import PRODUCERS

# Set when a letter is moved out of the legacy stream: when it was dead-lettered at first.
DEAD_LETTERED_AT = "Ecandidat-Dead-Lettered-At"


@dataclass(frozen=True)
class DeadLetter:
    service: str
    seq: int
    consumer: str
    original_subject: str
    original_stream: str
    deliveries: int
    error: str
    data: bytes
    time: datetime | None = None


async def list_dead_letters(
    js: JetStreamContext, limit: int = 100, services: Iterable[str] = PRODUCERS
) -> list[DeadLetter]:
    """The `limit` newest letters of each service's stream (the operator's rights), by service,
    newest first."""
    found: list[DeadLetter] = []
    for service in services:
        stream = dead_letter_stream(service)
        try:
            state = (await js.stream_info(stream)).state
        except nats.js.errors.NotFoundError:
            continue
        found += reversed(await _newest(js, service, state, dead_letters_of_service(service), state.messages, limit))
    return found


async def get_dead_letter(js: JetStreamContext, service: str, seq: int) -> DeadLetter:
    return _letter(service, await js.get_msg(dead_letter_stream(service), seq))


def _text(value: object) -> str:
    """A header's text: the client parses a non-ASCII value (a French error) into an email `Header`
    of raw UTF-8 bytes."""
    if isinstance(value, Header):
        return "".join(
            part.decode("utf-8", "replace") if isinstance(part, bytes) else part
            for part, _charset in decode_header(value)
        )
    return str(value or "")


def _letter(service: str, msg: RawStreamMsg) -> DeadLetter:
    h = msg.headers or {}
    first = _text(h.get(DEAD_LETTERED_AT))
    return DeadLetter(
        service=service,
        seq=msg.seq or 0,
        consumer=_text(h.get("Ecandidat-Consumer")),
        original_subject=_text(h.get("Ecandidat-Original-Subject")),
        original_stream=_text(h.get("Ecandidat-Original-Stream")),
        deliveries=int(_text(h.get("Ecandidat-Deliveries")) or "0"),
        error=_text(h.get("Ecandidat-Error")),
        data=msg.data or b"",
        time=datetime.fromisoformat(first) if first else msg.time,
    )


# The widest stretch of sequence numbers one backward step of `dead_letters_of` reads forward.
_MOST_WINDOW = 4096


async def dead_letters_of(
    js: JetStreamContext, service: str, durables: list[str], limit: int = 200
) -> tuple[list[DeadLetter], int]:
    """The `limit` newest dead letters of these consumers of `service` (each has its own subject),
    newest first, and how many they have in all, from the same look at the stream.

    JetStream reads a subject's messages forward only (`next`, skipping the removed ones on the
    server), so the newest are found by stepping back from the stream's end: each step reads a
    stretch of sequence numbers forward, and the stretch doubles while it holds too few letters.
    The stream's count of each subject ends the walk once a consumer's letters are all found."""
    stream = dead_letter_stream(service)
    try:
        state = (await js.stream_info(stream, subjects_filter=dead_letters_of_service(service))).state
    except nats.js.errors.NotFoundError:
        return [], 0
    counts = state.subjects or {}
    found: list[DeadLetter] = []
    subjects = [dead_letter_subject(service, durable) for durable in sorted(set(durables))]
    for subject in subjects:
        found += await _newest(js, service, state, subject, counts.get(subject, 0), limit)
    total = sum(counts.get(subject, 0) for subject in subjects)
    return sorted(found, key=lambda letter: letter.seq, reverse=True)[:limit], total


async def _newest(
    js: JetStreamContext, service: str, state: StreamState, subject: str, count: int, limit: int
) -> list[DeadLetter]:
    """The `limit` newest of the `count` letters on `subject` (a wildcard too) in the service's
    stream, oldest first: backward steps of stretches read forward, as `dead_letters_of` says."""
    stream = dead_letter_stream(service)
    wanted = min(limit, count)
    newest: list[DeadLetter] = []  # oldest first
    end, window = state.last_seq, min(limit, _MOST_WINDOW)
    while end >= state.first_seq and len(newest) < wanted:
        start = max(state.first_seq, end - window + 1)
        stretch: list[DeadLetter] = []
        seq = start
        while True:
            try:
                msg = await js.get_msg(stream, seq=seq, subject=subject, next=True)
            except nats.js.errors.NotFoundError:
                break
            if (msg.seq or 0) > end:
                break
            stretch.append(_letter(service, msg))
            seq = (msg.seq or 0) + 1
        newest = stretch[max(0, len(stretch) - (limit - len(newest))) :] + newest
        end, window = start - 1, min(2 * window, _MOST_WINDOW)
    return newest


async def forget_dead_letter(js: JetStreamContext, service: str, seq: int) -> None:
    """Remove a handled dead letter (already gone: a concurrent replay removed it)."""
    try:
        await js.delete_msg(dead_letter_stream(service), seq)
    except nats.js.errors.NotFoundError:
        pass


async def replay_dead_letter(js: JetStreamContext, service: str, seq: int) -> DeadLetter:
    """Publish the event again on its original subject, then remove it from the dead letters."""
    letter = await get_dead_letter(js, service, seq)
    await js.publish(
        letter.original_subject, letter.data, headers={"Nats-Msg-Id": f"replay:{service}:{seq}:{uuid.uuid4()}"}
    )
    await js.delete_msg(dead_letter_stream(service), seq)
    return letter


def _service_of(durable: str, services: Iterable[str]) -> str | None:
    return next((s for s in services if durable.startswith(f"{s}_")), None)


async def migrate_legacy_dead_letters(
    js: JetStreamContext, services: Iterable[str] = PRODUCERS
) -> tuple[int, list[int]]:
    """Move each letter of the legacy `DEAD_LETTERS` stream into its service's stream (copied,
    then removed: an interrupted run is run again; at worst a letter is there twice, and its
    replay is idempotent), then delete the legacy stream once empty. The numbers moved, and the
    sequences left behind (a consumer of no known service)."""
    services = tuple(services)
    try:
        info = await js.stream_info(LEGACY_DEAD_LETTER_STREAM)
    except nats.js.errors.NotFoundError:
        return 0, []
    moved, left = 0, []
    seq = info.state.first_seq
    while seq and seq <= info.state.last_seq:
        try:
            msg = await js.get_msg(LEGACY_DEAD_LETTER_STREAM, seq)
        except nats.js.errors.NotFoundError:
            seq += 1
            continue
        headers = {k: _text(v) for k, v in (msg.headers or {}).items()}
        durable = headers.get("Ecandidat-Consumer", "")
        service = _service_of(durable, services)
        if service is None:
            left.append(seq)
        else:
            headers.setdefault(DEAD_LETTERED_AT, msg.time.isoformat() if msg.time else "")
            await js.publish(dead_letter_subject(service, durable), msg.data or b"", headers=headers)
            await js.delete_msg(LEGACY_DEAD_LETTER_STREAM, seq)
            moved += 1
        seq += 1
    if not left:
        await js.delete_stream(LEGACY_DEAD_LETTER_STREAM)
    return moved, left
