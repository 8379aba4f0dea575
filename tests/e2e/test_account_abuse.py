"""Abuse of the public account routes through the gateway: blank passwords, account enumeration by
creation, floods of lost-link mails, floods of account creations."""

from __future__ import annotations

import asyncio
import json
import random
import re

import aiohttp
import pytest

from ecandidat.contracts.subjects import durable_name, event_stream, private_stream
from tests.conftest import eventually, unique_email
from tests.e2e.test_accounts import (
    NUMERO,
    PASSWORD,
    Argon2Count,
    account_form,
    activated_account,
    api,
    consumer_idle,
    create_account,
    lost_links_handled,
    mail_to,
    sealing_overrides,
    text_of,
    token_in,
)


@pytest.fixture
async def platform(start_platform):
    return await start_platform("accounts", "mailer", **sealing_overrides())


async def mails_settled(platform, address: str) -> None:
    """Every lost-link request answered so far has become its mails, and those are sent."""
    await lost_links_handled(platform)
    mailer = platform.services["mailer"]

    async def sent() -> bool:
        for stream in (event_stream("accounts"), private_stream("accounts")):
            if not await consumer_idle(mailer.nc, stream, durable_name("mailer", "notifications")):
                return False
        async with mailer.pool.acquire() as conn:
            return not await conn.fetchval(
                "SELECT count(*) FROM deliveries WHERE lower(recipient) = lower($1) AND status IN ('pending', 'sending')",
                address,
            )

    await eventually(sent, timeout=60, message=f"mails to {address} sent")


def mails(smtp_sink, address: str, subject_part: str) -> list:
    return [m for m in smtp_sink.messages() if m["To"] == address and subject_part in m["Subject"]]


# -- passwords ------------------------------------------------------------------------------------

BLANK = "Le mot de passe ne peut pas être composé uniquement d'espaces ou de caractères invisibles."


@pytest.mark.parametrize(
    "password",
    [
        " " * 12,
        "\t" * 12,
        " \t\r\n" * 4,
        "\u00a0" * 12,  # no-break spaces
        "\u3000" * 12,  # ideographic spaces
        "\u2003\u2009\u202f" * 4,  # em, thin and narrow no-break spaces
        "\u200b" * 12,  # zero-width spaces
        "\u200d\ufeff\u2060" * 4,  # zero-width joiner, byte order mark, word joiner
        " " * 64,
    ],
)
async def test_a_blank_password_is_refused_in_french_and_creates_nothing(platform, password):
    form = account_form(password=password, password_confirmation=password)
    status, body, _ = await api(platform, "POST", "/api/v1/accounts", form)
    assert status == 422, body
    assert {e["field"]: e["message"] for e in body["errors"]}["password"] == BLANK
    async with platform.services["accounts"].pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM candidates WHERE lower(email) = lower($1)", form["email"]) == 0
    reset = {"token": "x" * 43, "password": password, "password_confirmation": password}
    status, body, _ = await api(platform, "POST", "/api/v1/accounts/password-reset", reset)
    assert status == 422 and {e["field"]: e["message"] for e in body["errors"]} == {"password": BLANK}


@pytest.mark.parametrize(
    "password, code",
    [
        ("a" + " " * 11, "trivial_password"),
        ("aaaaaaaaaaaa", "trivial_password"),
        ("ab ab ab ab ab ab", "trivial_password"),
        ("azertyuiop123", "common_password"),
        ("MotDePasse123", "common_password"),
    ],
)
async def test_trivial_and_common_passwords_are_refused(platform, password, code):
    form = account_form(password=password, password_confirmation=password)
    status, body, _ = await api(platform, "POST", "/api/v1/accounts", form)
    assert status == 422, body
    [error] = body["errors"]
    assert error["field"] == "password" and error["code"] == code, body


