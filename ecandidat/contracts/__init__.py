"""Every event and rpc body exchanged between services, and how they are named."""

from .base import Empty, Event, Message, RpcReply, RpcRequest
from .envelope import CloudEvent, envelope
from .errors import ServiceError
from .subjects import event_stream, event_subject, rpc_subject

__all__ = [
    "CloudEvent",
    "Empty",
    "Event",
    "Message",
    "RpcReply",
    "RpcRequest",
    "ServiceError",
    "envelope",
    "event_stream",
    "event_subject",
    "rpc_subject",
]
