"""A candidate deletes their own account (the right to erasure), through the gateway: refused in
French and changing nothing while a candidature stands or the password is wrong; then the account
and its sessions go at once, `account.purged` has every service erase what it holds (the dossier,
the cancelled candidatures, the mailer's directory), integrators learn why, and the candidate gets
one mail."""

from __future__ import annotations

import json
import uuid

import pytest

from ecandidat.runtime.nats import flush
from tests.conftest import eventually
from tests.e2e.test_accounts import PASSWORD, api, create_account, mail_to, text_of
from tests.e2e.test_accounts_staff import admin
from tests.e2e.test_guide_journey import whole_platform
from tests.e2e.test_journey_defects import apply, candidate, own_formation

pytestmark = pytest.mark.slow

DELETE = "/api/v1/me/suppression"


@pytest.fixture
async def platform(start_platform):
    return await whole_platform(start_platform)


async def count(platform, service: str, sql: str, *args) -> int:
    """A count read in one service's own database."""
    async with platform.services[service].pool.acquire() as conn:
        return await conn.fetchval(sql, *args)


async def erased_everywhere(platform, queries: dict[str, str], *args, what: str) -> None:
    """Wait until each service's count of what it held (`queries`: service → SQL) is 0."""
    for service, sql in queries.items():

        async def erased(service=service, sql=sql) -> bool:
            return await count(platform, service, sql, *args) == 0

        await eventually(erased, timeout=30, message=f"{service} erased {what}")


async def test_a_candidate_deletes_their_account_once_no_candidature_stands(platform, smtp_sink):
    code = await own_formation(await admin(platform), platform.clock.now().date())
    who = await candidate(platform, smtp_sink)
    token, account_id = who["token"], who["account_id"]
    first = (await apply(platform, who, code))["id"]

    purged: list[dict] = []

    async def on_purged(msg) -> None:
        event = json.loads(msg.data)
        if event["data"]["account_id"] == account_id:
            purged.append(event)

    nc = platform.services["accounts"].nc
    sub = await nc.subscribe("evt.accounts.account.purged", cb=on_purged)
    await flush(nc)

    # A candidature that is not cancelled stands in the way: said in French, nothing changes.
    status, body, _ = await api(platform, "POST", DELETE, {"password": PASSWORD}, token=token)
    assert status == 409 and body["reason"] == "candidatures", body
    assert "vous avez des candidatures" in body["detail"] and "Annulez" in body["detail"]
    assert (await api(platform, "GET", "/api/v1/me", token=token))[0] == 200

    status, body, _ = await api(platform, "POST", f"/api/v1/candidatures/{first}/annulation", token=token)
    assert status == 200 and body["statut"] == "annulee", body

    # A wrong password, or none: refused beside the field, nothing changes.
    status, body, _ = await api(platform, "POST", DELETE, {"password": "pas le bon mot de passe"}, token=token)
    assert status == 422, body
    assert (body["errors"][0]["field"], body["errors"][0]["message"]) == ("password", "Le mot de passe est incorrect.")
    status, body, _ = await api(platform, "POST", DELETE, {}, token=token)
    assert status == 422 and body["errors"][0]["field"] == "password", body
    status, _, _ = await api(platform, "POST", DELETE, {"password": PASSWORD})
    assert status == 401  # no session, no deletion
    assert (await api(platform, "GET", "/api/v1/me", token=token))[0] == 200
    assert (
        await count(platform, "dossiers", "SELECT count(*) FROM dossiers WHERE account_id = $1", uuid.UUID(account_id))
        == 1
    )

    async def all_sent() -> bool:  # so that the log's forgetting below does not depend on timing
        unsent = "SELECT count(*) FROM deliveries WHERE lower(recipient) = lower($1) AND status <> 'sent'"
        return await count(platform, "mailer", unsent, who["email"]) == 0

    await eventually(all_sent, timeout=30, message="the mails so far sent")
    status, body, _ = await api(platform, "POST", DELETE, {"password": PASSWORD}, token=token)
    assert status == 200 and "supprimés" in body["message"], body

    # The account and its sessions are gone at once.
    assert (await api(platform, "GET", "/api/v1/me", token=token))[0] == 401
    status, _, _ = await api(
        platform, "POST", "/api/v1/sessions", {"login": who["numero_dossier"], "password": PASSWORD}
    )
    assert status == 401
    status, _, _ = await api(platform, "POST", DELETE, {"password": PASSWORD}, token=token)
    assert status == 401

    # Every service erases what it held of the account.
    held = {
        "dossiers": "SELECT count(*) FROM dossiers WHERE account_id = $1",
        "candidatures": "SELECT count(*) FROM candidatures WHERE account_id = $1",
        "documents": "SELECT count(*) FROM candidatures WHERE account_id = $1",
        "mailer": "SELECT count(*) + (SELECT count(*) FROM candidatures WHERE account_id = $1) FROM contacts WHERE account_id = $1",
    }
    await erased_everywhere(platform, held, uuid.UUID(account_id), what="the account's data")

    mail = await mail_to(smtp_sink, who["email"], "votre compte a été supprimé")
    assert who["numero_dossier"] in text_of(mail) and "à votre demande" in text_of(mail)
    # The mail log forgets what was mailed to the address (the activation, the candidature and its
    # cancellation); only the confirmation of the deletion may stay, until the log's retention.
    async with platform.services["mailer"].pool.acquire() as conn:
        logged = await conn.fetch("SELECT template FROM deliveries WHERE lower(recipient) = lower($1)", who["email"])
    assert {r["template"] for r in logged} <= {"account_deleted"}, logged
    [event] = await eventually(lambda: purged, timeout=30, message="account.purged published")
    assert event["data"]["motif"] == "suppression" and event["data"]["numero_dossier"] == who["numero_dossier"]
    assert "email" not in event["data"]  # the public event names no address
    await sub.unsubscribe()

    # The address may make a new account (with a new numéro de dossier).
    again = await create_account(platform, smtp_sink, email=who["email"])
    assert again["numero_dossier"] != who["numero_dossier"]
    farewells = await smtp_sink.wait_for(
        1, timeout=5, match=lambda m: m["To"] == who["email"] and "supprimé" in m["Subject"]
    )
    assert len(farewells) == 1
