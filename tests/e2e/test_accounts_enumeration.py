"""No account enumeration: the lost-link routes and the login answer the same, after the same work,
whether or not the address (or login) has an account. The work is counted (argon2id computations;
for the lost-link routes, an answer given while the accounts table is locked), not timed: a timing
on a shared machine measures its load."""

from __future__ import annotations

import asyncio
import json

import nats
import pytest

from ecandidat.contracts.accounts import AccountActivationRequested, AccountCredentialsRequested
from ecandidat.contracts.subjects import event_stream_of, event_subject
from tests.conftest import eventually, unique_email
from tests.e2e.test_accounts import PASSWORD, Argon2Count, account_form, api, lost_links_handled, sealing_overrides

TRIES = 20


@pytest.fixture
def argon2(platform, monkeypatch) -> Argon2Count:
    passwords = platform.services["accounts"].deps.passwords
    counted = Argon2Count(passwords.hasher)
    monkeypatch.setattr(passwords, "hasher", counted)
    return counted


@pytest.fixture
async def platform(start_platform, nats_server):
    # No mailer: the events are still written and published, the mails are not the point here. The
    # per-address mail quota is lifted so that every request for a real account does the real work.
    overrides = sealing_overrides(
        accounts_mail_requests_per_hour=1_000_000,
        accounts_throttle_free=1_000_000,
        accounts_throttle_free_account=1_000_000,
        accounts_throttle_free_client=1_000_000,
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
                await conn.execute(
                    "UPDATE candidates SET activated_at = now() WHERE account_id = $1", body["account_id"]
                )
        created.append({**form, **body})
    return created


async def compare(platform, path: str, known: list[str], tries: int, body_of, argon2: Argon2Count) -> set:
    """The answers, known and unknown addresses interleaved: identical; returns the argon2id work
    each request cost, as {(hashes, verifications)}."""
    answers, work = set(), set()
    for i in range(tries):
        for address in (known[i % len(known)], unique_email("personne")):
            before = (argon2.hashes, argon2.verifications)
            status, reply, _ = await api(platform, "POST", path, body_of(address))
            reply.pop("request_id", None)
            answers.add((status, json.dumps(reply, sort_keys=True)))
            work.add((argon2.hashes - before[0], argon2.verifications - before[1]))
    assert len(answers) == 1, answers  # identical status and body
    return work


@pytest.mark.parametrize(
    "path, activated",
    [("/api/v1/accounts/activation/resend", False), ("/api/v1/accounts/credentials", True)],
)
async def test_lost_link_routes_do_not_tell_whether_an_address_has_an_account(platform, path, activated, argon2):
    known = [a["email"] for a in await accounts(platform, 10, activate=activated)]
    # The answer does no work that depends on the account: it comes while the accounts are locked.
    async with platform.services["accounts"].pool.acquire() as conn, conn.transaction():
        await conn.execute("LOCK TABLE candidates IN ACCESS EXCLUSIVE MODE")
        work = await asyncio.wait_for(compare(platform, path, known, TRIES, lambda e: {"email": e}, argon2), 120)
    assert work == {(0, 0)}, work
    kind = "activation" if "resend" in path else "reset"

    async def links() -> bool:  # the real work is done, after the answer
        async with platform.services["accounts"].pool.acquire() as conn:
            return await conn.fetchval("SELECT count(*) FROM link_tokens WHERE purpose = $1", kind) >= 10

    await eventually(links, timeout=60, message="links issued for the known addresses")


async def test_login_does_not_tell_whether_a_login_exists(platform, argon2):
    known = [a["numero_dossier"] for a in await accounts(platform, 3, activate=True)]
    unknown = iter(f"26{i:06d}" for i in range(10_000))

    def body_of(login: str) -> dict:
        return {"login": login if login in known else next(unknown), "password": PASSWORD + "?"}

    # Both paths verify one argon2id hash (a dummy one for an unknown login): the same work.
    assert await compare(platform, "/api/v1/sessions", known, TRIES, body_of, argon2) == {(0, 1)}
