"""Rpc over NATS request/reply.

Server: one subscription per operation on `rpc.<service>.<operation>` in queue group `<service>`,
so replicas share the load. A NATS subscription hands over messages one at a time, so each request
runs as its own task, at most `concurrency` at once per process: a slow request does not hold up
the others, and a flood waits instead of exhausting memory.

Wire format: the request body is the JSON of the request model; the reply is
`{"result": {...}}` or `{"error": {"code", "message", "details"}}`. The request id travels in the
`X-Request-Id` header and is bound into the logs.

Errors: a `ServiceError` raised by a handler is the reply. A handler that fails because its
database cannot be used (down, restarting, connection cut: `db.database_unavailable`) answers
`unavailable` with `retry_after`, as does the client when no replica of the service answers: the
gateway makes both a 503 with `Retry-After`. Any other exception is a bug: logged with its
traceback, answered `internal` without details.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from pydantic import BaseModel, ValidationError

from ..contracts.base import RpcRequest
from ..contracts.errors import RpcErrorBody, RpcTimeout, ServiceError, Unavailable
from ..contracts.subjects import rpc_operation_subject, rpc_subject
from . import metrics
from .db import database_unavailable
from .logging import bind
from .nats import flush
from .validation import invalid_input

log = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)

REQUEST_ID = "X-Request-Id"

RETRY_AFTER = 5  # seconds a caller is told to wait when a service or its database is unavailable
UNAVAILABLE_MESSAGE = "Le service est momentanément indisponible, veuillez réessayer."


@dataclass(frozen=True)
class RpcContext:
    request_id: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Encoded:
    """A reply its handler already serialised with its reply model (`model_dump_json()`, e.g. kept
    from an earlier identical answer): sent as is, not serialised again."""

    json: bytes


Reply = BaseModel | Encoded | None
RpcHandler = Callable[[Any, RpcContext], Awaitable[Reply]]


def _encode_result(result: Reply) -> bytes:
    if result is None:
        return b'{"result":{}}'
    if isinstance(result, Encoded):
        return b'{"result":' + result.json + b"}"
    return b'{"result":' + result.model_dump_json().encode() + b"}"


def _encode_error(err: ServiceError) -> bytes:
    return json.dumps({"error": err.body().model_dump(mode="json")}, ensure_ascii=False).encode()


class Route(NamedTuple):
    """One row of a service's rpc table (`ROUTES` in its `rpc.py`): the request, its handler."""

    model: type[RpcRequest]
    handler: Callable[[Any, Any], Awaitable[Reply]]


Deps = TypeVar("Deps")
Request = TypeVar("Request", bound=RpcRequest)


def route(model: type[Request], handler: Callable[[Deps, Request], Awaitable[Reply]]) -> Route:
    """A row of the table; the type checker sees that the handler takes this request."""
    return Route(model, handler)


def register_routes(server: RpcServer, deps: Any, routes: tuple[Route, ...]) -> None:
    """Serve each route's request with `handler(deps, request)`: a service's rpc is its table."""
    for model, handler in routes:
        server.route(model)(_bound(handler, deps))


def _bound(handler: Callable[[Any, Any], Awaitable[Reply]], deps: Any) -> RpcHandler:
    async def serve(req: Any, ctx: RpcContext) -> Reply:
        return await handler(deps, req)

    serve.__name__ = handler.__name__
    return serve


