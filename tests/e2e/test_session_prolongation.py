"""« Rester connecté » through the gateway: a session's idle timeout starts again, its lifetime does
not, and the policy the pages warn by is the accounts service's (RGAA 13.1: a time limit the person
is told of and can extend)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.e2e.test_accounts import activated_account, api, login, sealing_overrides
from tests.e2e.test_accounts_staff import admin

IDLE, LIFETIME = 600, 3600


@pytest.fixture
async def platform(start_platform):
    overrides = sealing_overrides(accounts_session_idle=IDLE, accounts_session_lifetime=LIFETIME)
    overrides["gateway"]["gateway_session_cache_ttl"] = 0  # every request resolved by the accounts service
    return await start_platform("accounts", "mailer", **overrides)


async def test_a_session_kept_alive_outlives_an_idle_one_but_not_its_lifetime(platform, smtp_sink):
    status, policy, headers = await api(platform, "GET", "/api/v1/sessions/policy")
    assert status == 200 and policy == {"idle_timeout": IDLE, "lifetime": LIFETIME}
    assert "public" in headers["Cache-Control"]

    account = await activated_account(platform, smtp_sink)
    kept = await login(platform, account["numero_dossier"])
    idle = await login(platform, account["numero_dossier"])
    started = platform.clock.now()  # both sessions opened before this

    platform.clock.advance(seconds=IDLE - 60)
    before = platform.clock.now()
    status, state, _ = await api(platform, "POST", "/api/v1/sessions/current/prolongation", token=kept)
    assert status == 200, state
    ends = datetime.fromisoformat(state["idle_expires_at"]) - timedelta(seconds=IDLE)
    assert before <= ends <= platform.clock.now()
    assert started - timedelta(seconds=5) <= datetime.fromisoformat(state["expires_at"]) - timedelta(seconds=LIFETIME)
    assert datetime.fromisoformat(state["expires_at"]) - timedelta(seconds=LIFETIME) <= started
    assert state["idle_timeout"] == IDLE

    # Ten minutes after the login: the session left alone has timed out; the one kept alive goes on.
    platform.clock.advance(seconds=61)
    assert (await api(platform, "GET", "/api/v1/me", token=idle))[0] == 401
    assert (await api(platform, "GET", "/api/v1/me", token=kept))[0] == 200
    # A timed-out session cannot be brought back.
    status, body, _ = await api(platform, "POST", "/api/v1/sessions/current/prolongation", token=idle)
    assert status == 401 and body["code"] == "unauthenticated"

    # Near its lifetime the idle timeout stops at the session's end, and at its end nothing keeps it.
    for _ in range(LIFETIME // (IDLE - 60)):
        status, state, _ = await api(platform, "POST", "/api/v1/sessions/current/prolongation", token=kept)
        if status != 200:
            break
        assert datetime.fromisoformat(state["idle_expires_at"]) <= started + timedelta(seconds=LIFETIME)
        platform.clock.advance(seconds=IDLE - 60)
    assert platform.clock.now() >= started + timedelta(seconds=LIFETIME)
    assert (await api(platform, "POST", "/api/v1/sessions/current/prolongation", token=kept))[0] == 401
    assert (await api(platform, "GET", "/api/v1/me", token=kept))[0] == 401


async def test_staff_sessions_are_kept_alive_on_their_own_route(platform, smtp_sink):
    staff = await admin(platform)
    account = await activated_account(platform, smtp_sink)
    candidate = await login(platform, account["numero_dossier"])
    route = "/api/v1/staff/sessions/current/prolongation"
    status, state, _ = await staff.call("POST", route)
    assert status == 200 and state["idle_timeout"] == IDLE
    assert (await api(platform, "POST", route, token=candidate))[0] == 403  # a candidate's session: not here
    status, body, _ = await api(platform, "POST", "/api/v1/sessions/current/prolongation", token=staff.token)
    assert status == 403, body  # nor a staff session on the candidates' route
    assert (await api(platform, "POST", route))[0] == 401
