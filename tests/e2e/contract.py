"""The API contract, checked on every response the e2e tests get from a gateway.

`watch(app)` adds a response hook to a gateway application: each response of a declared operation
is compared with that operation's entry in the gateway's own OpenAPI document — its status must be
listed, and its content type must be one the entry gives for that status. `violations(app)` lists
what did not match; the e2e fixtures fail the test that met one, so every journey the suite runs is
also a contract test.
"""

from __future__ import annotations

from aiohttp import web

from gateway.api import OPERATION
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

    app.on_response_prepare.append(check)


def violations(app: web.Application) -> list[str]:
    return sorted(set(app.get(_SEEN, [])))
