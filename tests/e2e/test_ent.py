"""Connexion via l'ENT through the API alone, against a real CAS 3.0 server (django-cas-server):
tickets are obtained by filling its login form, validated by the accounts service with
/p3/serviceValidate; replayed, forged and foreign tickets are refused, the CAS single logout ends
the session, an unreachable CAS server is a clear 503, and nothing is created on a refusal."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from ecandidat.devstack._process import free_port
from ecandidat.devstack.cas import CasServer
from tests.conftest import eventually, platform_quiescent
from tests.e2e.ent import cas_browser, cas_logout, cas_ticket, new_ent_user
from tests.e2e.test_accounts import PASSWORD, activated_account, api, login, mail_to, sealing_overrides, text_of
from tests.e2e.test_dossiers_login import load_registry
from tests.unit.dossiers.samples import bea, registry_row


def ent_overrides(cas_url: str, base: str) -> dict:
    overrides = sealing_overrides(ent_enabled=True, ent_cas_url=cas_url, ent_timeout=10.0)
    overrides["gateway"].update(public_base_url=base)
    return overrides


@pytest.fixture
async def platform(start_platform, cas_server):
    port = free_port()
    return await start_platform(
        "accounts", "mailer", "dossiers", gateway_port=port, **ent_overrides(cas_server.url, f"http://127.0.0.1:{port}")
    )


async def login_url(platform) -> str:
    status, body, _ = await api(platform, "GET", "/api/v1/ent/connexion")
    assert status == 200, body
    assert body["service_url"] == platform.url("/connexion/ent/retour")
    return body["login_url"]


async def ent_session(platform, ticket: str):
    return await api(platform, "GET", "/api/v1/ent/retour", params={"ticket": ticket})


async def accounts_with(platform, email: str) -> int:
    async with platform.services["accounts"].pool.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM candidates WHERE lower(email) = lower($1)", email)


async def test_first_ent_login_creates_the_account_and_downloads_the_dossier(platform, cas_server, smtp_sink):
    ine = bea(f"{uuid.uuid4().int % 10**10:010d}")
    assert (await load_registry(platform, registry_row(ine))).crees == 1
    uid, password, attributes = new_ent_user(cas_server, ine=ine, sn="Dupont", givenName="Jean")
    async with cas_browser() as browser:
        url = await login_url(platform)
        assert url.startswith(cas_server.url + "/login?service=")
        ticket = await cas_ticket(browser, url, uid, password)
    status, session, _ = await ent_session(platform, ticket)
    assert status == 201, session
    token = session["token"]
    status, me, _ = await api(platform, "GET", "/api/v1/me", token=token)
    assert status == 200 and me["email"] == attributes["mail"] and me["ine"] == ine
    assert me["activated_at"] is not None  # the ENT vouches for the address: no activation mail

    async def imported():
        status, body, _ = await api(platform, "GET", "/api/v1/dossier", token=token)
        return status == 200 and body["ine_importe"] == ine and body

    dossier = await eventually(imported, message="dossier downloaded from the student records")
    sections = {s["section"]: s for s in dossier["sections"]}
    assert sections["cursus_interne"]["renseignee"] and sections["cursus_interne"]["lecture_seule"]
    assert (
        "universitaire" in sections["cursus_interne"]["motif_lecture_seule"]
        or sections["cursus_interne"]["motif_lecture_seule"]
    )
    await eventually(lambda: platform_quiescent(platform, attributes["mail"]), message="every event handled")
    assert not [m for m in smtp_sink.messages() if attributes["mail"] in (m["To"] or "")]

    # The same ticket again: refused by the CAS server, nothing opened.
    status, body, _ = await ent_session(platform, ticket)
    assert status == 401 and "ticket" in body["detail"] and body["errors"][0]["code"] == "ent_ticket_refused"

    # A second ENT login: the same account.
    async with cas_browser() as browser:
        status, again, _ = await ent_session(
            platform, await cas_ticket(browser, await login_url(platform), uid, password)
        )
    assert status == 201 and again["principal"]["numero_dossier"] == session["principal"]["numero_dossier"]
    assert await accounts_with(platform, attributes["mail"]) == 1

    # No eCandidat password: the password login does not open it.
    status, body, _ = await api(
        platform, "POST", "/api/v1/sessions", {"login": attributes["mail"], "password": password}
    )
    assert status == 401


async def test_forgotten_credentials_of_an_ent_account_say_to_use_the_ent(platform, cas_server, smtp_sink):
    uid, password, attributes = new_ent_user(cas_server)
    async with cas_browser() as browser:
        status, session, _ = await ent_session(
            platform, await cas_ticket(browser, await login_url(platform), uid, password)
        )
    assert status == 201, session
    status, body, _ = await api(platform, "POST", "/api/v1/accounts/credentials", {"email": attributes["mail"]})
    assert status == 202, body
    mail = await mail_to(smtp_sink, attributes["mail"], "connectez-vous via l'ENT")
    text = text_of(mail)
    assert "Connexion via l'ENT" in text and session["principal"]["numero_dossier"] in text and "jeton=" not in text


async def test_an_ine_outside_the_registry_gives_an_empty_dossier(platform, cas_server):
    ine = bea(f"{uuid.uuid4().int % 10**10:010d}")
    uid, password, attributes = new_ent_user(cas_server, ine=ine)
    async with cas_browser() as browser:
        status, session, _ = await ent_session(
            platform, await cas_ticket(browser, await login_url(platform), uid, password)
        )
    assert status == 201, session
    status, body, _ = await api(platform, "GET", "/api/v1/dossier", token=session["token"])
    assert status == 200 and body["ine_importe"] is None


async def test_forged_and_foreign_tickets_are_refused_and_create_nothing(platform, cas_server):
    status, body, _ = await ent_session(platform, "ST-" + uuid.uuid4().hex)
    assert status == 401 and body["code"] == "unauthenticated" and "ENT" in body["detail"]
    status, body, _ = await api(platform, "GET", "/api/v1/ent/retour")
    assert status == 401 and body["errors"][0]["field"] == "ticket"

    # A ticket the CAS server issued for another service URL.
    uid, password, attributes = new_ent_user(cas_server)
    other = f"http://127.0.0.1:{free_port()}/connexion/ent/retour"
    async with cas_browser() as browser:
        ticket = await cas_ticket(browser, f"{cas_server.url}/login?service={other}", uid, password)
    status, body, _ = await ent_session(platform, ticket)
    assert status == 401, body
    assert await accounts_with(platform, attributes["mail"]) == 0


async def test_two_first_logins_at_once_make_one_account(platform, cas_server):
    uid, password, attributes = new_ent_user(cas_server)
    tickets = []
    for _ in range(2):
        async with cas_browser() as browser:
            tickets.append(await cas_ticket(browser, await login_url(platform), uid, password))
    answers = await asyncio.gather(*(ent_session(platform, ticket) for ticket in tickets))
    assert [a[0] for a in answers] == [201, 201], answers
    assert answers[0][1]["principal"]["account_id"] == answers[1][1]["principal"]["account_id"]
    assert await accounts_with(platform, attributes["mail"]) == 1


async def test_an_answer_without_the_mail_creates_nothing(platform, cas_server):
    uid, password, attributes = new_ent_user(cas_server, mail="")
    async with cas_browser() as browser:
        status, body, _ = await ent_session(
            platform, await cas_ticket(browser, await login_url(platform), uid, password)
        )
    assert status == 401 and body["errors"][0]["code"] == "ent_attributes_missing", body
    assert "adresse mail" in body["detail"]


async def test_the_cas_single_logout_ends_the_session(platform, cas_server):
    uid, password, _ = new_ent_user(cas_server)
    async with cas_browser() as browser:
        status, session, _ = await ent_session(
            platform, await cas_ticket(browser, await login_url(platform), uid, password)
        )
        assert status == 201, session
        assert (await api(platform, "GET", "/api/v1/me", token=session["token"]))[0] == 200
        await cas_logout(browser, cas_server.url)  # the CAS server posts its logoutRequest to the service URL

    async def ended():
        return (await api(platform, "GET", "/api/v1/me", token=session["token"]))[0] == 401

    await eventually(ended, message="session ended by the CAS single logout")


async def test_a_slo_request_that_is_not_one_changes_nothing(platform):
    async with platform.http.post(
        platform.url("/api/v1/ent/deconnexion-unique"), data={"logoutRequest": "<x/>"}
    ) as resp:
        assert resp.status == 422 or resp.status == 400
        assert (await resp.json())["detail"]


async def test_an_existing_account_is_linked_after_its_password(platform, cas_server, smtp_sink):
    account = await activated_account(platform, smtp_sink)
    before = await login(platform, account["numero_dossier"])
    status, me, _ = await api(platform, "GET", "/api/v1/me", token=before)
    assert (me["mot_de_passe"], me["ent"]) == (True, False), me  # the view the gateway now keeps
    uid, password, _ = new_ent_user(cas_server, mail=account["email"])
    async with cas_browser() as browser:
        status, body, _ = await ent_session(
            platform, await cas_ticket(browser, await login_url(platform), uid, password)
        )
        assert status == 200 and body["email"] == account["email"] and body["liaison"], body
        status, refused, _ = await api(
            platform, "POST", "/api/v1/ent/liaison", {"liaison": body["liaison"], "password": "pas le bon mot de passe"}
        )
        assert status == 422, refused
        status, session, _ = await api(
            platform, "POST", "/api/v1/ent/liaison", {"liaison": body["liaison"], "password": PASSWORD}
        )
        assert status == 201 and session["principal"]["numero_dossier"] == account["numero_dossier"], session

        async def linked_in_view() -> bool:  # the gateway's kept view dropped when the link is made
            return (await api(platform, "GET", "/api/v1/me", token=before))[1]["ent"] is True

        await eventually(linked_in_view, timeout=5, message="the account's view says it is linked to the ENT")
        await cas_logout(browser, cas_server.url)  # the session opened at the link ends with the ENT's

    async def ended():
        return (await api(platform, "GET", "/api/v1/me", token=session["token"]))[0] == 401

    await eventually(ended, message="linked session ended by the CAS single logout")
    async with cas_browser() as browser:
        status, again, _ = await ent_session(
            platform, await cas_ticket(browser, await login_url(platform), uid, password)
        )
    assert status == 201 and again["principal"]["numero_dossier"] == account["numero_dossier"]
    assert await accounts_with(platform, account["email"]) == 1


async def test_an_unreachable_cas_server_is_said_clearly(start_platform):
    port, dead = free_port(), free_port()
    platform = await start_platform(
        "accounts", gateway_port=port, **ent_overrides(f"http://127.0.0.1:{dead}/cas", f"http://127.0.0.1:{port}")
    )
    status, body, _ = await api(platform, "GET", "/api/v1/ent/connexion")
    assert status == 503 and "ENT" in body["detail"] and "indisponible" in body["detail"], body
    status, body, _ = await ent_session(platform, "ST-" + uuid.uuid4().hex)
    assert status == 503 and "indisponible" in body["detail"], body


async def test_a_cas_server_that_never_answers_times_out_clearly(start_platform):
    """A CAS server that accepts the connection and says nothing: refused after ENT_TIMEOUT."""
    silent: list[asyncio.StreamWriter] = []

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent.append(writer)

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    cas_port = server.sockets[0].getsockname()[1]
    try:
        port = free_port()
        overrides = ent_overrides(f"http://127.0.0.1:{cas_port}/cas", f"http://127.0.0.1:{port}")
        overrides["accounts"]["ent_timeout"] = 1.0
        platform = await start_platform("accounts", gateway_port=port, **overrides)
        status, body, _ = await ent_session(platform, "ST-" + uuid.uuid4().hex)  # not the client's timeout
        assert status == 503 and "indisponible" in body["detail"], body
        status, body, _ = await api(platform, "GET", "/api/v1/ent/connexion")
        assert status == 503, body
    finally:
        for writer in silent:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_an_expired_ticket_is_refused(start_platform, tmp_path):
    """A CAS server whose tickets live 3 seconds: one used at once opens a session, one used after
    that is refused, and nothing is created for it."""
    with CasServer(
        r"^http://127\.0\.0\.1:\d+/connexion/ent/retour$", data_dir=tmp_path / "cas", ticket_validity=3
    ) as short_lived:
        port = free_port()
        platform = await start_platform(
            "accounts", gateway_port=port, **ent_overrides(short_lived.url, f"http://127.0.0.1:{port}")
        )
        prompt_uid, prompt_password, _ = new_ent_user(short_lived)
        late_uid, late_password, late = new_ent_user(short_lived)
        async with cas_browser() as browser:
            status, body, _ = await ent_session(
                platform, await cas_ticket(browser, await login_url(platform), prompt_uid, prompt_password)
            )
        assert status == 201, body
        async with cas_browser() as browser:
            ticket = await cas_ticket(browser, await login_url(platform), late_uid, late_password)
        await asyncio.sleep(4.5)  # the ticket's life (3 s) is what is waited for, with margin
        status, body, _ = await ent_session(platform, ticket)
        assert status == 401 and body["errors"][0]["code"] == "ent_ticket_refused", body
        assert await accounts_with(platform, late["mail"]) == 0


async def test_ent_login_is_off_by_default(start_platform):
    platform = await start_platform("accounts")
    status, body, _ = await api(platform, "GET", "/api/v1/ent/connexion")
    assert status == 404 and "ENT" in body["detail"]


async def test_an_account_made_by_the_ent_is_deleted_after_a_new_login_to_the_ent(
    start_platform, cas_server, smtp_sink
):
    """No eCandidat password to check again: the owner logs in to the ENT once more (CAS `renew`),
    and only that fresh login of the ENT account linked to it deletes the account; the ENT's single
    sign-on, another ENT account, a ticket for another service URL or an account without ENT are refused."""
    port = free_port()
    platform = await start_platform(
        "accounts",
        "mailer",
        "dossiers",
        "candidatures",
        gateway_port=port,
        **ent_overrides(cas_server.url, f"http://127.0.0.1:{port}"),
    )
    uid, password, attributes = new_ent_user(cas_server)
    async with cas_browser() as browser:
        status, session, _ = await ent_session(
            platform, await cas_ticket(browser, await login_url(platform), uid, password)
        )
        assert status == 201, session
        token = session["token"]
        status, me, _ = await api(platform, "GET", "/api/v1/me", token=token)
        assert (me["mot_de_passe"], me["ent"]) == (False, True), me

        # No password to type: the refusal says how to confirm instead.
        status, body, _ = await api(platform, "POST", "/api/v1/me/suppression", {"password": password}, token=token)
        assert status == 422 and body["errors"][0]["field"] == "password", body
        assert "en vous connectant de nouveau à l'ENT" in body["errors"][0]["message"]

        status, start, _ = await api(platform, "POST", "/api/v1/me/suppression/ent", token=token)
        assert status == 200, start
        etat = start["etat"]
        assert start["service_url"] == platform.url(f"/compte/suppression/ent/retour?etat={etat}")
        assert start["login_url"].startswith(cas_server.url + "/login?") and "renew=true" in start["login_url"]

        async def refused(
            ticket: str, status_expected: int, field: str | None = "ent_ticket", etat: str | None = etat
        ) -> None:
            deletion = {"ent_ticket": ticket, "ent_etat": etat}
            status, body, _ = await api(platform, "POST", "/api/v1/me/suppression", deletion, token=token)
            assert status == status_expected, body
            if field:
                assert body["errors"][0]["field"] == field, body
            assert (await api(platform, "GET", "/api/v1/me", token=token))[0] == 200  # nothing deleted
            assert await accounts_with(platform, attributes["mail"]) == 1

        # The ENT's single sign-on, without the password typed again: a ticket the CAS server gives
        # at once, which is not a confirmation.
        sso = start["login_url"].replace("&renew=true", "").replace("renew=true&", "")
        async with browser.get(sso, allow_redirects=False) as answer:
            assert answer.status == 302, await answer.text()
            silent = answer.headers["Location"].split("ticket=")[1]
        await refused(silent, 422)
        # A fresh login, but for the login's service URL, not the deletion's.
        await refused(await cas_ticket(browser, await login_url(platform) + "&renew=true", uid, password), 422)
        # A fresh login of another ENT account.
        other_uid, other_password, _ = new_ent_user(cas_server)
        async with cas_browser() as other:
            await refused(await cas_ticket(other, start["login_url"], other_uid, other_password), 403, None)
        # A fresh login for another confirmation's way back (another `etat`), or sent without its `etat`.
        await refused(await cas_ticket(browser, start["login_url"], uid, password), 422, etat="A" * 32)
        await refused(await cas_ticket(browser, start["login_url"], uid, password), 422, "ent_etat", etat=None)

        # The owner types their ENT password again: the account is deleted, its sessions with it.
        ticket = await cas_ticket(browser, start["login_url"], uid, password)
        deletion = {"ent_ticket": ticket, "ent_etat": etat}
        status, body, _ = await api(platform, "POST", "/api/v1/me/suppression", deletion, token=token)
        assert status == 200 and "supprimés" in body["message"], body
    assert (await api(platform, "GET", "/api/v1/me", token=token))[0] == 401
    assert await accounts_with(platform, attributes["mail"]) == 0
    mail = await mail_to(smtp_sink, attributes["mail"], "votre compte a été supprimé")
    assert "à votre demande" in text_of(mail)

    # An account with a password and no ENT: an ENT ticket is no proof for it.
    account = await activated_account(platform, smtp_sink)
    account["token"] = await login(platform, account["numero_dossier"])
    status, body, _ = await api(
        platform, "POST", "/api/v1/me/suppression", {"ent_ticket": "ST-1-x"}, token=account["token"]
    )
    assert status == 422 and "n'est pas lié à l'ENT" in body["detail"], body
