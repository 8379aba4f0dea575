"""Helpers every page handler uses: read a form post (CSRF checked), redirect after it, show an API
refusal next to its fields with what the person typed kept, fetch what the API knows."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable
from typing import Any, TypeVar

from aiohttp import web
from multidict import MultiDictProxy

from .i18n import gettext as _
from .api import CLIENT, SESSION_COOKIE, Kept, Problem, Reply, SessionRequired
from .render import SETTINGS, USER
from .session import CSRF_FIELD, SECURE, check_csrf, clear_session_cookies, set_flash


R = TypeVar("R", bound=web.StreamResponse)


class CsrfRefused(Exception):
    """A form post whose hidden token does not match the cookie (an old tab, or another site)."""


def redirect(
    location: str, flash: str | None = None, value: str = "", *, request: web.Request | None = None
) -> web.Response:
    """303 See Other: the post/redirect/get answer to every form post that worked."""
    response = web.Response(status=303, headers={"Location": location})
    if flash is not None:
        set_flash(response, flash, value, secure=bool(request is not None and request.app[SECURE]))
    return response


def relay_cookies(reply: Reply, response: R) -> R:
    """The cookies the API set (session, CSRF) or cleared, passed on to the browser."""
    for cookie in reply.set_cookies:
        response.headers.add("Set-Cookie", cookie)
    return response


async def read_form(request: web.Request) -> MultiDictProxy[str]:
    form = await request.post()
    sent = form.get(CSRF_FIELD)
    if not check_csrf(request, sent if isinstance(sent, str) else None):
        raise CsrfRefused()
    return form  # type: ignore[return-value]


async def read_upload(request: web.Request, names: Iterable[str] = ()) -> tuple[dict[str, str], Any]:
    """A form with a file (multipart: the CSRF field first, then the text fields `names`, then the
    file): its text fields and the file's part, not read yet (the caller streams it to the API)."""
    if not request.content_type.startswith("multipart/"):
        raise CsrfRefused()
    reader = await request.multipart()
    part = await reader.next()
    if part is None or getattr(part, "name", None) != CSRF_FIELD:
        raise CsrfRefused()
    if not check_csrf(request, (await part.text()).strip()):  # type: ignore[union-attr]
        raise CsrfRefused()
    fields: dict[str, str] = {}
    wanted = set(names)
    part = await reader.next()
    while part is not None and getattr(part, "filename", None) is None:
        name = getattr(part, "name", None)
        if isinstance(name, str) and name in wanted and len(fields) < 20:
            fields[name] = (await part.text())[:2000].strip()  # type: ignore[union-attr]
        else:
            await part.release()
        part = await reader.next()
    if part is None or not (getattr(part, "filename", None) or "").strip():
        raise Problem(422, "invalid_input", _("Choisissez un fichier à déposer."))
    return fields, part


def text_values(form: MultiDictProxy[Any], names: Iterable[str] | None = None) -> dict[str, str]:
    """The text fields of a post, to show them again in the form (never the passwords)."""
    keep = set(names) if names is not None else None
    values: dict[str, str] = {}
    for key, value in form.items():
        if not isinstance(value, str) or key == CSRF_FIELD or "password" in key:
            continue
        if keep is None or key in keep:
            values.setdefault(key, value)
    return values


def field_errors(problem: Problem, known: Iterable[str], prefix: str = "") -> tuple[dict[str, str], str | None]:
    """The problem's messages by form field, and the message to show above the form: the detail,
    plus those of fields the form does not have (so that no message is ever lost)."""
    known = set(known)
    by_field: dict[str, str] = {}
    stray: list[str] = []
    for name, message in problem.by_field().items():
        name = name.removeprefix(prefix)
        if name in known:
            by_field[name] = message
        else:
            stray.append(message)
    summary = problem.detail
    if stray:
        summary = " ".join([summary, *[m for m in stray if m != summary]])
    return by_field, summary


def api(request: web.Request):
    return request.app[CLIENT]


# `/me` of the sessions seen in the last 30 seconds, for the header of the pages: only a name to
# show; every page also asks the API for what it shows (the dossier, the candidature…), with the
# session, so an ended session still goes to the login page at once.
RECENT = web.AppKey("recent_me", Kept)


def session_key(request: web.Request) -> str | None:
    token = request.cookies.get(SESSION_COOKIE)
    return hashlib.sha256(token.encode()).hexdigest() if token else None


async def me(request: web.Request, *, fresh: bool = False) -> dict[str, Any]:
    """The logged-in candidate (GET /me); a missing or expired session goes to the login page."""
    if USER not in request:
        key = session_key(request)
        cached = None if fresh or key is None else request.app[RECENT].get(key)
        if cached is None:
            cached = await api(request).get(request, "/me")
            if key is not None:
                request.app[RECENT].put(key, cached)
        request[USER] = cached
    return request[USER]


async def fetch(request: web.Request, *paths: str) -> list[Any]:
    """Several API reads at once (with the session), and the candidate's /me for the header."""
    results = await asyncio.gather(me(request), *(api(request).get(request, p) for p in paths))
    return list(results[1:])


def settings(request: web.Request):
    return request.app[SETTINGS]


async def log_out(request: web.Request, session_path: str, landing: str, recent_key: str | None) -> web.Response:
    """End the session through the API (`DELETE <session_path>`), forget its cached `/me`, clear
    the cookies and go to `landing`; a session already gone changes nothing."""
    await read_form(request)
    request.app[RECENT].forget(recent_key)
    response = redirect(landing, "deconnecte", request=request)
    try:
        reply = await api(request).call(request, "DELETE", session_path)
        relay_cookies(reply, response)
    except (SessionRequired, Problem):
        pass
    clear_session_cookies(response)
    return response