async def test_the_length_rules_still_hold_and_a_passphrase_with_spaces_is_fine(platform, smtp_sink):
    for password, message in (
        ("court", "au moins 12"),
        ("onze carac.", "au moins 12"),
        ("x" * 120 + " " * 9, "au plus 128"),
    ):
        status, body, _ = await api(
            platform, "POST", "/api/v1/accounts", account_form(password=password, password_confirmation=password)
        )
        assert status == 422 and message in body["errors"][0]["message"], body
    await activated_account(
        platform,
        smtp_sink,
        password=" une phrase  avec des espaces ",
        password_confirmation=" une phrase  avec des espaces ",
    )


# -- account enumeration by creation --------------------------------------------------------------


async def test_an_address_that_has_an_account_gets_the_same_answer_and_its_owner_a_mail(platform, smtp_sink):
    owner = await activated_account(platform, smtp_sink)
    fresh = account_form()
    status_new, new, headers_new = await api(platform, "POST", "/api/v1/accounts", fresh)
    again = account_form(
        owner["email"].upper(),
        nom="Intrus",
        prenom="Ivan",
        password="un autre mot de passe",
        password_confirmation="un autre mot de passe",
    )
    status, body, headers = await api(platform, "POST", "/api/v1/accounts", again)

    assert status == status_new == 201, body
    assert body.keys() == new.keys() and headers["Content-Type"] == headers_new["Content-Type"]
    assert body["message"] == new["message"]
    assert body["email"].lower() == owner["email"]  # as the address was typed, normalised as for any other
    assert NUMERO.match(body["numero_dossier"]) and body["numero_dossier"] != owner["numero_dossier"]
    assert body["account_id"] != owner["account_id"]

    mail = await mail_to(smtp_sink, owner["email"], "vous avez déjà un compte")
    text = text_of(mail)
    assert "Bonjour Camille Dupont," in text  # the owner's name, not the one typed in the form
    assert "Vous avez déjà un compte : aucun nouveau compte n'a été créé." in text
    assert f"Utilisateur : {owner['numero_dossier']}" in text and body["numero_dossier"] not in text
    assert "https://candidatures.example.fr/connexion" in text
    assert "https://candidatures.example.fr/compte/mot-de-passe?jeton=" in text
    html = mail.get_body(("html",)).get_content()
    assert 'href="https://candidatures.example.fr/connexion"' in html and owner["numero_dossier"] in html
    assert "un autre mot de passe" not in mail.as_string()

    # Nothing changed for the owner; the numéro of the answer names no account.
    async with platform.services["accounts"].pool.acquire() as conn:
        assert (
            await conn.fetchval("SELECT count(*) FROM candidates WHERE lower(email) = lower($1)", owner["email"]) == 1
        )
    status, _, _ = await api(
        platform, "POST", "/api/v1/sessions", {"login": owner["numero_dossier"], "password": PASSWORD}
    )
    assert status == 201
    status, _, _ = await api(
        platform, "POST", "/api/v1/sessions", {"login": body["numero_dossier"], "password": "un autre mot de passe"}
    )
    assert status == 401

    # The link lets the owner choose a new password.
    new_password = "une toute nouvelle phrase de passe"
    reset = {"token": token_in(mail), "password": new_password, "password_confirmation": new_password}
    status, reply, _ = await api(platform, "POST", "/api/v1/accounts/password-reset", reset)
    assert status == 200, reply
    status, _, _ = await api(
        platform, "POST", "/api/v1/sessions", {"login": owner["numero_dossier"], "password": new_password}
    )
    assert status == 201


async def test_an_unactivated_account_is_mailed_too_and_its_link_activates_it(platform, smtp_sink):
    owner = await create_account(platform, smtp_sink)
    status, _, _ = await api(platform, "POST", "/api/v1/accounts", account_form(owner["email"]))
    assert status == 201
    mail = await mail_to(smtp_sink, owner["email"], "vous avez déjà un compte")
    assert "il active aussi votre compte" in text_of(mail)
    reset = {"token": token_in(mail), "password": PASSWORD, "password_confirmation": PASSWORD}
    assert (await api(platform, "POST", "/api/v1/accounts/password-reset", reset))[0] == 200
    assert (await api(platform, "POST", "/api/v1/sessions", {"login": owner["email"], "password": PASSWORD}))[0] == 201


