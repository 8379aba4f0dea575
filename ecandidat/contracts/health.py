"""Health rpc, answered by every service on `rpc.<service>.health`."""

from __future__ import annotations

from pydantic import Field

from .base import Message, RpcReply


class HealthRequest(Message):
    """Body of `rpc.<service>.health` (the subject names the service)."""


class CheckResult(RpcReply):
    ok: bool
    detail: str | None = None
    latency_ms: float | None = None


class HealthReply(RpcReply):
    """`ready`: the service can serve its rpc (its database answers; it answered over NATS).
    `ok`: besides, every check passes (SMTP, storage…) and every background loop runs; a service
    that is ready but not ok is degraded."""

    service: str
    ok: bool
    ready: bool
    instance: str
    checks: dict[str, CheckResult] = Field(default_factory=dict)
