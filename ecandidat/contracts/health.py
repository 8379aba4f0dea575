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
    service: str
    ok: bool
    instance: str
    checks: dict[str, CheckResult] = Field(default_factory=dict)
