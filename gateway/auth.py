"""Authentication at the edge: the session token → a `Principal`, asked of the accounts service.

Tokens come as `Authorization: Bearer <token>` (API clients) or in the `ecandidat_session` cookie
(browsers: HttpOnly, Secure, SameSite=Strict). A request authenticated by the cookie that changes
something must also carry the `X-CSRF-Token` header equal to the `ecandidat_csrf` cookie (double
submit; the header cannot be set by another site). The route's declaration gives the realm and
roles it accepts: the wrong realm or a missing role is a 403.

A session is resolved by rpc to the accounts service, and the answer kept by this gateway's
`SessionCache` (`gateway/sessions.py`): a logout, a password or email change, a disabled account
reach every gateway replica by the accounts' signal, which drops the kept sessions at once.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import secrets
import uuid

from aiohttp import web

from ecandidat.contracts.accounts import ResolveSession, SessionIssued
from ecandidat.contracts.auth import Principal
from ecandidat.contracts.errors import Forbidden, Unauthenticated

from .api import OPERATION, PRINCIPAL, REQUEST_ID, Operation
from .keys import RPC, SESSIONS, SETTINGS
from .sessions import DOSSIER_VIEW

SESSION_COOKIE = "ecandidat_session"
CSRF_COOKIE = "ecandidat_csrf"
# When the session ends whatever happens (its lifetime; Unix seconds), for the pages' script to warn
# before: no secret, readable by the page.
SESSION_END_COOKIE = "ecandidat_session_fin"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_TOKEN = web.RequestKey("session_token", str)

# The operations on accounts and their sessions, by their OpenAPI tags (gateway/routes/accounts.py,
# staff_accounts.py, ent.py): only a write among them can change the caller's own account, session
# or principal, so only after one does this gateway resolve the caller's sessions afresh.
CANDIDATE_ACCOUNTS_TAG = "comptes candidats"
STAFF_ACCOUNTS_TAG = "comptes du personnel"
ENT_TAG = "connexion via l'ENT"
ACCOUNT_TAGS = frozenset({CANDIDATE_ACCOUNTS_TAG, STAFF_ACCOUNTS_TAG, ENT_TAG})
# The candidate's own dossier (gateway/routes/dossiers.py): a write among them changes the dossier
# view this gateway keeps for the caller.
DOSSIER_TAG = "dossier"

REALM_NAMES = {"candidate": "aux candidats", "staff": "aux personnels de gestion"}


def session_token(request: web.Request) -> tuple[str | None, bool]:
    """The token the request carries and whether it came from the cookie."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip() or len(value.strip()) > 200:
            raise Unauthenticated("L'en-tête Authorization doit être de la forme « Bearer <jeton> ».")
        return value.strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and len(cookie) <= 200:
        return cookie, True
    return None, False


def _check_csrf(request: web.Request) -> None:
    expected = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER, "")
    if not expected or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise Forbidden(
            f"Requête refusée : l'en-tête {CSRF_HEADER} doit reprendre la valeur du cookie {CSRF_COOKIE}.",
            code="forbidden",
        )


async def authenticate(request: web.Request, op: Operation) -> Principal:
    token, from_cookie = session_token(request)
    if not token:
        raise Unauthenticated("Vous devez être connecté pour accéder à cette ressource.")
    if from_cookie and request.method not in SAFE_METHODS:
        _check_csrf(request)
    rpc = request.app[RPC]
    principal = await request.app[SESSIONS].resolve(
        token, lambda: rpc.call(ResolveSession(token=token), Principal, request_id=request[REQUEST_ID])
    )
    if op.realm is not None and principal.realm != op.realm:
        raise Forbidden(f"Cette ressource est réservée {REALM_NAMES.get(op.realm, op.realm)}.")
    if op.roles and not principal.has_role(*op.roles):
        raise Forbidden("Vous n'avez pas les droits nécessaires pour cette opération.")
    request[SESSION_TOKEN] = token
    return principal


@web.middleware
async def forget_after_writes(request: web.Request, handler) -> web.StreamResponse:
    """After a write on accounts made on behalf of an account (whatever its outcome), this gateway
    resolves that account's sessions afresh (`gateway.sessions`); after a write on the caller's
    dossier, it reads the dossier afresh. Other writes (a piece, a staff decision) change neither:
    the caller's session and views stay kept."""
    try:
        return await handler(request)
    finally:
        principal = request.get(PRINCIPAL)
        if request.method not in SAFE_METHODS and isinstance(principal, Principal) and SESSIONS in request.app:
            tag = request[OPERATION].tag
            if tag in ACCOUNT_TAGS:
                sessions_changed(request, principal.account_id)
            elif tag == DOSSIER_TAG:
                request.app[SESSIONS].forget_view(DOSSIER_VIEW, principal.account_id)


def sessions_changed(request: web.Request, account_id: uuid.UUID | None = None) -> None:
    """This gateway just had the sessions of `account_id` (or of an account it cannot name: a
    mailed link's) ended or changed: it resolves them afresh at once, without waiting for the
    accounts' signal (which tells every replica, this one included)."""
    cache = request.app.get(SESSIONS)
    if cache is None:
        return
    if account_id is None:
        cache.clear()
    else:
        cache.forget(account_id)


def client_address(request: web.Request) -> str:
    """The client's address: the TCP peer, unless the peer is a trusted proxy (TRUSTED_PROXIES):
    then the last address of `X-Forwarded-For` that is not a trusted proxy itself (what a client
    writes in the header's left part is believed only as far as trusted proxies vouch for it)."""
    peer = request.remote or ""
    networks = _trusted(request.app[SETTINGS].trusted_proxies)
    if not networks or not _within(peer, networks):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",") if h.strip()]
    client = peer
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # a malformed entry: believe nothing further left
        client = hop
        if not _within(hop, networks):
            break
    return client


@functools.lru_cache(maxsize=8)
def _trusted(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _within(address: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in networks)


def previous_token(request: web.Request) -> str | None:
    """The session the client still holds when it logs in again: it is ended (the token rotates)."""
    try:
        return session_token(request)[0]
    except Unauthenticated:
        return None


def set_session_cookies(response: web.Response, issued: SessionIssued) -> None:
    # No Max-Age: a browser session cookie; the server ends the session after its timeouts anyway.
    # Path=/: the web pages (proxied by this gateway, same origin) call the API with it.
    response.set_cookie(SESSION_COOKIE, issued.token, httponly=True, secure=True, samesite="Strict", path="/")
    response.set_cookie(
        CSRF_COOKIE, secrets.token_urlsafe(32), httponly=False, secure=True, samesite="Strict", path="/"
    )
    end = str(int(issued.expires_at.timestamp()))
    response.set_cookie(SESSION_END_COOKIE, end, httponly=False, secure=True, samesite="Strict", path="/")


def clear_session_cookies(request: web.Request, response: web.Response) -> None:
    if SESSION_COOKIE in request.cookies:
        response.del_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="Strict")
        response.del_cookie(CSRF_COOKIE, path="/", secure=True, samesite="Strict")
        response.del_cookie(SESSION_END_COOKIE, path="/", secure=True, samesite="Strict")
