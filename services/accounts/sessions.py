"""Logins, sessions and the throttling of failed attempts.

Session tokens are 256 random bits, stored as their SHA-256: a new one at every login (the
previous one the client held is ended), ended by logout, by a password reset or a change of email,
after ACCOUNTS_SESSION_IDLE seconds without use (measured to the minute: the last use is written at
most once a minute) and after ACCOUNTS_SESSION_LIFETIME seconds in any case.

Failed attempts are counted per account (or per unknown login) and per client address. Past
ACCOUNTS_THROTTLE_FREE failures (ACCOUNTS_THROTTLE_FREE_CLIENT for an address) each new one blocks the key for a doubling delay, capped low for an
account (an attacker can slow a victim down, never lock them out) and higher for an address.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg

from ecandidat.contracts.accounts import Done, Login, Logout, ResolveSession, SessionIssued
from ecandidat.contracts.auth import Principal
from ecandidat.contracts.errors import ErrorDetail, Forbidden, InvalidInput, ServiceError, Unauthenticated

from . import store
from .context import Deps
from .domain import new_token, throttle_delay, token_hash

BAD_LOGIN = "Identifiant ou mot de passe incorrect."
NOT_ACTIVATED = (
    "Votre compte n'est pas encore activé : cliquez sur le lien reçu par mail lors de sa création "
    "(ou demandez-en un nouveau avec « J'ai perdu mon code d'activation »)."
)
SESSION_INVALID = "Votre session a expiré ou n'est pas valide. Veuillez vous reconnecter."
TOUCH_EVERY = timedelta(seconds=60)


def login_key(account_id: uuid.UUID | None, login: str) -> str:
    return f"login:{account_id}" if account_id else f"login:?{login.strip().lower()}"


def throttle_keys(login: str, client: str) -> list[str]:
    return [login] + ([f"client:{client}"] if client else [])


def _too_many(wait: float) -> ServiceError:
    seconds = max(1, round(wait + 0.5))
    return ServiceError(
        f"Trop de tentatives de connexion infructueuses. Veuillez réessayer dans {seconds} seconde{'s' if seconds > 1 else ''}.",
        code="too_many_requests", retry_after=seconds,
    )


async def refuse_if_throttled(conn: asyncpg.Connection, deps: Deps, keys: list[str]) -> None:
    wait = await store.blocked_for(conn, keys, deps.now())
    if wait > 0:
        raise _too_many(wait)


async def record_failure(deps: Deps, keys: list[str]) -> None:
    s = deps.settings
    now = deps.now()
    async with deps.pool.acquire() as conn:
        for key in keys:
            if key.startswith("client:"):
                free, cap = s.accounts_throttle_free_client, s.accounts_throttle_max_client
            else:
                free, cap = s.accounts_throttle_free, s.accounts_throttle_max_login
            failures = await store.count_failure(conn, key, now, s.accounts_throttle_window / max(free, 1))
            delay = throttle_delay(failures, free=free, base=s.accounts_throttle_base, cap=cap)
            if delay:
                await store.block(conn, key, now + timedelta(seconds=delay))


async def forgive(conn: asyncpg.Connection, account_id: uuid.UUID) -> None:
    """The account's owner proved themselves: its failure count starts again (not the address's)."""
    await store.clear_failures(conn, login_key(account_id, ""))


async def verify_or_count(deps: Deps, keys: list[str], stored_hash: str | None, password: str) -> bool:
    """Check a password (the caller checked the throttle); a mismatch counts as a failure."""
    if await deps.passwords.verify(stored_hash, password):
        return True
    await record_failure(deps, keys)
    return False


async def check_password_of(deps: Deps, account: asyncpg.Record, password: str) -> None:
    """Re-authentication inside a session (e.g. before a change of email); failures count as for a login."""
    keys = [login_key(account["account_id"], "")]
    async with deps.pool.acquire() as conn:
        await refuse_if_throttled(conn, deps, keys)
    if not await verify_or_count(deps, keys, account["password_hash"], password):
        message = "Le mot de passe est incorrect."
        raise InvalidInput(message, details=[ErrorDetail(field="password", message=message)])


async def login(deps: Deps, req: Login) -> SessionIssued:
    async with deps.pool.acquire() as conn:  # one connection for both look-ups: none is held while hashing
        account = await store.candidate_by_login(conn, req.login)
        keys = throttle_keys(login_key(account and account["account_id"], req.login), req.client)
        await refuse_if_throttled(conn, deps, keys)
    if not await verify_or_count(deps, keys, account and account["password_hash"], req.password):
        raise Unauthenticated(BAD_LOGIN, details=[ErrorDetail(field="login", message=BAD_LOGIN)])
    assert account is not None
    if account["activated_at"] is None:
        raise Forbidden(NOT_ACTIVATED, details=[ErrorDetail(field="login", message=NOT_ACTIVATED, code="not_activated")])
    if deps.passwords.needs_rehash(account["password_hash"]):
        new_hash = await deps.passwords.hash(req.password)
        async with deps.pool.acquire() as conn:
            await store.update_candidate(conn, account["account_id"], password_hash=new_hash)
    principal = Principal(
        realm="candidate", account_id=account["account_id"], email=account["email"],
        numero_dossier=account["numero_dossier"],
    )
    return await open_session(deps, principal, req.client, req.previous_token)


async def open_session(deps: Deps, principal: Principal, client: str, previous_token: str | None) -> SessionIssued:
    token = new_token()
    now = deps.now()
    times = deps.session_times
    async with deps.pool.acquire() as conn:
        await store.open_session(
            conn, token_hash(token), principal.account_id, principal.realm, now, client,
            previous_hash=token_hash(previous_token) if previous_token else None,
            forgiven_key=login_key(principal.account_id, ""),
        )
    return SessionIssued(
        token=token, expires_at=now + timedelta(seconds=times.lifetime), idle_timeout=times.idle, principal=principal
    )


async def resolve_session(deps: Deps, req: ResolveSession) -> Principal:
    hashed = token_hash(req.token)
    now = deps.now()
    async with deps.pool.acquire() as conn:
        row = await store.session_with_account(conn, hashed)
        if row is None or not row["account_exists"] or row["disabled_at"] is not None:
            raise Unauthenticated(SESSION_INVALID)
        if not deps.session_times.alive(created_at=row["created_at"], last_seen_at=row["last_seen_at"], now=now):
            await store.end_session(conn, hashed)
            raise Unauthenticated(SESSION_INVALID)
        if now - row["last_seen_at"] >= TOUCH_EVERY:
            await store.touch_session(conn, hashed, now)
    if row["realm"] == "candidate":
        return Principal(
            realm="candidate", account_id=row["account_id"], email=row["email"], numero_dossier=row["numero_dossier"]
        )
    return Principal(
        realm="staff", account_id=row["account_id"], email=row["email"], roles=tuple(row["roles"]),
        centres=tuple(row["centres"]), commissions=tuple(row["commissions"]),
    )


async def logout(deps: Deps, req: Logout) -> Done:
    async with deps.pool.acquire() as conn:
        await store.end_session(conn, token_hash(req.token))
    return Done(message="Vous êtes déconnecté.")
