"""Route declarations that also make the OpenAPI document.

Every route of the HTTP API is declared through an `Api` with its request and response models,
its realm (`None` for public routes, `candidate` or `staff`) and roles; the OpenAPI document is
generated from those same declarations, so it cannot drift from what the handlers accept.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from ecandidat.contracts.auth import Principal
from ecandidat.contracts.base import RpcRequest
from ecandidat.contracts.errors import InvalidInput, NotFound, Unauthenticated
from ecandidat.runtime.rpc import RpcClient
from ecandidat.runtime.validation import french_details

from .inputs import check_parameters, continue_body, expect_handler, load_json, refuse_large_declared_body

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=BaseModel)

API_PREFIX = "/api/v1"


@dataclass
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    realm: str | None = None
    roles: tuple[str, ...] = ()
    responses: dict[int, Any] = field(default_factory=dict)
    content_types: dict[str, str] = field(default_factory=dict)
    versioned: bool = False
    query_parameters: dict[str, tuple[dict[str, Any], Any]] = field(default_factory=dict)


class Api:
    def __init__(self) -> None:
        self.operations: list[Operation] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        tag: str,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        realm: str | None = None,
        roles: tuple[str, ...] = (),
        responses: dict[int, Any] | None = None,
        content_types: dict[str, str] | None = None,
        versioned: bool = False,
        query_parameters: dict[str, tuple[dict[str, Any], Any]] | None = None,
    ) -> Callable[[Handler], Handler]:
        """Declare an operation. `responses` adds statuses to those the edge gives every operation of
        its kind (see `gateway.openapi`), success ones included (201 of a PUT that creates), as
        `{status: description}` or `{status: (description, Model)}` for an answer with a JSON body;
        `content_types` names the media types of a non-JSON request or response (space-separated);
        `versioned` marks a resource saved with `If-Match` (412/428) and read with its `ETag`;
        `query_parameters` documents query values read without a model: {name: (JSON Schema, example)}."""

        def register(handler: Handler) -> Handler:
            self.operations.append(
                Operation(
                    method.upper(),
                    path,
                    handler,
                    summary,
                    tag,
                    body,
                    query,
                    response,
                    status,
                    realm,
                    roles,
                    responses or {},
                    content_types or {},
                    versioned,
                    query_parameters or {},
                )
            )
            return handler

        return register

    def install(self, app: web.Application) -> None:
        for op in self.operations:
            app.router.add_route(op.method, op.path, _with_operation(op), expect_handler=expect_handler)

    def find(self, method: str, path: str) -> Operation | None:
        for op in self.operations:
            if op.method == method and op.path == path:
                return op
        return None


Authenticator = Callable[[web.Request, "Operation"], Awaitable[Principal]]
AUTHENTICATOR: web.AppKey[Authenticator] = web.AppKey("authenticator")
RPC = web.AppKey("rpc", RpcClient)
REQUEST_ID = web.RequestKey("request_id", str)
OPERATION = web.RequestKey("operation", Operation)
PRINCIPAL = web.RequestKey("principal", Principal)


def _with_operation(op: Operation) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        request[OPERATION] = op
        check_parameters(request)
        if op.realm is not None:
            authenticate = request.app.get(AUTHENTICATOR)
            if authenticate is None:
                raise Unauthenticated("Vous devez être connecté pour accéder à cette ressource.")
            # Resolves the caller and checks realm and roles; raises 401/403 otherwise.
            request[PRINCIPAL] = await authenticate(request, op)
        return await op.handler(request)

    handler.__name__ = op.handler.__name__
    return handler


async def parse_body(request: web.Request, model: type[M]) -> M:
    """The JSON body as `model`, or a 4xx with French, field-named errors."""
    if request.content_type != "application/json":
        raise InvalidInput(
            "Le corps de la requête doit être du JSON (Content-Type: application/json).", code="unsupported_media_type"
        )
    refuse_large_declared_body(request, request.client_max_size, "Le corps de la requête est trop volumineux.")
    await continue_body(request)
    data = load_json(await request.read())
    if not isinstance(data, dict):
        raise InvalidInput("Le corps de la requête doit être un objet JSON.", code="bad_request")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput("Les données envoyées sont invalides.", details=french_details(exc)) from None


def parse_query(request: web.Request, model: type[M]) -> M:
    data: dict[str, Any] = {}
    for key in request.query:
        values = request.query.getall(key)
        data[key] = values if len(values) > 1 else values[0]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput("Les paramètres de la requête sont invalides.", details=french_details(exc)) from None


def json_response(
    model: BaseModel | dict | list, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    if isinstance(model, BaseModel):
        body = model.model_dump_json().encode()
    else:
        body = json.dumps(model, ensure_ascii=False, default=str).encode()
    return web.Response(body=body, status=status, content_type="application/json", headers=headers)


async def call(request: web.Request, rpc_request: RpcRequest, reply: type[M], *, timeout: float | None = None) -> M:
    """The gateway's one way of asking a service: the rpc for this HTTP request, under its request id."""
    return await request.app[RPC].call(rpc_request, reply, request_id=request[REQUEST_ID], timeout=timeout)


RELAYED = web.ResponseKey("relayed", bool)


def relayed_response(reply: bytes, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """The answer of an operation whose response model is its rpc's reply model: the service's reply
    as the service serialised it from that very model (`RpcClient.call_raw`). Parsing, validating
    and serialising it again here would give the same bytes for one more pass over each field;
    `tests/e2e/contract.py` checks that it does, on every such answer of the e2e suite."""
    response = web.Response(body=reply, status=status, content_type="application/json", headers=headers)
    response[RELAYED] = True
    return response


async def call_raw(request: web.Request, rpc_request: RpcRequest, *, timeout: float | None = None) -> bytes:
    """`call`, the reply's JSON as the service serialised it (`RpcClient.call_raw`)."""
    return await request.app[RPC].call_raw(rpc_request, request_id=request[REQUEST_ID], timeout=timeout)


async def relay(
    request: web.Request,
    rpc_request: RpcRequest,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    timeout: float | None = None,
) -> web.Response:
    """`call`, answered with the service's reply as it sent it (`relayed_response`)."""
    return relayed_response(await call_raw(request, rpc_request, timeout=timeout), status, headers)


def path_uuid(request: web.Request, name: str, what: str = "Cette ressource") -> uuid.UUID:
    """A UUID path parameter; anything else is a 404 (it cannot name an existing resource)."""
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise NotFound(f"{what} n'existe pas.") from None


def body_of(
    rpc_model: type[BaseModel], *, without: tuple[str, ...] = ("principal",), name: str | None = None
) -> type[BaseModel]:
    """The HTTP body model of an rpc request: its fields minus those the gateway fills itself
    (the principal, path parameters). Same validation, one definition."""
    fields: dict[str, Any] = {
        key: (info.annotation, info) for key, info in rpc_model.model_fields.items() if key not in without
    }
    return create_model(name or f"{rpc_model.__name__}Body", __config__=ConfigDict(extra="forbid"), **fields)
