"""The accounts service against real PostgreSQL and NATS JetStream, through its rpc."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from ecandidat.contracts.accounts import (
    AccountActivatedReply,
    AccountCreatedReply,
    ActivateAccount,
    CreateAccount,
    Login,
    ResolveSession,
    SessionIssued,
)
from ecandidat.contracts.auth import Principal
from ecandidat.contracts.errors import ServiceError
from ecandidat.runtime.jobs import run_job_once
from ecandidat.runtime.nats import flush
from services.accounts import domain, store
from tests.conftest import eventually, unique_email

PASSWORD = "cheval agrafe pile correcte"


def form(email: str | None = None) -> CreateAccount:
    email = email or unique_email()
    return CreateAccount(
        nom="Dupont",
        prenom="Camille",
        email=email,
        email_confirmation=email,
        password=PASSWORD,
        password_confirmation=PASSWORD,
    )


async def created_events(accounts, subject: str = "evt.accounts.account.created") -> list[dict]:
    received: list[dict] = []

    async def on_event(msg) -> None:
        received.append({"raw": msg.data, **json.loads(msg.data)})

    await accounts.service.nc.subscribe(subject, cb=on_event)
    await flush(accounts.service.nc)
    return received


async def activated(accounts, email: str | None = None) -> AccountCreatedReply:
    created = await accounts.rpc.call(form(email), AccountCreatedReply)
    async with accounts.service.pool.acquire() as conn:
        await store.update_candidate(conn, created.account_id, activated_at=accounts.clock.now())
    return created


async def test_the_activation_token_travels_sealed_on_the_stream(accounts):
    """account.created (public, read by integrators) carries no token; the welcome mail's token
    travels sealed in the private activation event, which only the mailer reads."""
    received = await created_events(accounts)
    private = await created_events(accounts, "prv.accounts.account.activation_requested")
    created = await accounts.rpc.call(form(), AccountCreatedReply)
    [event] = await eventually(lambda: [e for e in received if e["subject"] == str(created.account_id)])
    data = event["data"]
    assert data["numero_dossier"] == created.numero_dossier and data["email"] == created.email
    assert "activation" not in data
    [welcome] = await eventually(lambda: [e for e in private if e["subject"] == str(created.account_id)])
    assert welcome["data"]["welcome"] is True
    token = accounts.service.deps.sealer.unseal(welcome["data"]["activation"])
    assert token.encode() not in welcome["raw"]
    async with accounts.service.pool.acquire() as conn:
        link = await conn.fetchrow("SELECT * FROM link_tokens WHERE token_hash = $1", domain.token_hash(token))
        stored = await conn.fetchval("SELECT password_hash FROM candidates WHERE account_id = $1", created.account_id)
    assert link["account_id"] == created.account_id and link["purpose"] == "activation"
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    reply = await accounts.rpc.call(ActivateAccount(token=token), AccountActivatedReply)
    assert reply.numero_dossier == created.numero_dossier


async def test_numeros_are_never_issued_twice_even_after_a_purge(accounts, monkeypatch):
    draws = iter(["26AAAAA1", "26AAAAA1", "26BBBBB2", "26AAAAA1", "26BBBBB2", "26CCCCC3"])
    monkeypatch.setattr(store, "new_numero", lambda prefix: next(draws))
    async with accounts.service.pool.acquire() as conn:
        await conn.execute("DELETE FROM numeros WHERE numero = ANY($1::text[])", ["26AAAAA1", "26BBBBB2", "26CCCCC3"])
    first = await accounts.rpc.call(form(), AccountCreatedReply)
    second = await accounts.rpc.call(form(), AccountCreatedReply)
    assert (first.numero_dossier, second.numero_dossier) == ("26AAAAA1", "26BBBBB2")
    accounts.clock.advance(hours=49)
    service = accounts.service
    assert await run_job_once(service.pool, service.purge_job, accounts.clock, force=True) >= 2
    third = await accounts.rpc.call(form(), AccountCreatedReply)
    assert third.numero_dossier == "26CCCCC3"  # the purged numbers stay taken


async def test_password_hashing_leaves_the_event_loop_free(accounts, monkeypatch):
    created = await activated(accounts)
    passwords = accounts.service.deps.passwords
    threads: list[int] = []

    class Spy:
        def __getattr__(self, name):
            return getattr(hasher, name)

        def verify(self, *args):
            threads.append(threading.get_ident())
            return hasher.verify(*args)

    hasher = passwords.hasher
    monkeypatch.setattr(passwords, "hasher", Spy())
    logins = [
        accounts.rpc.call(Login(login=created.numero_dossier, password=PASSWORD), SessionIssued) for _ in range(12)
    ]
    issued = await asyncio.gather(*logins)
    assert len({s.token for s in issued}) == 12
    # Whatever the machine's load: no hash ran on the event loop's thread. How fast the service
    # keeps answering during a burst of logins is a figure of bench/logins.py, not a test.
    assert len(threads) == 12 and threading.get_ident() not in threads


async def test_sessions_end_after_the_idle_timeout_and_the_lifetime(accounts):
    created = await activated(accounts)
    login = Login(login=created.numero_dossier, password=PASSWORD)
    idle = await accounts.rpc.call(login, SessionIssued)
    accounts.clock.advance(minutes=31)
    with pytest.raises(ServiceError) as refused:
        await accounts.rpc.call(ResolveSession(token=idle.token), Principal)
    assert refused.value.code == "unauthenticated"

    busy = await accounts.rpc.call(login, SessionIssued)
    for _ in range(35):  # used every 20 minutes: alive until the 12-hour lifetime
        accounts.clock.advance(minutes=20)
        principal = await accounts.rpc.call(ResolveSession(token=busy.token), Principal)
        assert principal.numero_dossier == created.numero_dossier
    accounts.clock.advance(minutes=20)
    with pytest.raises(ServiceError):
        await accounts.rpc.call(ResolveSession(token=busy.token), Principal)
