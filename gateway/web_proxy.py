"""The pages, on the API's origin: every path that is not the API's (`/api/…`, `/health`) is passed
to the web process (`WEB_URL`), streamed both ways, one chunk at a time.

One origin for the browser, so the API's session cookie (HttpOnly, `Path=/`, SameSite=Strict)
and its CSRF cookie reach the pages, and the pages' scripts call `/api/v1` without CORS. The web
process sets its own security headers; the proxy adds the `X-Forwarded-*` headers and the request id.
With `WEB_URL` empty the gateway serves the API alone.
"""

from __future__ import annotations

import logging

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from .api import REQUEST_ID
from .keys import SETTINGS
from .problems import problem

log = logging.getLogger(__name__)

CHUNK = 256 * 1024
WEB_CLIENT = web.AppKey("web_client", aiohttp.ClientSession)
# Not the API's: `/api/…` and `/health` keep their own 404/405 problem answers.
PAGE_PATHS = r"/{tail:(?!api/|api$|health$).*}"
UNAVAILABLE = "Le site est momentanément indisponible, veuillez réessayer dans quelques instants."
UNAVAILABLE_PAGE = (
    '<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>eCandidat indisponible</title>'
    '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
    f"<body><main><h1>eCandidat</h1><p>{UNAVAILABLE}</p></main></body></html>"
)
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
    "transfer-encoding", "upgrade", "host", "content-length",
})  # fmt: skip


def _forwarded(request: web.Request) -> CIMultiDict[str]:
    headers = CIMultiDict((k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP)
    client = request.remote or ""
    previous = request.headers.get("X-Forwarded-For")
    headers["X-Forwarded-For"] = f"{previous}, {client}" if previous else client
    headers["X-Forwarded-Proto"] = request.scheme
    headers["X-Forwarded-Host"] = request.host
    headers["X-Request-Id"] = request[REQUEST_ID]
    return headers


async def proxy(request: web.Request) -> web.StreamResponse:
    base = request.app[SETTINGS].web_url.rstrip("/")
    body = request.content if request.body_exists else None
    try:
        async with request.app[WEB_CLIENT].request(
            request.method,
            f"{base}{request.rel_url}",
            headers=_forwarded(request),
            data=body,
            allow_redirects=False,
        ) as upstream:
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for name, value in upstream.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    response.headers.add(name, value)
            if upstream.content_length is not None:
                response.content_length = upstream.content_length
            await response.prepare(request)
            async for chunk in upstream.content.iter_chunked(CHUNK):
                await response.write(chunk)
            await response.write_eof()
            return response
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        log.warning("web process unreachable", extra={"error": repr(error)})
        if "text/html" in request.headers.get("Accept", ""):
            return web.Response(
                status=503,
                text=UNAVAILABLE_PAGE,
                content_type="text/html",
                headers={"Retry-After": "5", "Cache-Control": "no-store"},
            )
        return problem(503, "unavailable", UNAVAILABLE, request=request, headers={"Retry-After": "5"})


async def _client(app: web.Application):
    timeout = aiohttp.ClientTimeout(total=None, connect=10, sock_read=app[SETTINGS].web_timeout)
    app[WEB_CLIENT] = aiohttp.ClientSession(
        timeout=timeout,
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        connector=aiohttp.TCPConnector(limit=200, keepalive_timeout=30),
    )
    yield
    await app[WEB_CLIENT].close()


def install(app: web.Application) -> None:
    """After the API's routes: the pages' catch-all route, when WEB_URL is set."""
    if not app[SETTINGS].web_url:
        return
    app.router.add_route("*", PAGE_PATHS, proxy)
    app.cleanup_ctx.append(_client)