async def test_creating_with_a_registered_address_takes_the_same_work(platform, smtp_sink, monkeypatch):
    """Both paths hash the password once, issue a numéro, write a link and an event: the work is
    counted, not timed (a timing on a shared machine measures its load)."""
    owners = [await create_account(platform, smtp_sink) for _ in range(10)]
    async with platform.services["accounts"].pool.acquire() as conn:
        numeros_before = await conn.fetchval("SELECT count(*) FROM numeros")
    passwords = platform.services["accounts"].deps.passwords
    counted = Argon2Count(passwords.hasher)
    monkeypatch.setattr(passwords, "hasher", counted)
    answers, hashes = set(), set()
    for owner in owners:
        for email in (unique_email("nouveau"), owner["email"]):
            before = counted.hashes
            status, body, _ = await api(platform, "POST", "/api/v1/accounts", account_form(email))
            hashes.add(counted.hashes - before)
            answers.add((status, tuple(sorted(body)), body["message"]))
    assert len(answers) == 1, answers
    assert hashes == {1}, hashes
    async with platform.services["accounts"].pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM numeros") - numeros_before == 2 * len(owners)
    for owner in owners:
        await mail_to(smtp_sink, owner["email"], "vous avez déjà un compte")


# -- limits ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, subject, activated",
    [
        ("/api/v1/accounts/credentials", "vos identifiants", True),
        ("/api/v1/accounts/activation/resend", "nouveau lien d'activation", False),
    ],
)
async def test_the_mail_limit_holds_under_concurrent_requests(platform, smtp_sink, path, subject, activated):
    account = await (activated_account if activated else create_account)(platform, smtp_sink)
    replies = await asyncio.gather(*(api(platform, "POST", path, {"email": account["email"]}) for _ in range(20)))
    answers = {
        (status, json.dumps({k: v for k, v in body.items() if k != "request_id"})) for status, body, _ in replies
    }
    assert len(answers) == 1 and next(iter(answers))[0] == 202, answers
    await eventually(lambda: len(mails(smtp_sink, account["email"], subject)) >= 5, timeout=60, message="5 mails")
    await mails_settled(platform, account["email"])
    assert len(mails(smtp_sink, account["email"], subject)) == 5


async def test_account_creations_are_limited_per_client_address(start_platform, smtp_sink):
    platform = await start_platform("accounts", "mailer", **sealing_overrides(accounts_creations_per_hour_client=3))
    office, elsewhere = (
        f"127.{random.randrange(3, 255)}.{random.randrange(256)}.{random.randrange(1, 255)}" for _ in "ab"
    )
    sessions = {
        a: aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(a, 0))) for a in (office, elsewhere)
    }
    try:

        async def create(address: str, email: str) -> tuple[int, dict, dict]:
            async with sessions[address].post(platform.url("/api/v1/accounts"), json=account_form(email)) as resp:
                return resp.status, await resp.json(), resp.headers

        registered = unique_email("bureau")
        for email in (registered, unique_email("bureau"), unique_email("bureau")):
            assert (await create(office, email))[0] == 201
        for email in (unique_email("bureau"), registered):  # new or registered: the same refusal
            status, body, headers = await create(office, email)
            assert status == 429 and body["code"] == "too_many_requests", body
            assert "Trop de comptes ont été créés depuis votre adresse réseau" in body["detail"]
            assert 3000 < int(headers["Retry-After"]) <= 3600
        await mails_settled(platform, registered)
        assert not mails(smtp_sink, registered, "vous avez déjà un compte")  # refused before anything was done
        assert (await create(elsewhere, unique_email("ailleurs")))[0] == 201
        platform.clock.advance(minutes=61)
        assert (await create(office, unique_email("bureau")))[0] == 201
    finally:
        for session in sessions.values():
            await session.close()


async def test_the_creation_route_documents_no_conflict_any_more(platform):
    _, doc, _ = await api(platform, "GET", "/api/v1/openapi.json")
    responses = doc["paths"]["/api/v1/accounts"]["post"]["responses"]
    assert "409" not in responses and "429" in responses and "201" in responses
    assert re.search(r"déjà un compte", doc["paths"]["/api/v1/accounts"]["post"]["summary"])
