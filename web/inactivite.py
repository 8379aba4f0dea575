"""The session's time limit, told and extendable (RGAA 13.1, WCAG 2.2.1).

A session ends after the platform's idle timeout without a request (`GET /api/v1/sessions/policy`,
kept as long as the API says), and at the end of its lifetime whatever happens (the gateway's
`ecandidat_session_fin` cookie, set with the session). Every page of a logged-in person carries
that timeout; the page's script warns two minutes before either end (« Rester connecté », for the
idle timeout, calls the endpoints below, which ask the API to start it again; the lifetime's end
is only told), says when it has ended, and keeps what the person typed in the page's form until
they have logged in again (`web/static/app.js`, « La durée de la session »).

`POST /session/prolongation` (candidates) and `POST /personnel/session/prolongation` (staff) answer
the page's script in JSON: 200 with when the session now ends, 401 when it has already ended, 403
without the page's CSRF token, 503 when the platform cannot be reached.
"""

from __future__ import annotations

import logging

from aiohttp import web

from .api import CLIENT, Problem, SessionRequired
from .session import check_csrf, has_session_cookie

log = logging.getLogger(__name__)

IDLE_TIMEOUT = web.RequestKey("idle_timeout", int)  # seconds, on the pages of a logged-in person
POLICY = "/sessions/policy"
PROLONGATIONS = {  # the page's endpoint → the API's, by espace
    "/session/prolongation": "/sessions/current/prolongation",
    "/personnel/session/prolongation": "/staff/sessions/current/prolongation",
}


async def idle_timeout(request: web.Request) -> int | None:
    """The platform's idle timeout for a page of someone logged in (None: not logged in, or the
    platform did not say: the page then shows no warning rather than failing)."""
    if request.method != "GET" or not has_session_cookie(request):
        return None
    try:
        policy = await request.app[CLIENT].get(request, POLICY)
    except Problem as problem:
        log.warning("session policy unavailable", extra={"status": problem.status})
        return None
    timeout = policy.get("idle_timeout") if isinstance(policy, dict) else None
    return timeout if isinstance(timeout, int) and timeout > 0 else None


def _answer(status: int, body: dict) -> web.Response:
    return web.json_response(body, status=status, headers={"Cache-Control": "no-store"})


async def prolong(request: web.Request) -> web.Response:
    api_path = PROLONGATIONS[request.path]
    if not check_csrf(request, request.headers.get("X-CSRF-Token")):
        return _answer(403, {"code": "csrf"})
    try:
        reply = await request.app[CLIENT].call(request, "POST", api_path)
    except SessionRequired:
        return _answer(401, {"code": "session_expiree"})
    except Problem as problem:
        status = problem.status if 400 <= problem.status < 600 else 503
        return _answer(status, {"code": problem.code})
    return _answer(200, reply.body)


def register(app: web.Application) -> None:
    for path in PROLONGATIONS:
        app.router.add_post(path, prolong)
