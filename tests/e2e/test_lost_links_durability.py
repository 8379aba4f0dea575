"""A lost-link request answered 202 is committed: a crash right after the answer delays its mail,
never loses it, and a database that cannot commit it gets a 503 with Retry-After, not a 202."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys

import nats
import pytest

from ecandidat.contracts.subjects import durable_name, private_stream
from ecandidat.runtime.db import connect
from ecandidat.runtime.outbox import pending_count
from ecandidat.runtime.rpc import RpcClient
from ecandidat.runtime.sealing import new_key
from tests.conftest import eventually, platform_quiescent, unique_email
from tests.e2e.test_accounts import (
    account_form,
    activated_account,
    api,
    consumer_idle,
    lost_links_handled,
    mail_to,
    sealing_overrides,
)

pytestmark = pytest.mark.slow

CREDENTIALS = "/api/v1/accounts/credentials"


def credential_mails(smtp_sink, addresses: set[str]) -> list:
    return [m for m in smtp_sink.messages() if m["To"] in addresses and "vos identifiants" in m["Subject"]]


@pytest.mark.timeout(300)  # two starts of a real accounts process, on a machine that may be loaded
async def test_accounts_killed_right_after_the_answers_loses_no_mail(
    start_platform, process_env, smtp_sink, database_url, nats_server, tmp_path
):
    key = new_key()
    env = dict(
        process_env, LINK_SEALING_KEY=key, ACCOUNTS_HASH_WORKERS="2", ACCOUNTS_CREATIONS_PER_HOUR_CLIENT="1000000"
    )
    log = open(tmp_path / "accounts.log", "ab")

    def start() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "services.accounts"], env=env, stdout=log, stderr=log)

    first = start()
    second: subprocess.Popen | None = None
    operator = await nats.connect(nats_server.url, **nats_server.connect_options())  # sees every service
    conn = await connect(database_url, "accounts")
    try:
        overrides = sealing_overrides()
        platform = await start_platform(
            "mailer",
            mailer={**overrides["mailer"], "link_sealing_key": key},
            gateway={**overrides["gateway"], "gateway_services": ("mailer", "accounts")},
        )
        rpc = RpcClient(operator, timeout=2)

        async def accounts_answers() -> bool:
            try:
                return (await rpc.call_subject("rpc.accounts.health", b"{}"))["ok"]
            except Exception:
                return False

        await eventually(accounts_answers, timeout=60, message="the accounts process answers")
        forms = [account_form() for _ in range(20)]
        created = await asyncio.gather(*(api(platform, "POST", "/api/v1/accounts", form) for form in forms))
        assert {status for status, _, _ in created} == {201}, created
        addresses = {form["email"] for form in forms}

        replies = await asyncio.gather(*(api(platform, "POST", CREDENTIALS, {"email": a}) for a in addresses))
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert {status for status, _, _ in replies} == {202}
        arrived = len(credential_mails(smtp_sink, addresses))
        assert arrived < len(addresses), "every mail was out before the kill: the test proves nothing"

        second = start()
        await eventually(
            lambda: {m["To"] for m in credential_mails(smtp_sink, addresses)} == addresses,
            timeout=90,
            message=f"every mail arrived ({arrived} before the kill)",
        )

        # Nothing more is on its way (requests handled, their events published and mailed): one mail each.
        async def settled() -> bool:
            for durable in (durable_name("accounts", "mail-requests"), durable_name("mailer", "notifications")):
                if not await consumer_idle(operator, private_stream("accounts"), durable):
                    return False
            return await pending_count(conn) == 0

        await eventually(settled, timeout=60, message="nothing left to handle")
        assert len(credential_mails(smtp_sink, addresses)) == len(addresses)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(30)
        await conn.close()
        await operator.close()
        log.close()


async def test_an_unreachable_database_gets_503_with_retry_after_never_a_202(
    private_pg, private_database_url, start_platform, smtp_sink
):
    # The accounts service on a PostgreSQL of its own, that the test stops; the mailer on the suite's.
    platform = await start_platform("accounts", "mailer", **sealing_overrides(database_url=private_database_url))
    account = await activated_account(platform, smtp_sink)

    await asyncio.to_thread(private_pg.stop)  # off the event loop, where the services under test run
    answers = []
    for email in (account["email"], unique_email("personne")):
        status, body, headers = await api(platform, "POST", CREDENTIALS, {"email": email})
        assert status == 503, body
        assert headers["Content-Type"].startswith("application/problem+json") and body["code"] == "unavailable"
        assert int(headers["Retry-After"]) >= 1 and "réessayer" in body["detail"]
        answers.append({k: v for k, v in body.items() if k != "request_id"})
    assert answers[0] == answers[1]  # an outage tells nothing about the address either

    await asyncio.to_thread(private_pg.start)
    accepted = []

    async def accepted_once() -> bool:  # a client retrying as Retry-After says
        status, body, _ = await api(platform, "POST", CREDENTIALS, {"email": account["email"]})
        assert status in (202, 503), body
        accepted.append(status == 202)
        return status == 202

    await eventually(accepted_once, timeout=60, interval=0.5, message="accepted once the database is back")
    await mail_to(smtp_sink, account["email"], "vos identifiants")
    await lost_links_handled(platform)
    await eventually(lambda: platform_quiescent(platform, account["email"]), message="every mail sent")
    assert sum(accepted) == 1
    assert (
        len([m for m in smtp_sink.messages() if m["To"] == account["email"] and "vos identifiants" in m["Subject"]])
        == 1
    )
