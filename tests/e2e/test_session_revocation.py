"""Sessions resolved by each gateway's cache, revoked on every replica by the accounts' signal.

Two gateways on the same bus, each keeping resolved sessions for 10 minutes (`GATEWAY_SESSION_CACHE_TTL`):
only the signal (`sig.accounts.sessions_revoked`) can make a replica forget a session in time. A
logout, a password change, and an administrator disabling a staff account or changing its roles,
each made through one gateway, reach the other one long before its cache would have forgotten.
"""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import eventually
from tests.e2e.test_accounts import PASSWORD, activated_account, api, login, mail_to, sealing_overrides, token_in
from tests.e2e.test_accounts_staff import admin, invited

pytestmark = pytest.mark.slow

TTL = 600.0


async def two_gateways(start_platform, *services: str):
    """`services` behind a first gateway, and a second gateway on the same bus; each keeps what it
    resolved and read for TTL."""
    overrides = sealing_overrides()
    cached = {**overrides["gateway"], "gateway_session_cache_ttl": TTL}
    first = await start_platform(*services, **{**overrides, "gateway": cached})
    second = await start_platform(gateway=cached)
    second.services.update(first.services)
    return first, second


@pytest.fixture
async def gateways(start_platform):
    return await two_gateways(start_platform, "accounts", "mailer")


async def status_of(platform, token: str, path: str = "/api/v1/me") -> int:
    return (await api(platform, "GET", path, token=token))[0]


async def answered(platform, token: str, path: str = "/api/v1/me", expected: tuple[int, ...] = (401,)) -> None:
    """Wait until the other gateway answers with the new state of the session. The cache alone
    would keep the old one for 10 minutes: within the deadline, only the accounts' signal can have
    told it. How soon it does is a figure for a benchmark, not for a test on a loaded machine."""

    async def changed() -> bool:
        return await status_of(platform, token, path) in expected

    await eventually(changed, timeout=60, interval=0.01, message="the other gateway sees the change")


def cache(platform):
    from gateway.keys import SESSIONS

    return platform.app[SESSIONS]


async def test_a_logout_on_one_gateway_ends_the_session_on_the_other(gateways, smtp_sink):
    a, b = gateways
    account = await activated_account(a, smtp_sink)
    token = await login(a, account["numero_dossier"])
    for gateway in (a, b):
        assert await status_of(gateway, token) == 200
    hits = cache(b).hits
    assert await status_of(b, token) == 200 and cache(b).hits == hits + 1  # from b's cache, no rpc

    status, _, _ = await api(a, "DELETE", "/api/v1/sessions/current", token=token)
    assert status == 204
    assert await status_of(a, token) == 401  # the gateway that logged out forgets at once
    await answered(b, token)


async def test_a_password_reset_ends_every_session_on_every_gateway(gateways, smtp_sink):
    """The reset is made without a session (the mailed link): only the signal tells the gateways."""
    a, b = gateways
    account = await activated_account(a, smtp_sink)
    sessions = [await login(a, account["numero_dossier"]), await login(b, account["numero_dossier"])]
    for gateway in (a, b):
        for token in sessions:
            assert await status_of(gateway, token) == 200
    assert (await api(a, "POST", "/api/v1/accounts/credentials", {"email": account["email"]}))[0] == 202
    link = token_in(await mail_to(smtp_sink, account["email"], "vos identifiants"))
    new = "une toute nouvelle phrase de passe"
    reset = {"token": link, "password": new, "password_confirmation": new}
    status, body, _ = await api(a, "POST", "/api/v1/accounts/password-reset", reset)
    assert status == 200, body
    for gateway in (a, b):
        for token in sessions:
            await answered(gateway, token)


async def test_an_administrator_disabling_or_changing_a_staff_account_reaches_every_gateway(gateways, smtp_sink):
    a, b = gateways
    root = await admin(a)
    gest = await invited(a, smtp_sink, root, ["gestionnaire"], centres=["SFC"])
    accounts = "/api/v1/staff/accounts"
    assert await status_of(b, gest.token, accounts) == 403  # a gestionnaire may not list staff
    me = (await api(b, "GET", "/api/v1/staff/me", token=gest.token))[1]
    status, body, _ = await root.call("PATCH", f"{accounts}/{me['account_id']}", {"roles": ["admin"]})
    assert status == 200, body
    await answered(b, gest.token, accounts, expected=(200,))  # the new role
    status, body, _ = await root.call("PATCH", f"{accounts}/{me['account_id']}", {"disabled": True})
    assert status == 200, body
    await answered(b, gest.token, accounts, expected=(401, 403))


