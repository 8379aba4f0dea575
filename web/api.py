"""The web front's only way to the platform: the public HTTP API, as any integrator calls it.

A page calls the API on behalf of the person: the browser's session, CSRF and device cookies go
along (the API checks them itself: the session, for a change the `X-CSRF-Token` header, taken from
the form's hidden field, and at login the device cookie that keeps a known browser logging in while
the account is under attack), and the cookies the API sets (login, logout) go back to the browser.
An error answer (`application/problem+json`) becomes a `Problem` that the page shows next to the
field it names; a 401 becomes `SessionRequired`, which sends the person to the login page and back.

A read the API marks `Cache-Control: public, max-age=N` (the référentiels: countries,
départements, communes) is the same for everyone and stays true N seconds: the client keeps it that
long, as a shared HTTP cache would, instead of asking again for every page that shows a form.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from .i18n import gettext as _

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
SESSION_COOKIE = "ecandidat_session"
CSRF_COOKIE = "ecandidat_csrf"
SESSION_END_COOKIE = "ecandidat_session_fin"  # set by the gateway with the session: when it ends whatever happens
CSRF_HEADER = "X-CSRF-Token"
DEVICE_COOKIE = "ecandidat_device"
FORWARDED_COOKIES = (SESSION_COOKIE, CSRF_COOKIE, DEVICE_COOKIE)

CLIENT: web.AppKey[ApiClient] = web.AppKey("api_client")
REQUEST_ID = web.RequestKey("request_id", str)
CSRF_TOKEN = web.RequestKey("csrf_token", str)  # the form's token, checked against the cookie


@dataclass
class Problem(Exception):
    """An API refusal: its status, stable code, French detail and the fields it names."""

    status: int
    code: str
    detail: str
    errors: list[dict[str, Any]] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.detail}"

    @property
    def reason(self) -> str | None:
        return self.body.get("reason")

    def by_field(self) -> dict[str, str]:
        """Field name → message (the first message of each field; `items.0.annee` kept as is)."""
        found: dict[str, str] = {}
        for error in self.errors:
            name = error.get("field")
            if name and name not in found:
                found[name] = error.get("message") or self.detail
        return found


class SessionRequired(Exception):
    """The API answered 401: no session, or it expired."""


@dataclass
class Reply:
    status: int
    body: Any
    headers: CIMultiDict

    @property
    def set_cookies(self) -> list[str]:
        return self.headers.getall("Set-Cookie", [])


class Kept:
    """Values kept for a while (`ttl` seconds unless `put` says otherwise), at most `size` of them:
    when full, the expired ones go, then all. A kept value is handed to every caller that asks:
    they read it, never change it."""

    def __init__(self, ttl: float = 30.0, size: int = 10_000) -> None:
        self.ttl, self.size = ttl, size
        self.items: dict[str, tuple[float, Any]] = {}

    def get(self, key: str) -> Any:
        found = self.items.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, key: str, value: Any, ttl: float | None = None) -> None:
        if len(self.items) >= self.size:
            now = time.monotonic()
            self.items = {k: v for k, v in self.items.items() if v[0] >= now}
            if len(self.items) >= self.size:
                self.items.clear()
        self.items[key] = (time.monotonic() + (self.ttl if ttl is None else ttl), value)

    def forget(self, key: str | None) -> None:
        if key:
            self.items.pop(key, None)


def shared_for(headers: Mapping[str, str]) -> float:
    """How long an answer may be kept for everyone: its `max-age` when its `Cache-Control` says
    `public` (and neither `private`, `no-store` nor `no-cache`) and it varies by nothing but its
    encoding; 0 otherwise."""
    directives = {
        name.strip().lower(): value.strip().strip('"')
        for name, _sep, value in (d.partition("=") for d in headers.get("Cache-Control", "").split(","))
    }
    if "public" not in directives or directives.keys() & {"private", "no-store", "no-cache"}:
        return 0.0
    vary = {v.strip().lower() for v in headers.get("Vary", "").split(",") if v.strip()}
    if vary - {"accept-encoding"}:
        return 0.0
    try:
        return max(0.0, float(int(directives.get("max-age", "0"))))
    except ValueError:
        return 0.0


def unavailable() -> Problem:
    return Problem(
        503, "unavailable", _("Le service est momentanément indisponible. Veuillez réessayer dans quelques instants.")
    )


class ApiClient:
    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=None, connect=10, sock_read=timeout)
        self.session: aiohttp.ClientSession | None = None
        self.public = Kept(size=2_000)  # the GET answers marked public, by path and query

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=200, keepalive_timeout=30)
        self.session = aiohttp.ClientSession(
            connector=connector, timeout=self.timeout, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
        )

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    def headers_for(self, request: web.Request, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        cookies = "; ".join(f"{name}={request.cookies[name]}" for name in FORWARDED_COOKIES if name in request.cookies)
        if cookies:
            headers["Cookie"] = cookies
        if CSRF_TOKEN in request:
            headers[CSRF_HEADER] = request[CSRF_TOKEN]
        if REQUEST_ID in request:
            headers["X-Request-Id"] = request[REQUEST_ID]
        forwarded = request.headers.get("X-Forwarded-For")
        if forwarded:
            headers["X-Forwarded-For"] = forwarded
        if extra:
            headers.update(extra)
        return headers

    def url(self, path: str) -> str:
        return f"{self.base_url}{API_PREFIX}{path}"

    async def call(
        self,
        request: web.Request,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        public: bool = False,
    ) -> Reply:
        """`public`: a route that needs no session (login, account creation): a 401 there is a
        refusal to show (wrong password), not an expired session."""
        assert self.session is not None
        sent = self.headers_for(request, headers)
        kwargs: dict[str, Any] = {"headers": sent, "params": params}
        if json_body is not None:
            kwargs["data"] = json.dumps(json_body, ensure_ascii=False).encode()
            sent["Content-Type"] = "application/json"
        elif data is not None:
            kwargs["data"] = data
        try:
            async with self.session.request(method, self.url(path), **kwargs) as resp:
                raw = await resp.read()
                reply = Reply(resp.status, _decode(raw, resp.headers), CIMultiDict(resp.headers))
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            log.warning("API unreachable", extra={"path": path, "error": repr(error)})
            raise unavailable() from None
        if reply.status == 401 and not public:
            raise SessionRequired()
        if reply.status >= 400:
            raise problem_of(reply)
        return reply

    async def get(self, request: web.Request, path: str, **params: str) -> Any:
        """A read's body; one the API marked public is kept as long as it said (`shared_for`)."""
        key = f"{path}?{urlencode(sorted(params.items()))}"
        kept = self.public.get(key)
        if kept is not None:
            return kept
        reply = await self.call(request, "GET", path, params=params or None)
        ttl = shared_for(reply.headers)
        if ttl and reply.status == 200 and reply.body is not None:
            self.public.put(key, reply.body, ttl)
        return reply.body

    async def stream(self, request: web.Request, path: str, *, inline: bool = False) -> web.StreamResponse:
        """A file from the API (a piece, a template, a PDF), passed to the browser a chunk at a time.
        `inline`: shown in a frame of the page that asked for it (the review page), not downloaded."""
        assert self.session is not None
        try:
            async with self.session.get(self.url(path), headers=self.headers_for(request)) as resp:
                if resp.status == 401:
                    raise SessionRequired()
                if resp.status >= 400:
                    raise problem_of(
                        Reply(resp.status, _decode(await resp.read(), resp.headers), CIMultiDict(resp.headers))
                    )
                out = web.StreamResponse(status=200)
                for name in ("Content-Type", "Content-Disposition", "Content-Length", "Content-Encoding"):
                    if name in resp.headers:
                        out.headers[name] = resp.headers[name]
                out.headers["Cache-Control"] = "no-store"
                if inline:
                    out.headers["Content-Disposition"] = "inline"
                    out.headers["Content-Security-Policy"] = (
                        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"
                    )
                    out.headers["X-Frame-Options"] = "SAMEORIGIN"
                    out.headers["X-Content-Type-Options"] = "nosniff"
                await out.prepare(request)
                async for chunk in resp.content.iter_chunked(256 * 1024):
                    await out.write(chunk)
                await out.write_eof()
                return out
        except (aiohttp.ClientError, TimeoutError, OSError):
            raise unavailable() from None


