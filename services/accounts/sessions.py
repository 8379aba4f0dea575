"""Logins and sessions.

Session tokens are 256 random bits, stored as their SHA-256: a new one at every login (the
previous one the client held is ended), ended by logout, by a password reset or a change of email,
after ACCOUNTS_SESSION_IDLE seconds without use (measured to the minute: the last use is written at
most once a minute) and after ACCOUNTS_SESSION_LIFETIME seconds in any case.

Failed attempts are throttled as `throttle.py` describes; a successful login also returns the
device token that makes the client a known device of the account.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from ecandidat.contracts.accounts import Done, GetSessionPolicy, Login, Logout, ProlongSession, ResolveSession
from ecandidat.contracts.accounts import SessionIssued, SessionPolicy, SessionState
from ecandidat.contracts.auth import Principal
from ecandidat.contracts.errors import ErrorDetail, Forbidden, InvalidInput, Unauthenticated

from . import store, throttle
from .context import Deps
from .domain import candidate_principal, new_token, staff_principal, token_hash
from .throttle import Attempt

BAD_LOGIN = "Identifiant ou mot de passe incorrect."
NOT_ACTIVATED = (
    "Votre compte n'est pas encore activé : cliquez sur le lien reçu par mail lors de sa création "
    "(ou demandez-en un nouveau avec « J'ai perdu mon code d'activation »)."
)
SESSION_INVALID = "Votre session a expiré ou n'est pas valide. Veuillez vous reconnecter."
TOUCH_EVERY = timedelta(seconds=60)


async def verify_or_count(deps: Deps, attempt: Attempt, stored_hash: str | None, password: str) -> bool:
    """Check a password (the attempt was not refused); a mismatch counts as a failure."""
    if await deps.passwords.verify(stored_hash, password):
        return True
    await throttle.record_failure(deps, attempt)
    return False


async def check_password_of(deps: Deps, account: asyncpg.Record, password: str) -> None:
    """Re-authentication inside a session (e.g. before a change of email); failures are throttled."""
    async with deps.pool.acquire() as conn:
        attempt = await throttle.reauthentication(conn, deps, account["account_id"])
    if not await verify_or_count(deps, attempt, account["password_hash"], password):
        message = "Le mot de passe est incorrect."
        raise InvalidInput(message, details=[ErrorDetail(field="password", message=message)])


async def login(deps: Deps, req: Login) -> SessionIssued:
    async with deps.pool.acquire() as conn:  # one connection for the look-ups: none is held while hashing
        account = await store.candidate_by_login(conn, req.login)
        attempt = await throttle.login_attempt(conn, deps, account, "candidate", req.login, req.client, req.device)
    if not await verify_or_count(deps, attempt, account and account["password_hash"], req.password):
        raise Unauthenticated(BAD_LOGIN, details=[ErrorDetail(field="login", message=BAD_LOGIN)])
    assert account is not None
    if account["activated_at"] is None:
        raise Forbidden(
            NOT_ACTIVATED, details=[ErrorDetail(field="login", message=NOT_ACTIVATED, code="not_activated")]
        )
    if deps.passwords.needs_rehash(account["password_hash"]):
        new_hash = await deps.passwords.hash(req.password)
        async with deps.pool.acquire() as conn:
            await store.update_candidate(conn, account["account_id"], password_hash=new_hash)
    principal = candidate_principal(account)
    return await open_session(deps, principal, attempt, req.client, req.previous_token)


async def open_session(
    deps: Deps,
    principal: Principal,
    attempt: Attempt,
    client: str,
    previous_token: str | None,
    *,
    ent_ticket_hash: bytes | None = None,
) -> SessionIssued:
    """A new session; the client's failures on the account are forgotten and its device is known
        to the account from now on (a device token that was never issued here is replaced). A session
    opened through the ENT keeps its CAS service ticket (hashed), which the CAS single logout names. The
        device token is returned every time, so that the client's cookie lives on while it is used."""
    token = new_token()
    now = deps.now()
    times = deps.session_times
    async with deps.pool.acquire() as conn:
        device = attempt.device
        if device is None or not await store.device_issued(conn, token_hash(device)):
            device = new_token()
        await store.open_session(
            conn,
            token_hash(token),
            principal.account_id,
            principal.realm,
            now,
            client,
            previous_hash=token_hash(previous_token) if previous_token else None,
            forgiven_key=attempt.pair,
            device_hash=token_hash(device),
            ent_ticket_hash=ent_ticket_hash,
        )
    max_age = deps.settings.accounts_device_days * 86400
    return SessionIssued(
        token=token,
        expires_at=now + timedelta(seconds=times.lifetime),
        idle_timeout=times.idle,
        principal=principal,
        device=device,
        device_max_age=max_age,
    )


async def _live_session(deps: Deps, conn: asyncpg.Connection, hashed: bytes, now: datetime) -> asyncpg.Record:
    """The session and its account, or 401: unknown, its account gone or disabled, or timed out
    (ended then)."""
    row = await store.session_with_account(conn, hashed)
    if row is None or not row["account_exists"] or row["disabled_at"] is not None:
        raise Unauthenticated(SESSION_INVALID)
    if not deps.session_times.alive(created_at=row["created_at"], last_seen_at=row["last_seen_at"], now=now):
        await store.end_session(conn, hashed)
        raise Unauthenticated(SESSION_INVALID)
    return row


async def resolve_session(deps: Deps, req: ResolveSession) -> Principal:
    hashed = token_hash(req.token)
    now = deps.now()
    async with deps.pool.acquire() as conn:
        row = await _live_session(deps, conn, hashed, now)
        if now - row["last_seen_at"] >= TOUCH_EVERY:
            await store.touch_session(conn, hashed, now)
    return candidate_principal(row) if row["realm"] == "candidate" else staff_principal(row)


async def prolong_session(deps: Deps, req: ProlongSession) -> SessionState:
    """« Rester connecté » : the last use is now, whatever a request of the last minute wrote."""
    hashed = token_hash(req.token)
    now = deps.now()
    times = deps.session_times
    async with deps.pool.acquire() as conn:
        row = await _live_session(deps, conn, hashed, now)
        await store.touch_session(conn, hashed, now)
    expires_at = row["created_at"] + timedelta(seconds=times.lifetime)
    return SessionState(
        idle_expires_at=min(now + timedelta(seconds=times.idle), expires_at),
        expires_at=expires_at,
        idle_timeout=times.idle,
    )


async def session_policy(deps: Deps, _: GetSessionPolicy) -> SessionPolicy:
    times = deps.session_times
    return SessionPolicy(idle_timeout=times.idle, lifetime=times.lifetime)


async def logout(deps: Deps, req: Logout) -> Done:
    async with deps.pool.acquire() as conn:
        await store.end_session(conn, token_hash(req.token))
    return Done(message="Vous êtes déconnecté.")
