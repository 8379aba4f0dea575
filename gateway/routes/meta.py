"""The OpenAPI document."""

from __future__ import annotations

from aiohttp import web

from ..api import API_PREFIX, Api
from ..keys import OPENAPI


def register(api: Api) -> None:
    @api.route("GET", f"{API_PREFIX}/openapi.json", summary="Le document OpenAPI de cette API", tag="exploitation")
    async def openapi_document(request: web.Request) -> web.Response:
        return web.json_response(request.app[OPENAPI], headers={"Cache-Control": "public, max-age=300"})