class RpcServer:
    def __init__(self, nc: NATS, service: str, *, concurrency: int = 64) -> None:
        self.nc = nc
        self.service = service
        self._routes: dict[str, tuple[type[BaseModel], RpcHandler]] = {}
        self._subs: list[Any] = []
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task] = set()

    def route(self, model: type[RpcRequest]) -> Callable[[RpcHandler], RpcHandler]:
        """Decorator: `@server.route(Login) async def login(req, ctx): ...`."""

        def register(handler: RpcHandler) -> RpcHandler:
            if model.service != self.service:
                raise ValueError(f"{model.__name__} belongs to {model.service}, not {self.service}")
            self.add(rpc_subject(model), model, handler)
            return handler

        return register

    def add(self, subject: str, model: type[BaseModel], handler: RpcHandler) -> None:
        if subject in self._routes:
            raise ValueError(f"{subject} registered twice")
        self._routes[subject] = (model, handler)

    def add_operation(self, operation: str, model: type[BaseModel], handler: RpcHandler) -> None:
        self.add(rpc_operation_subject(self.service, operation), model, handler)

    @property
    def subjects(self) -> list[str]:
        return sorted(self._routes)

    async def start(self) -> None:
        """Subscribe to every route; on return the server routes requests here (the SUBs are
        flushed and answered by a PONG), so a service reported ready never answers « no responders »."""
        for subject in self._routes:
            self._subs.append(
                await self.nc.subscribe(subject, queue=self.service, cb=self._dispatch, pending_msgs_limit=65536)
            )
        await flush(self.nc)

    async def stop(self) -> None:
        """Stop taking requests and wait for the ones in progress."""
        for sub in self._subs:
            try:
                await sub.unsubscribe()
            except nats.errors.Error:
                pass
        self._subs.clear()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=10)

    async def _dispatch(self, msg: Msg) -> None:
        await self._slots.acquire()
        task = asyncio.create_task(self._serve(msg))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        self._slots.release()

    @metrics.timed_rpc_serve
    async def _serve(self, msg: Msg) -> None:
        headers = dict(msg.headers or {})
        request_id = headers.get(REQUEST_ID) or uuid.uuid4().hex
        with bind(request_id=request_id, rpc=msg.subject):
            try:
                model, handler = self._routes[msg.subject]
                try:
                    request = model.model_validate_json(msg.data or b"{}")
                except ValidationError as exc:
                    raise invalid_input(exc) from None
                reply = _encode_result(await handler(request, RpcContext(request_id, headers)))
            except ServiceError as err:
                reply = _encode_error(err)
            except Exception as exc:
                if database_unavailable(exc):
                    log.warning("rpc handler found the database unavailable", extra={"error": repr(exc)})
                    reply = _encode_error(Unavailable(UNAVAILABLE_MESSAGE, retry_after=RETRY_AFTER))
                else:
                    log.exception("rpc handler failed")
                    reply = _encode_error(ServiceError("Une erreur interne est survenue.", code="internal"))
            if msg.reply:
                try:
                    await msg.respond(reply)
                except nats.errors.Error as exc:
                    log.warning("rpc reply not sent", extra={"error": repr(exc)})


class RpcClient:
    def __init__(self, nc: NATS, *, timeout: float = 5.0) -> None:
        self.nc = nc
        self.timeout = timeout

    async def call(
        self,
        request: RpcRequest,
        reply_model: type[T],
        *,
        timeout: float | None = None,
        request_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> T:
        result = await self.call_raw(request, timeout=timeout, request_id=request_id, headers=headers)
        return reply_model.model_validate_json(result)

    async def call_raw(
        self,
        request: RpcRequest,
        *,
        timeout: float | None = None,
        request_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> bytes:
        """The reply's `result` as the JSON bytes the service sent (its reply model's own
        serialisation), neither parsed nor validated here: for a caller that only passes it on
        (the gateway's read routes) or validates it from JSON in one step (`call`)."""
        data = await self.request_subject(
            rpc_subject(request),
            request.model_dump_json().encode(),
            timeout=timeout,
            request_id=request_id,
            headers=headers,
        )
        return _result_bytes(data)

    async def call_subject(
        self,
        subject: str,
        payload: bytes,
        *,
        timeout: float | None = None,
        request_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        data = await self.request_subject(subject, payload, timeout=timeout, request_id=request_id, headers=headers)
        result: dict[str, Any] = json.loads(_result_bytes(data))
        return result

    @metrics.timed_rpc_call
    async def request_subject(
        self,
        subject: str,
        payload: bytes,
        *,
        timeout: float | None = None,
        request_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> bytes:
        """One request/reply on `subject`: the reply's raw bytes (`{"result": …}` or `{"error": …}`)."""
        hdrs = dict(headers) if headers else {}
        hdrs[REQUEST_ID] = request_id or hdrs.get(REQUEST_ID) or uuid.uuid4().hex
        try:
            msg = await self.nc.request(subject, payload, timeout=timeout or self.timeout, headers=hdrs)
        except nats.errors.NoRespondersError:
            raise Unavailable(UNAVAILABLE_MESSAGE, service=subject.split(".")[1], retry_after=RETRY_AFTER) from None
        except (nats.errors.TimeoutError, asyncio.TimeoutError):
            raise RpcTimeout(
                "Le service n'a pas répondu à temps, veuillez réessayer.", service=subject.split(".")[1]
            ) from None
        except (
            nats.errors.ConnectionClosedError,
            nats.errors.ConnectionReconnectingError,
            nats.errors.StaleConnectionError,
        ):
            raise Unavailable(UNAVAILABLE_MESSAGE, retry_after=RETRY_AFTER) from None
        return msg.data


_RESULT_PREFIX = b'{"result":'


def _result_bytes(data: bytes) -> bytes:
    """The `result` of a reply, as bytes. A server of this kit writes `{"result":<json>}`
    (`_encode_result`): the value is sliced out without parsing the reply. Anything else — an
    error, or a reply written another way — is parsed: an error is raised as the `ServiceError`."""
    if data.startswith(_RESULT_PREFIX) and data.endswith(b"}"):
        return data[len(_RESULT_PREFIX) : -1]
    body = json.loads(data)
    if "error" in body:
        raise ServiceError.from_body(RpcErrorBody.model_validate(body["error"]))
    return json.dumps(body.get("result", {})).encode()