def _decode(raw: bytes, headers: Mapping[str, str]) -> Any:
    if not raw:
        return None
    if "json" in headers.get("Content-Type", ""):
        try:
            return json.loads(raw)
        except ValueError:
            return None
    return None


def problem_of(reply: Reply) -> Problem:
    """The API's refusal as a `Problem`; a 5xx (or an answer without a French detail) says only
    that the service is unavailable: the person never sees what broke."""
    body = reply.body if isinstance(reply.body, dict) else {}
    if reply.status >= 500:
        log.warning("API error", extra={"status": reply.status, "code": body.get("code")})
        return Problem(reply.status, body.get("code", "unavailable"), unavailable().detail, body=body)
    if not body.get("detail"):
        return Problem(reply.status, body.get("code", "error"), _("La demande n'a pas pu aboutir."), body=body)
    return Problem(reply.status, body.get("code", "error"), body["detail"], list(body.get("errors") or []), body)


async def chunks_of(part: aiohttp.BodyPartReader, limit: int) -> AsyncIterator[bytes]:
    """A multipart file part's bytes, at most `limit` of them (the API refuses at `limit`)."""
    sent = 0
    while chunk := await part.read_chunk(256 * 1024):
        chunk = chunk[: limit - sent]
        sent += len(chunk)
        yield chunk
        if sent >= limit:
            return
