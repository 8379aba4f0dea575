"""The web front's application factory: the parts (espace candidat, espace gestion),
the shared layout, language, assets, CSRF and the error pages.

Each part has a `register(app)` function adding its routes (`web.candidat`, `web.gestion`, and
`web.inactivite`: the session's time limit, for both); the layout, the i18n catalogue, the API
client and the session handling are shared.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator

from aiohttp import web

from . import candidat, gestion, i18n, inactivite, probes
from .api import CLIENT, REQUEST_ID, ApiClient, Kept, Problem, SessionRequired
from .assets import Assets, install as install_assets
from .i18n import gettext as _
from .pages import RECENT, CsrfRefused, redirect
from .render import ENV, SETTINGS, environment, render
from .session import (
    NEW_CSRF,
    SECURE,
    clear_session_cookies,
    has_session_cookie,
    login_url,
    safe_next,
)
from .api import CSRF_COOKIE
from .settings import WebSettings

log = logging.getLogger(__name__)

PARTS = (candidat, gestion, inactivite)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; font-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


@web.middleware
async def context(request: web.Request, handler) -> web.StreamResponse:
    incoming = request.headers.get("X-Request-Id", "")
    request[REQUEST_ID] = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
    token = i18n.set_language(request.cookies.get(i18n.COOKIE, i18n.DEFAULT))
    try:
        timeout = await inactivite.idle_timeout(request)
        if timeout is not None:
            request[inactivite.IDLE_TIMEOUT] = timeout
        response = await handler(request)
    except web.HTTPException as exc:
        _decorate(request, exc)
        raise
    finally:
        i18n.reset_language(token)
    _decorate(request, response)
    return response


def _decorate(request: web.Request, response: web.StreamResponse) -> None:
    if response.prepared:  # a streamed file: its headers are sent already
        return
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["X-Request-Id"] = request[REQUEST_ID]
    if NEW_CSRF in request and CSRF_COOKIE not in request.cookies:
        response.set_cookie(CSRF_COOKIE, request[NEW_CSRF], path="/", secure=request.app[SECURE], samesite="Strict")


def back_to(request: web.Request) -> str:
    """The page the person was on: this page for a GET, the form's page for a post."""
    if request.method == "GET":
        return request.path_qs
    referer = request.headers.get("Referer", "")
    host = request.headers.get("X-Forwarded-Host") or request.host
    for prefix in (f"http://{host}", f"https://{host}"):
        if referer.startswith(prefix):
            return safe_next(referer[len(prefix) :] or "/", request.path)
    return request.path


@web.middleware
async def errors(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except SessionRequired:
        expired = has_session_cookie(request)
        login_page = gestion.LOGIN if request.path.startswith(gestion.PREFIX) else "/connexion"
        response = redirect(
            login_url(back_to(request), login_page),
            "session_expiree" if expired else "connexion_requise",
            request=request,
        )
        if expired:
            clear_session_cookies(response)
        return response
    except CsrfRefused:
        return render(request, "errors/csrf.html", status=403)
    except Problem as problem:
        status = problem.status if 400 <= problem.status < 600 else 500
        return render(request, "errors/probleme.html", {"problem": problem}, status=status)
    except web.HTTPException as exc:
        if exc.status == 404:
            return render(request, "errors/introuvable.html", status=404)
        if exc.status == 405:
            return render(
                request,
                "errors/probleme.html",
                {"problem": Problem(405, "method_not_allowed", _("Cette action n'est pas possible sur cette page."))},
                status=405,
            )
        raise
    except Exception:
        log.exception("unhandled error")
        return render(
            request,
            "errors/probleme.html",
            {"problem": Problem(500, "internal", _("Une erreur interne est survenue. Veuillez réessayer plus tard."))},
            status=500,
        )


async def change_language(request: web.Request) -> web.Response:
    """The FR/EN switch: a link (works without JavaScript), back to the same page."""
    language = request.query.get("langue", i18n.DEFAULT)
    response = redirect(safe_next(request.query.get("suite"), "/"))
    if language in i18n.LANGUAGES:
        response.set_cookie(
            i18n.COOKIE,
            language,
            max_age=365 * 24 * 3600,
            path="/",
            httponly=True,
            secure=request.app[SECURE],
            samesite="Lax",
        )
    return response


async def robots(request: web.Request) -> web.Response:
    return web.Response(
        text="User-agent: *\nDisallow: /compte/\nDisallow: /candidatures/\nDisallow: /dossier\nDisallow: /personnel\n"
    )


def create_app(settings: WebSettings | None = None) -> web.Application:
    settings = settings or WebSettings()
    app = web.Application(middlewares=[probes.timed, context, errors], client_max_size=1024 * 1024)
    app[SETTINGS] = settings
    app[SECURE] = settings.secure_cookies
    app[ENV] = environment()
    app[CLIENT] = ApiClient(settings.web_api_url, settings.web_api_timeout)
    app[RECENT] = Kept(ttl=30.0)
    install_assets(app, Assets(settings.web_assets_dir))
    app.router.add_get("/langue", change_language)
    app.router.add_get("/robots.txt", robots)
    for part in PARTS:
        part.register(app)
    app.cleanup_ctx.append(_api_client)
    app.cleanup_ctx.append(probes.listener)
    return app


async def _api_client(app: web.Application) -> AsyncIterator[None]:
    await app[CLIENT].start()
    yield
    await app[CLIENT].close()
