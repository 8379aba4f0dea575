"""The published contracts: the OpenAPI document of this API, the AsyncAPI document of the events
(as JSON, and as a page people read)."""

from __future__ import annotations

from aiohttp import web

from .. import asyncapi_page
from ..api import API_PREFIX, Api
from ..keys import ASYNCAPI, OPENAPI
from . import PUBLIC


def register(api: Api) -> None:
    @api.route("GET", f"{API_PREFIX}/openapi.json", summary="Le document OpenAPI de cette API", tag="exploitation")
    async def openapi_document(request: web.Request) -> web.Response:
        return web.json_response(request.app[OPENAPI], headers=PUBLIC)

    @api.route(
        "GET",
        f"{API_PREFIX}/asyncapi.json",
        summary="Le document AsyncAPI 3.0 des événements publiés",
        tag="exploitation",
    )
    async def asyncapi_document(request: web.Request) -> web.Response:
        return web.json_response(request.app[ASYNCAPI], headers=PUBLIC)

    @api.route(
        "GET",
        f"{API_PREFIX}/asyncapi.html",
        summary="Le catalogue des événements publiés, à lire",
        tag="exploitation",
        content_types={"response": "text/html"},
    )
    async def asyncapi_html(request: web.Request) -> web.Response:
        return web.Response(
            text=asyncapi_page.render(request.app[ASYNCAPI]),
            content_type="text/html",
            headers={**PUBLIC, "Content-Security-Policy": asyncapi_page.CSP},
        )