async def test_a_change_of_the_account_reaches_the_view_every_gateway_keeps(gateways, smtp_sink):
    """`GET /me` answered from the gateway's own copy of the account's view, until the account
    changes: whatever code path changes it (here a tool writing to the database directly, as an
    operator's script would), the database announces it and every gateway drops its copy."""
    a, b = gateways
    account = await activated_account(a, smtp_sink)
    token = await login(a, account["numero_dossier"])
    first = (await api(b, "GET", "/api/v1/me", token=token))[1]
    hits = cache(b).view_hits
    assert (await api(b, "GET", "/api/v1/me", token=token))[1] == first
    assert cache(b).view_hits == hits + 1  # from b's copy, no rpc
    async with a.services["accounts"].pool.acquire() as conn:
        await conn.execute(
            "UPDATE candidates SET nom = 'RENOMMÉ', ine = '1234567890A' WHERE account_id = $1",
            uuid.UUID(first["account_id"]),
        )

    async def renamed() -> bool:
        body = (await api(b, "GET", "/api/v1/me", token=token))[1]
        return body["nom"] == "RENOMMÉ" and body["ine"] == "1234567890A"

    await eventually(renamed, timeout=60, interval=0.01, message="the other gateway sees the new name")

    new_email = f"nouvelle.{uuid.uuid4().hex[:8]}@example.org"
    change = {"new_email": new_email, "new_email_confirmation": new_email, "password": PASSWORD}
    assert (await api(a, "POST", "/api/v1/me/email", change, token=token))[0] == 202
    token = await login(a, account["numero_dossier"])  # the change of address ends the sessions

    async def pending() -> bool:
        return (await api(b, "GET", "/api/v1/me", token=token))[1]["pending_email"] == new_email

    await eventually(pending, timeout=60, interval=0.01, message="the other gateway sees the pending address")


async def test_only_a_write_on_accounts_makes_the_gateway_resolve_the_callers_session_afresh(gateways, smtp_sink):
    """A write that changes no account (a dossier section, here refused at the edge for want of its version)
    keeps the caller's session in the cache; a write on the caller's account (a change of address)
    drops it on this gateway at once, before the accounts' signal."""
    a, _ = gateways
    account = await activated_account(a, smtp_sink)
    token = await login(a, account["numero_dossier"])
    assert await status_of(a, token) == 200
    misses = cache(a).misses
    status, body, _ = await api(a, "PUT", "/api/v1/dossier/sections/adresse", {"pays": 12}, token=token)
    assert status == 428, body  # no If-Match: refused at the edge
    assert await status_of(a, token) == 200
    assert cache(a).misses == misses  # the session is still this gateway's: no rpc

    new_email = f"autre.{uuid.uuid4().hex[:8]}@example.org"
    change = {"new_email": new_email, "new_email_confirmation": new_email, "password": "pas le bon"}
    assert (await api(a, "POST", "/api/v1/me/email", change, token=token))[0] in (400, 403, 422)
    assert await status_of(a, token) == 200
    assert cache(a).misses == misses + 1  # resolved afresh after a write on the account, even refused


async def test_without_the_bus_nothing_is_served_from_the_cache(gateways, smtp_sink, nats_server):
    """A signal sent while a gateway is cut from the bus is lost: the gateway serves nothing from
    its cache meanwhile and drops it when it is back."""
    a, b = gateways
    account = await activated_account(a, smtp_sink)
    token = await login(a, account["numero_dossier"])
    assert await status_of(b, token) == 200
    assert len(cache(b)) >= 1
    nats_server.stop()
    try:
        await eventually(lambda: not cache(b).enabled, timeout=30, message="the gateway sees the bus gone")
        # Not from the cache (that would be a 200): the session cannot be checked, try again later.
        assert await status_of(b, token) in (503, 504)
    finally:
        nats_server.start()
    await eventually(lambda: cache(b).enabled, timeout=30, message="the gateway reconnected")
    assert await status_of(b, token) == 200
    assert cache(b).misses >= 2  # resolved again after the reconnection
