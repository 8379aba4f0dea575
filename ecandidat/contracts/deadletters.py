"""The dead letters of a service, and their replay: `rpc.<service>.dead_letters` and
`rpc.<service>.replay_dead_letter`, answered by every service for its own consumers from its own
dead-letter stream (the subject names the service; the gateway lists each, and replays a letter
with the service it belongs to)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from .auth import Principal
from .base import Message, RpcReply

LIST_OPERATION = "dead_letters"
REPLAY_OPERATION = "replay_dead_letter"


class ListDeadLetters(Message):
    principal: Principal
    limit: int = Field(default=200, ge=1, le=500)


class DeadLetterView(RpcReply):
    """An event one of the service's consumers could never handle."""

    seq: int = Field(
        description="Its number in its service's dead-letter stream: what a replay names, with the service"
    )
    service: str = Field(description="The service whose consumer failed, and whose dead-letter stream holds it")
    consumer: str
    subject: str = Field(description="The event's subject (evt.<producer>.<entity>.<action>)")
    event_type: str | None = None
    event_id: uuid.UUID | None = None
    deliveries: int
    error: str = Field(description="Why it failed, as the consumer saw it")
    dead_lettered_at: datetime | None = None


class DeadLetters(RpcReply):
    items: list[DeadLetterView] = Field(description="The newest, at most the request's `limit`")
    total: int = Field(default=0, description="How many the service's consumers have in all")


class ReplayDeadLetter(Message):
    principal: Principal
    seq: int = Field(ge=1)


class DeadLetterReplayed(RpcReply):
    seq: int
    consumer: str
    event_id: uuid.UUID | None = None
    # The consumer had handled this event already (replayed twice): nothing changed again.
    already_handled: bool = False
