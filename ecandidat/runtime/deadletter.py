"""Operator tools for the dead-letter stream: list, show and replay dead-lettered events.

The operator's replay (`ecandidat dlq replay`) publishes the original event again on its original
subject. Every consumer of that subject receives it; those that had already handled it find its id
in their inbox and change nothing, the one that had failed handles it now.

Each service also lists and replays its own consumers' dead letters over its rpc (the staff API's
page of events in failure): the replay hands the event straight to the consumer that failed, in
its usual transaction (inbox first), so that replaying it twice has one effect.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from email.header import Header, decode_header

import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg

from ..contracts.subjects import DEAD_LETTER_STREAM, dead_letter_subject


@dataclass(frozen=True)
class DeadLetter:
    seq: int
    consumer: str
    original_subject: str
    original_stream: str
    deliveries: int
    error: str
    data: bytes
    time: datetime | None = None


async def list_dead_letters(js: JetStreamContext, limit: int = 100) -> list[DeadLetter]:
    info = await js.stream_info(DEAD_LETTER_STREAM)
    found: list[DeadLetter] = []
    seq = info.state.first_seq
    while seq and seq <= info.state.last_seq and len(found) < limit:
        try:
            found.append(await get_dead_letter(js, seq))
        except nats.js.errors.NotFoundError:
            pass
        seq += 1
    return found


async def get_dead_letter(js: JetStreamContext, seq: int) -> DeadLetter:
    return _letter(await js.get_msg(DEAD_LETTER_STREAM, seq))


def _text(value: object) -> str:
    """A header's text: the client parses a non-ASCII value (a French error) into an email `Header`
    of raw UTF-8 bytes."""
    if isinstance(value, Header):
        return "".join(
            part.decode("utf-8", "replace") if isinstance(part, bytes) else part
            for part, _charset in decode_header(value)
        )
    return str(value or "")


def _letter(msg: RawStreamMsg) -> DeadLetter:
    h = msg.headers or {}
    return DeadLetter(
        seq=msg.seq or 0,
        consumer=_text(h.get("Ecandidat-Consumer")),
        original_subject=_text(h.get("Ecandidat-Original-Subject")),
        original_stream=_text(h.get("Ecandidat-Original-Stream")),
        deliveries=int(_text(h.get("Ecandidat-Deliveries")) or "0"),
        error=_text(h.get("Ecandidat-Error")),
        data=msg.data or b"",
        time=msg.time,
    )


async def dead_letters_of(js: JetStreamContext, durables: list[str], limit: int = 200) -> list[DeadLetter]:
    """The dead letters of these consumers (each has its own subject), newest first."""
    found: list[DeadLetter] = []
    for durable in sorted(set(durables)):
        seq, taken = 1, 0
        while taken < limit:
            try:
                msg = await js.get_msg(DEAD_LETTER_STREAM, seq=seq, subject=dead_letter_subject(durable), next=True)
            except nats.js.errors.NotFoundError:
                break
            letter = _letter(msg)
            found.append(letter)
            seq, taken = letter.seq + 1, taken + 1
    return sorted(found, key=lambda letter: letter.seq, reverse=True)[:limit]


async def forget_dead_letter(js: JetStreamContext, seq: int) -> None:
    """Remove a handled dead letter (already gone: a concurrent replay removed it)."""
    try:
        await js.delete_msg(DEAD_LETTER_STREAM, seq)
    except nats.js.errors.NotFoundError:
        pass


async def replay_dead_letter(js: JetStreamContext, seq: int) -> DeadLetter:
    """Publish the event again on its original subject, then remove it from the dead letters."""
    letter = await get_dead_letter(js, seq)
    await js.publish(letter.original_subject, letter.data, headers={"Nats-Msg-Id": f"replay:{seq}:{uuid.uuid4()}"})
    await js.delete_msg(DEAD_LETTER_STREAM, seq)
    return letter
