"""The API contract, checked on every response the e2e tests get from a gateway.

`watch(app)` adds a response hook to a gateway application: each response of a declared operation
is compared with that operation's entry in the gateway's own OpenAPI document — its status must be
listed, and its content type must be one the entry gives for that status; a service's reply that
the gateway relays as the service sent it (`gateway.api.relayed_response`) must be exactly what
the operation's response model makes of it (parsed, validated and serialised again: the same
bytes). `violations(app)` lists what did not match; the e2e fixtures fail the test that met one, so
every journey the suite runs is also a contract test.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway.api import OPERATION, RELAYED
from gateway.keys import OPENAPI

_SEEN = web.AppKey("contract_violations", list)


def watch(app: web.Application) -> None:
    app[_SEEN] = []

    async def check(request: web.Request, response: web.StreamResponse) -> None:
        op = request.get(OPERATION)
        if op is None:  # no route matched: not an operation of the document
            return
        entry = app[OPENAPI]["paths"][op.path][op.method.lower()]
        documented = entry["responses"].get(str(response.status))
        where = f"{op.method} {op.path} ({entry['operationId']})"
        if documented is None:
            app[_SEEN].append(
                f"{where} answered {response.status}, not listed in its OpenAPI entry ({', '.join(entry['responses'])})"
            )
            return
        content = documented.get("content")
        sent = (response.content_type or "").split(";")[0] if response.body_length or response.status != 204 else ""
        if content and sent and sent not in content and "*/*" not in content:
            app[_SEEN].append(f"{where} answered {response.status} as {sent}, documented as {', '.join(content)}")
        if response.get(RELAYED):
            app[_SEEN].extend(_relayed_differently(where, op.response, response))

    app.on_response_prepare.append(check)


def _relayed_differently(where: str, model: type[BaseModel] | None, response: web.StreamResponse) -> list[str]:
    body = response.body if isinstance(response, web.Response) else None
    if model is None or not isinstance(body, bytes):
        return [f"{where} relayed a reply without a response model to check it against"]
    try:
        again = model.model_validate_json(body).model_dump_json().encode()
    except ValidationError as exc:
        return [f"{where} relayed a reply that is not a {model.__name__}: {exc.errors()[:3]}"]
    if again != body:
        return [f"{where} relayed a reply that {model.__name__} serialises otherwise: {body[:300]!r}"]
    return []


def violations(app: web.Application) -> list[str]:
    return sorted(set(app.get(_SEEN, [])))
