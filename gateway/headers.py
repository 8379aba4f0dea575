"""The headers every answer of the gateway carries, set in one place for every response.

They are set by an `on_response_prepare` signal, which runs for every response the application
sends just before its headers go out — including streamed downloads and exports, which are sent
before any middleware could add a header — and by the HTTP server itself for what its parser
refuses (`problems.ProblemRequestHandler`).
"""

from __future__ import annotations

from aiohttp import web

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
SERVER = "eCandidat"  # no product version for a scanner to match


def set_security_headers(headers, hsts: bool) -> None:
    """No sniffing, no framing, no referrer, no version in `Server`, and no caching unless the
    route chose otherwise (public reference data); a file (`Content-Disposition`) is never cached."""
    for key, value in SECURITY_HEADERS.items():
        headers.setdefault(key, value)
    headers.setdefault("Cache-Control", "no-store")
    if "Content-Disposition" in headers:
        headers["Cache-Control"] = "no-store"
    if hsts:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    headers["Server"] = SERVER


def security_headers(hsts: bool):
    """The application's `on_response_prepare` signal handler."""

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        set_security_headers(response.headers, hsts)

    return on_prepare
