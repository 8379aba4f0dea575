"""Throttling of failed logins: an attacker slows only themselves.

Every login attempt (candidate or staff, password and second factor alike) is made by a *client*
on an *account* (or on a login that names no account, which is throttled exactly the same way, so
that throttling tells nothing about which logins exist). The client is the device, when the request
carries a device cookie that already logged in to this account (a *known device*), otherwise the
client address the gateway passes (`gateway.auth.client_address`).

Three budgets of failures, each a level that leaks with time (one failure forgotten every
ACCOUNTS_THROTTLE_WINDOW / FREE seconds), past which each further failure blocks the key for a
delay that doubles (ACCOUNTS_THROTTLE_BASE, 2×, 4×, …) up to the key's cap:

| key | counts the failures of | blocks | free (default) | cap |
|---|---|---|---|---|
| pair | one client on one account | that client on that account | ACCOUNTS_THROTTLE_FREE (5) | ACCOUNTS_THROTTLE_MAX_PAIR (1 h) |
| account | every *unknown* client of one account | the unknown clients of that account | ACCOUNTS_THROTTLE_FREE_ACCOUNT (20) | ACCOUNTS_THROTTLE_MAX_ACCOUNT (60 s) |
| address | every *unknown* client of one address, on any account | the unknown clients of that address | ACCOUNTS_THROTTLE_FREE_CLIENT (300) | ACCOUNTS_THROTTLE_MAX_CLIENT (60 s) |

A blocked attempt is refused (429 with Retry-After) before its password is checked, and counts
nothing. What follows:

- An attacker guessing from one address exhausts only their own pair: they are held to about
  FREE failures per WINDOW (5 an hour) after the first few, while the account's owner logs in as
  usual, from their known device or from any other address; the account budget is not reached by
  one address (5 an hour leak out of a budget of 20 an hour).
- Known devices are counted and blocked only as their own pair: however many addresses attack an
  account (exhausting its budget for unknown clients, who then wait at most a minute between
  tries), its owner's devices keep logging in. Same for the address budget: the users of a campus
  NAT who logged in there before are never slowed by it.
- The address budget counts failures only, never successes, and only those of unknown clients;
  it is there against one address trying a few passwords on many accounts.
- A successful login forgets its pair's failures; a password reset forgets every failure of the
  account and the devices it knew (they become known again at their next login).

The device cookie (`ecandidat_device`, HttpOnly, Secure, SameSite=Strict, ACCOUNTS_DEVICE_DAYS
long) holds 256 random bits, issued at the first successful login of a browser and stored here
hashed, once per account it logged in to; a token that was never issued here is replaced.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg

from ecandidat.contracts.errors import ServiceError

from . import store
from .context import Deps
from .domain import throttle_delay, token_hash

NO_ACCOUNT = uuid.UUID(int=0)


@dataclass(frozen=True)
class Attempt:
    """A login attempt: the keys that may refuse it and that its failure counts against."""

    pair: str
    account: str | None = None  # None for a known device
    address: str | None = None  # None for a known device, or when the gateway passed no address
    device: str | None = None  # the device token the client sent, if any

    @property
    def keys(self) -> list[str]:
        return [k for k in (self.pair, self.account, self.address) if k]


def subject_of(account_id: uuid.UUID | None, realm: str, login: str) -> str:
    """What an attempt is on: the account, or the login typed when it names no account."""
    return str(account_id) if account_id else f"?{realm}:{login.strip().lower()}"


async def login_attempt(
    conn: asyncpg.Connection,
    deps: Deps,
    account: Mapping[str, Any] | None,
    realm: str,
    login: str,
    client: str,
    device: str | None,
) -> Attempt:
    """A login's attempt on the account found for the login typed (or on that login, if none)."""
    account_id: uuid.UUID | None = account["account_id"] if account is not None else None
    subject = subject_of(account_id, realm, login)
    return await attempt(conn, deps, account_id=account_id, subject=subject, client=client, device=device)


async def attempt(
    conn: asyncpg.Connection, deps: Deps, *, account_id: uuid.UUID | None, subject: str, client: str, device: str | None
) -> Attempt:
    """Who is trying (a known device of the account, or an address) and on what; refused with a 429
    if one of its keys is blocked."""
    since = deps.now() - timedelta(days=deps.settings.accounts_device_days)
    if device and await store.device_known(conn, token_hash(device), account_id or NO_ACCOUNT, since):
        found = Attempt(f"pair:{subject}:device:{token_hash(device).hex()}", device=device)
    else:
        found = Attempt(
            f"pair:{subject}:{client}", f"account:{subject}", f"client:{client}" if client else None, device
        )
    return await _unless_blocked(conn, deps, found)


async def reauthentication(conn: asyncpg.Connection, deps: Deps, account_id: uuid.UUID) -> Attempt:
    """The password asked again inside a session: the session is the client, its own pair."""
    return await _unless_blocked(conn, deps, Attempt(f"pair:{account_id}:session"))


async def _unless_blocked(conn: asyncpg.Connection, deps: Deps, found: Attempt) -> Attempt:
    wait = await store.blocked_for(conn, found.keys, deps.now())
    if wait > 0:
        raise too_many(wait)
    return found


def too_many(wait: float) -> ServiceError:
    seconds = max(1, round(wait + 0.5))
    return ServiceError(
        f"Trop de tentatives de connexion infructueuses. Veuillez réessayer dans {seconds} seconde{'s' if seconds > 1 else ''}.",
        code="too_many_requests",
        retry_after=seconds,
    )


async def record_failure(deps: Deps, attempt: Attempt) -> None:
    s = deps.settings
    budgets = {
        attempt.pair: (s.accounts_throttle_free, s.accounts_throttle_max_pair),
        attempt.account: (s.accounts_throttle_free_account, s.accounts_throttle_max_account),
        attempt.address: (s.accounts_throttle_free_client, s.accounts_throttle_max_client),
    }
    now = deps.now()
    async with deps.pool.acquire() as conn:
        for key in attempt.keys:
            free, cap = budgets[key]
            level = await store.count_failure(conn, key, now, s.accounts_throttle_window / max(free, 1))
            delay = throttle_delay(level, free=free, base=s.accounts_throttle_base, cap=cap)
            if delay:
                await store.block(conn, key, now + timedelta(seconds=delay))


async def forgive_account(conn: asyncpg.Connection, account_id: uuid.UUID) -> None:
    """The owner proved they hold the mailbox (a password reset): the account's failures, from
    any client, are forgotten, and so are its known devices."""
    await store.clear_failures(conn, f"account:{account_id}", prefix=f"pair:{account_id}:")
    await store.forget_devices(conn, account_id)
