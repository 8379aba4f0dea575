"""The HTTP routes, one module per resource, each with a `register(api)` (`gateway.app.build_api`).

Operations that are one rpc and its JSON answer, declared as rows of a table: the request is built
from the caller, the resource named in the path (a UUID: anything else is a 404) and the body's
fields, the service's reply is the answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from ecandidat.contracts.base import RpcRequest

from ..api import PRINCIPAL, Api, call_raw, parse_body, path_uuid, relay, relayed_response
from ..keys import SESSIONS

PUBLIC = {"Cache-Control": "public, max-age=300"}  # what is the same for everyone: contracts, settings


@dataclass(frozen=True)
class PathId:
    """The path parameter naming the resource, and how a 404 names it (« Cette candidature »)."""

    name: str
    what: str


@dataclass(frozen=True)
class Rpc:
    """One operation: `name` is its handler's name, so the OpenAPI operationId; `request` builds the
    rpc request from `principal=`, the path's id (when the path has one) and the body's fields, or is
    None when the body is the rpc request itself (an operation without a caller)."""

    method: str
    path: str
    name: str
    summary: str
    request: Callable[..., RpcRequest] | None
    response: type[BaseModel]
    body: type[BaseModel] | None = None
    status: int = 200
    roles: tuple[str, ...] | None = None  # None: the table's
    public: bool = False  # True: no session needed (the table's realm does not apply)
    responses: dict[int, Any] | None = None


def register_rpcs(
    api: Api,
    rows: Sequence[Rpc],
    *,
    tag: str,
    realm: str | None,
    roles: tuple[str, ...] = (),
    path_id: PathId | None = None,
) -> None:
    for row in rows:
        ident = path_id if path_id is not None and f"{{{path_id.name}}}" in row.path else None
        api.route(
            row.method,
            row.path,
            summary=row.summary,
            tag=tag,
            body=row.body,
            response=row.response,
            status=row.status,
            realm=None if row.public else realm,
            roles=roles if row.roles is None else row.roles,
            responses=row.responses,
        )(_handler(row, ident))


def _handler(row: Rpc, ident: PathId | None) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.Response:
        body = None if row.body is None else await parse_body(request, row.body)
        if row.request is None:
            assert isinstance(body, RpcRequest), "an operation without a caller has its rpc request as body"
            req = body
        else:
            fields = {} if body is None else body.model_dump()
            if ident is not None:
                fields[ident.name] = path_uuid(request, ident.name, ident.what)
            req = row.request(principal=request[PRINCIPAL], **fields)
        return await relay(request, req, status=row.status)

    handler.__name__ = handler.__qualname__ = row.name
    return handler


async def kept(request: web.Request, rpc_request: RpcRequest, kind: str) -> bytes:
    """A candidate's own view (`kind`: gateway.sessions' VIEWS), the service's reply to
    `rpc_request` as it sent it, from this gateway's copy while it holds (kept beside the session,
    dropped by the service's signal: `gateway.sessions`)."""
    principal = request[PRINCIPAL]

    def fetch() -> Awaitable[bytes]:
        return call_raw(request, rpc_request)

    sessions = request.app.get(SESSIONS)
    return await (fetch() if sessions is None else sessions.view(kind, principal.account_id, fetch))


async def relay_kept(request: web.Request, rpc_request: RpcRequest, kind: str) -> web.Response:
    """Answer with `kept`, as `gateway.api.relay` answers."""
    return relayed_response(await kept(request, rpc_request, kind))
