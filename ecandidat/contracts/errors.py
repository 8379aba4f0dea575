"""The typed error reply of every rpc, mapped by the gateway to RFC 9457 problem+json."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Stable machine codes and the HTTP status the gateway answers with.
HTTP_STATUS: dict[str, int] = {
    "invalid": 422,
    "bad_request": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "gone": 410,
    "precondition_failed": 412,
    "request_timeout": 408,
    "too_large": 413,
    "unsupported_media_type": 415,
    "too_many_requests": 429,
    "unavailable": 503,
    "timeout": 504,
    "internal": 500,
}


class ErrorDetail(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: str | None = None
    message: str
    code: str | None = None


class RpcErrorBody(BaseModel):
    """What a failed rpc replies: `{"error": {"code", "message", "details"}}`."""

    model_config = ConfigDict(frozen=True)

    code: str
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)


class ServiceError(Exception):
    """A refusal with a machine code and a French message meant for the person who asked.

    Raised by domain code and handlers; the rpc server turns it into an error reply, the
    gateway into a problem+json response with the matching status.
    """

    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: list[ErrorDetail] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.details = details or []
        self.extra = extra

    def body(self) -> RpcErrorBody:
        return RpcErrorBody(code=self.code, message=self.message, details=self.details, extra=self.extra)

    @classmethod
    def from_body(cls, body: RpcErrorBody) -> "ServiceError":
        """The error an rpc replied, as the class of its code (so `except NotFound` works across services)."""
        klass = _BY_CODE.get(body.code, ServiceError)
        return klass(body.message, code=body.code, details=list(body.details), **body.extra)


class InvalidInput(ServiceError):
    code = "invalid"


class NotFound(ServiceError):
    code = "not_found"


class Conflict(ServiceError):
    code = "conflict"


class Forbidden(ServiceError):
    code = "forbidden"


class Unauthenticated(ServiceError):
    code = "unauthenticated"


class Unavailable(ServiceError):
    code = "unavailable"


class RpcTimeout(ServiceError):
    code = "timeout"


_BY_CODE: dict[str, type[ServiceError]] = {
    k.code: k for k in (InvalidInput, NotFound, Conflict, Forbidden, Unauthenticated, Unavailable, RpcTimeout)
}
