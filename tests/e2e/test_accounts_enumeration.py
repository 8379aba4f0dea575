"""No account enumeration: the lost-link routes and the login answer the same, in the same time,
whether or not the address (or login) has an account."""

from __future__ import annotations

import json
import statistics
import time

import nats
import pytest

from ecandidat.contracts.accounts import AccountActivationRequested, AccountCredentialsRequested
from ecandidat.contracts.subjects import event_stream_of, event_subject
from tests.conftest import eventually, unique_email
from tests.e2e.test_accounts import PASSWORD, account_form, api, lost_links_handled, sealing_overrides

TRIES = 300


@pytest.fixture
async def platform(start_platform, nats_server):
    # No mailer: the events are still written and published, the mails are not the point here. The
    # per-address mail quota is lifted so that every request for a real account does the real work.
    overrides = sealing_overrides(
        accounts_mail_requests_per_hour=1_000_000, accounts_throttle_free=1_000_000,
        accounts_throttle_free_account=1_000_000, accounts_throttle_free_client=1_000_000,
    )
    platform = await start_platform("accounts", accounts=overrides["accounts"], gateway=overrides["gateway"])
    yield platform
    # What this test leaves must concern no other test: its failed logins, and the hundreds of
    # lost-link events that the next mailer of the session would otherwise turn into mails.
    service = platform.services["accounts"]
    async with service.pool.acquire() as conn:
        await conn.execute("DELETE FROM login_failures")
    await lost_links_handled(platform)
    nc = await nats.connect(nats_server.url, **nats_server.connect_options())  # purging is the operator's right
    try:
        for event in (AccountActivationRequested, AccountCredentialsRequested):
            await nc.jetstream().purge_stream(event_stream_of(event), subject=event_subject(event))
    finally:
        await nc.close()


async def accounts(platform, count: int, activate: bool) -> list[dict]:
    created = []
    for _ in range(count):
        form = account_form()
        status, body, _ = await api(platform, "POST", "/api/v1/accounts", form)
        assert status == 201, body
        if activate:
            async with platform.services["accounts"].pool.acquire() as conn:
                await conn.execute("UPDATE candidates SET activated_at = now() WHERE account_id = $1", body["account_id"])
        created.append({**form, **body})
    return created


async def timed(platform, path: str, body: dict) -> tuple[float, int, dict]:
    started = time.perf_counter()
    status, reply, _ = await api(platform, "POST", path, body)
    return time.perf_counter() - started, status, reply


async def compare(platform, path: str, known: list[str], tries: int, body_of) -> tuple[float, float]:
    known_times, unknown_times = [], []
    answers = set()
    for i in range(tries):
        for address, times in ((known[i % len(known)], known_times), (unique_email("personne"), unknown_times)):
            elapsed, status, reply = await timed(platform, path, body_of(address))
            reply.pop("request_id", None)
            answers.add((status, json.dumps(reply, sort_keys=True)))
            times.append(elapsed)
    assert len(answers) == 1, answers  # identical status and body
    return statistics.median(known_times) * 1000, statistics.median(unknown_times) * 1000


@pytest.mark.parametrize(
    "path, activated",
    [("/api/v1/accounts/activation/resend", False), ("/api/v1/accounts/credentials", True)],
)
async def test_lost_link_routes_do_not_tell_whether_an_address_has_an_account(platform, path, activated):
    known = [a["email"] for a in await accounts(platform, 10, activate=activated)]
    await compare(platform, path, known, 20, lambda e: {"email": e})  # warm up
    known_ms, unknown_ms = await compare(platform, path, known, TRIES, lambda e: {"email": e})
    print(f"{path}: median {known_ms:.2f} ms with an account, {unknown_ms:.2f} ms without")
    assert abs(known_ms - unknown_ms) < 5.0
    kind = "activation" if "resend" in path else "reset"

    async def links() -> bool:  # the real work is done, after the answer
        async with platform.services["accounts"].pool.acquire() as conn:
            return await conn.fetchval("SELECT count(*) FROM link_tokens WHERE purpose = $1", kind) >= 10

    await eventually(links, timeout=60, message="links issued for the known addresses")


async def test_login_does_not_tell_whether_a_login_exists(platform):
    known = [a["numero_dossier"] for a in await accounts(platform, 3, activate=True)]
    unknown = iter(f"26{i:06d}" for i in range(10_000))

    def body_of(login: str) -> dict:
        return {"login": login if login in known else next(unknown), "password": PASSWORD + "?"}

    known_ms, unknown_ms = await compare(platform, "/api/v1/sessions", known, 60, body_of)
    print(f"login: median {known_ms:.2f} ms for a known login, {unknown_ms:.2f} ms for an unknown one")
    # Both paths verify an argon2id hash (a dummy one for an unknown login): the same work. argon2id
    # takes 50-300 ms on a busy shared machine and its noise moves a median by 10% or more; a path
    # that skipped the hash would answer several times faster, far outside this bound.
    assert abs(known_ms - unknown_ms) < max(5.0, 0.3 * max(known_ms, unknown_ms))
