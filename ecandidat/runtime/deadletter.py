"""Operator tools for the dead-letter stream: list, show and replay dead-lettered events.

A replay publishes the original event again on its original subject. Every consumer of that
subject receives it; those that had already handled it find its id in their inbox and change
nothing, the one that had failed handles it now.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import nats.js.errors
from nats.js import JetStreamContext

from ..contracts.subjects import DEAD_LETTER_STREAM


@dataclass(frozen=True)
class DeadLetter:
    seq: int
    consumer: str
    original_subject: str
    deliveries: int
    error: str
    data: bytes


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
    msg = await js.get_msg(DEAD_LETTER_STREAM, seq)
    h = msg.headers or {}
    return DeadLetter(
        seq=seq,
        consumer=h.get("Ecandidat-Consumer", ""),
        original_subject=h.get("Ecandidat-Original-Subject", ""),
        deliveries=int(h.get("Ecandidat-Deliveries", "0")),
        error=h.get("Ecandidat-Error", ""),
        data=msg.data or b"",
    )


async def replay_dead_letter(js: JetStreamContext, seq: int) -> DeadLetter:
    """Publish the event again on its original subject, then remove it from the dead letters."""
    letter = await get_dead_letter(js, seq)
    await js.publish(letter.original_subject, letter.data, headers={"Nats-Msg-Id": f"replay:{seq}:{uuid.uuid4()}"})
    await js.delete_msg(DEAD_LETTER_STREAM, seq)
    return letter
