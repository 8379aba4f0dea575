"""The gateway's application factory, and the runner that serves it."""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import AsyncIterator

from aiohttp import web

from ecandidat.contracts.subjects import DOSSIERS_CHANGED, SESSIONS_REVOKED
from ecandidat.runtime.nats import connect_as, flush
from ecandidat.runtime.rpc import RpcClient

from . import asyncapi, metrics, openapi, routes, web_proxy
from .routes import ent
from .api import AUTHENTICATOR, Api
from .auth import authenticate, forget_after_writes
from .headers import security_headers
from .keys import API, ASYNCAPI, NATS_CONN, OPENAPI, RPC, SESSIONS, SETTINGS
from .middleware import errors, request_context
from .problems import ProblemServer
from .sessions import DOSSIER_VIEW, SessionCache
from .settings import GatewaySettings
from .streaming import documents_http


def build_api() -> Api:
    """Every module of `gateway.routes` declares its routes with a `register(api)` function."""
    api = Api()
    for info in sorted(pkgutil.iter_modules(routes.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{routes.__name__}.{info.name}")
        module.register(api)
    return api


def create_app(settings: GatewaySettings | None = None) -> web.Application:
    settings = settings or GatewaySettings()
    app = web.Application(
        middlewares=[request_context, metrics.observe, errors, forget_after_writes],
        client_max_size=settings.gateway_max_body,
        handler_args={"max_field_size": 16384},
    )
    app.on_response_prepare.append(security_headers(settings.public_base_url.startswith("https://")))
    app[SETTINGS] = settings
    app[AUTHENTICATOR] = authenticate
    app[metrics.IN_FLIGHT] = metrics.InFlight()
    api = build_api()
    app[API] = api
    api.install(app)
    ent.install_service_url_logout(app)
    web_proxy.install(app)
    app[OPENAPI] = openapi.build(api)
    app[ASYNCAPI] = asyncapi.build(servers={"bus": settings.integrator_nats_host})
    app.cleanup_ctx.append(_nats)
    app.cleanup_ctx.append(metrics.listener)
    app.cleanup_ctx.append(
        functools.partial(
            documents_http,
            read_timeout=settings.gateway_documents_timeout,
            idle_timeout=settings.gateway_upload_idle_timeout,
        )
    )
    return app


class GatewayRunner(web.AppRunner):
    """An `AppRunner` whose HTTP server answers what aiohttp's own parser refuses (a malformed
    request line or header, a control character in a header…) in problem+json like every other
    error, instead of aiohttp's text/plain page. `python -m gateway` and the tests serve with it."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        return ProblemServer.like(server)


async def _nats(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    nc = await connect_as(settings, "gateway")
    app[NATS_CONN] = nc
    app[RPC] = RpcClient(nc, timeout=settings.rpc_timeout)
    cache = app[SESSIONS] = SessionCache(
        nc, settings.gateway_session_cache_ttl, max_views=settings.gateway_view_cache_size
    )

    async def revoked(msg) -> None:
        cache.revoke(msg.data.decode(errors="replace"))

    async def dossiers_changed(msg) -> None:
        cache.revoke_views(DOSSIER_VIEW, msg.data.decode(errors="replace"))

    await nc.subscribe(SESSIONS_REVOKED, cb=revoked)
    await nc.subscribe(DOSSIERS_CHANGED, cb=dossiers_changed)
    await flush(nc)  # the server holds the subscriptions before the first session or view is kept
    yield
    try:
        await nc.drain()
    except Exception:  # the connection is already gone
        await nc.close()
