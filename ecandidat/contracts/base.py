"""Base classes of every message exchanged between services.

Events are facts in the past tense, published on JetStream inside a CloudEvents 1.0 envelope.
Rpc requests and replies travel over NATS request/reply. Both are frozen pydantic models;
inputs refuse unknown fields so that a typo in a producer is an error, not silently ignored data.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class Message(BaseModel):
    """A frozen message body that refuses unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Event(Message):
    """Body (`data`) of an event.

    `producer`, `entity` and `action` make the subject `evt.<producer>.<entity>.<action>`;
    `version` is the schema version carried in the envelope's `dataschema`. A `private` event
    carries a sealed secret for the mailer: it travels on `prv.…`, in a stream integrators never
    see (`ecandidat.runtime.natsauth`).
    """

    producer: ClassVar[str]
    entity: ClassVar[str]
    action: ClassVar[str]
    version: ClassVar[int] = 1
    private: ClassVar[bool] = False

    @classmethod
    def event_type(cls) -> str:
        return f"{cls.entity}.{cls.action}"


class RpcRequest(Message):
    """Body of an rpc request; `service` and `operation` make `rpc.<service>.<operation>`."""

    service: ClassVar[str]
    operation: ClassVar[str]


class RpcReply(BaseModel):
    """Body of a successful rpc reply. Replies tolerate new fields so that services can grow."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Empty(RpcReply):
    """A reply without content."""
