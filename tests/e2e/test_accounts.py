"""Candidate accounts through the gateway, reading the mails from the SMTP sink (Étape 1 of the guide)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import nats.js.errors
import pytest

from ecandidat.contracts.accounts import MailRequestReceived
from ecandidat.contracts.subjects import durable_name, event_stream_of
from ecandidat.runtime.jobs import run_job_once
from ecandidat.runtime.outbox import pending_count
from ecandidat.runtime.sealing import new_key
from ecandidat.runtime.nats import flush
from tests.conftest import eventually, unique_email
from tests.french import as_read

PASSWORD = "cheval agrafe pile correcte"
NUMERO = re.compile(r"^26[0-9A-Z]{6}$")


def sealing_overrides(**accounts: Any) -> dict[str, dict[str, Any]]:
    """Accounts and mailer sharing a fresh sealing key (as a deployment sets LINK_SEALING_KEY).
    Every test creates its accounts from 127.0.0.1: the per-address creation limit is lifted."""
    key = new_key()
    return {
        "accounts": {
            "link_sealing_key": key,
            "accounts_hash_workers": 2,
            "accounts_creations_per_hour_client": 1_000_000,
            **accounts,
        },
        "mailer": {"link_sealing_key": key, "public_base_url": "https://candidatures.example.fr"},
        # A login is an argon2id hash: on a busy shared machine it can take longer than the 3 s of FAST.
        "gateway": {"rpc_timeout": 15.0},
    }


@pytest.fixture
async def platform(start_platform):
    return await start_platform("accounts", "mailer", **sealing_overrides())


async def api(platform, method: str, path: str, body: Any = None, token: str | None = None, **kwargs: Any):
    headers = dict(kwargs.pop("headers", {}))
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with platform.http.request(method, platform.url(path), json=body, headers=headers, **kwargs) as resp:
        data = await resp.json() if resp.content_type.endswith("json") else None
        return resp.status, data, resp.headers


def account_form(email: str | None = None, **changes: Any) -> dict[str, Any]:
    email = email or unique_email("candidat")
    form = dict(
        nom="Dupont",
        prenom="Camille",
        email=email,
        email_confirmation=email,
        password=PASSWORD,
        password_confirmation=PASSWORD,
    )
    form.update(changes)
    return form


async def mail_to(smtp_sink, address: str, subject_part: str, count: int = 1):
    found = await smtp_sink.wait_for(
        count, timeout=30, match=lambda m: m["To"] == address and subject_part in m["Subject"]
    )
    return found[count - 1]


def text_of(mail) -> str:
    """The mail's text part as it reads: French typography's no-break spaces read as spaces."""
    return as_read(mail.get_body(("plain",)).get_content())


def token_in(mail) -> str:
    found = re.search(r"jeton=([A-Za-z0-9_-]+)", text_of(mail))
    assert found, text_of(mail)
    return found.group(1)


async def consumer_idle(nc, stream: str, durable: str) -> bool:
    """Whether a consumer has nothing left to handle (a consumer not declared has nothing)."""
    try:
        info = await nc.jetstream().consumer_info(stream, durable)
    except nats.js.errors.NotFoundError:
        return True
    return info.num_pending == 0 and info.num_ack_pending == 0


async def lost_links_handled(platform) -> None:
    """Wait until every lost-link request answered so far has been handled by the accounts service
    and the events it made are published (their mails may still be on their way)."""
    service = platform.services["accounts"]

    async def handled() -> bool:
        async with service.pool.acquire() as conn:
            if await pending_count(conn):  # the requests are on the stream...
                return False
            requests = (event_stream_of(MailRequestReceived), durable_name("accounts", "mail-requests"))
            if not await consumer_idle(service.nc, *requests):  # ...handled...
                return False
            return await pending_count(conn) == 0  # ...and what that made is published

    await eventually(handled, timeout=60, message="lost-link requests handled")


async def create_account(platform, smtp_sink, email: str | None = None, **changes: Any) -> dict[str, Any]:
    form = account_form(email, **changes)
    status, body, _ = await api(platform, "POST", "/api/v1/accounts", form)
    assert status == 201, body
    mail = await mail_to(smtp_sink, form["email"], "validez votre compte")
    return {**form, **body, "activation": token_in(mail), "mail": mail}


async def activated_account(platform, smtp_sink, **changes: Any) -> dict[str, Any]:
    account = await create_account(platform, smtp_sink, **changes)
    status, body, _ = await api(platform, "POST", "/api/v1/accounts/activation", {"token": account["activation"]})
    assert status == 200, body
    return account


async def login(platform, login: str, password: str = PASSWORD) -> str:
    status, body, _ = await api(platform, "POST", "/api/v1/sessions", {"login": login, "password": password})
    assert status == 201, body
    return body["token"]


async def test_create_activate_login_who_am_i_logout(platform, smtp_sink):
    email = unique_email("camille")
    status, body, headers = await api(platform, "POST", "/api/v1/accounts", account_form(email, ine="1234567890a"))
    assert status == 201, body
    assert NUMERO.match(body["numero_dossier"])
    assert body["message"] == "Votre compte a été créé avec succès, veuillez consulter vos courriels pour le valider."
    assert headers["X-Content-Type-Options"] == "nosniff"
    numero = body["numero_dossier"]

    status, refused, _ = await api(platform, "POST", "/api/v1/sessions", {"login": numero, "password": PASSWORD})
    assert status == 403 and "pas encore activé" in refused["detail"]

    mail = await mail_to(smtp_sink, email, "validez votre compte")
    text = text_of(mail)
    assert "Bonjour Camille Dupont," in text
    assert "Vous venez de créer un compte pour la Campagne eCandidat 2026." in text
    assert re.search(
        r"Attention, vous devez valider votre compte avant le \d\d/\d\d/\d{4} à \d\d:\d\d, "
        r"au delà de cette date votre compte sera détruit\.",
        text,
    )
    assert f"Utilisateur : {numero}" in text
    assert "https://candidatures.example.fr/compte/activation?jeton=" in text
    assert PASSWORD not in mail.as_string()
    token = token_in(mail)
    assert len(token) >= 43  # 256 bits, url-safe base64

    status, body, _ = await api(platform, "POST", "/api/v1/accounts/activation", {"token": token})
    assert status == 200 and body["numero_dossier"] == numero
    status, body, _ = await api(platform, "POST", "/api/v1/accounts/activation", {"token": token})
    assert status == 410 and body["errors"][0]["field"] == "token" and "n'est pas valide" in body["detail"]

    session = await login(platform, numero)
    status, me, _ = await api(platform, "GET", "/api/v1/me", token=session)
    assert status == 200, me
    assert me["numero_dossier"] == numero and me["email"] == email and me["ine"] == "1234567890A"
    assert me["activated_at"] is not None and me["nom"] == "Dupont"

    by_email = await login(platform, email.upper())  # the email works as login too, in any case
    assert by_email != session

    status, _, _ = await api(platform, "DELETE", "/api/v1/sessions/current", token=session)
    assert status == 204
    status, body, headers = await api(platform, "GET", "/api/v1/me", token=session)
    assert status == 401 and body["code"] == "unauthenticated"
    assert headers["WWW-Authenticate"].startswith("Bearer")
    status, _, _ = await api(platform, "GET", "/api/v1/me", token=by_email)
    assert status == 200  # logging out ends that session only


async def test_a_new_login_rotates_the_token_the_client_held(platform, smtp_sink):
    account = await activated_account(platform, smtp_sink)
    first = await login(platform, account["numero_dossier"])
    status, body, _ = await api(
        platform, "POST", "/api/v1/sessions", {"login": account["numero_dossier"], "password": PASSWORD}, token=first
    )
    assert status == 201 and body["token"] != first
    assert (await api(platform, "GET", "/api/v1/me", token=first))[0] == 401
    assert (await api(platform, "GET", "/api/v1/me", token=body["token"]))[0] == 200


async def test_lost_activation_link_sends_a_new_one_and_the_old_one_stops_working(platform, smtp_sink):
    account = await create_account(platform, smtp_sink)
    status, body, _ = await api(platform, "POST", "/api/v1/accounts/activation/resend", {"email": account["email"]})
    assert status == 202 and body["message"].startswith("Si un compte")
    mail = await mail_to(smtp_sink, account["email"], "nouveau lien d'activation")
    assert f"Utilisateur : {account['numero_dossier']}" in text_of(mail)
    fresh = token_in(mail)
    assert fresh != account["activation"]
    status, _, _ = await api(platform, "POST", "/api/v1/accounts/activation", {"token": account["activation"]})
    assert status == 410
    status, _, _ = await api(platform, "POST", "/api/v1/accounts/activation", {"token": fresh})
    assert status == 200
    await login(platform, account["numero_dossier"])


async def test_forgotten_credentials_reset_password_and_old_sessions_die(platform, smtp_sink):
    account = await activated_account(platform, smtp_sink)
    sessions = [await login(platform, account["numero_dossier"]) for _ in range(2)]

    status, body, _ = await api(platform, "POST", "/api/v1/accounts/credentials", {"email": account["email"]})
    assert status == 202
    mail = await mail_to(smtp_sink, account["email"], "vos identifiants")
    text = text_of(mail)
    assert f"Utilisateur : {account['numero_dossier']}" in text and "Mot de passe" not in text
    assert "/compte/mot-de-passe?jeton=" in text
    token = token_in(mail)

    weak = {"token": token, "password": "azertyuiop123", "password_confirmation": "azertyuiop123"}
    status, body, _ = await api(platform, "POST", "/api/v1/accounts/password-reset", weak)
    assert status == 422 and body["errors"][0]["field"] == "password" and "courants" in body["detail"]
    assert (await api(platform, "GET", "/api/v1/me", token=sessions[0]))[0] == 200  # nothing changed

    new_password = "une toute nouvelle phrase de passe"
    reset = {"token": token, "password": new_password, "password_confirmation": new_password}
    status, body, _ = await api(platform, "POST", "/api/v1/accounts/password-reset", reset)
    assert status == 200, body
    for session in sessions:
        assert (await api(platform, "GET", "/api/v1/me", token=session))[0] == 401
    status, _, _ = await api(
        platform, "POST", "/api/v1/sessions", {"login": account["numero_dossier"], "password": PASSWORD}
    )
    assert status == 401
    await login(platform, account["numero_dossier"], new_password)
    status, _, _ = await api(platform, "POST", "/api/v1/accounts/password-reset", reset)
    assert status == 410
    notice = await mail_to(smtp_sink, account["email"], "mot de passe a été modifié")
    assert new_password not in notice.as_string()


async def test_change_of_email_is_confirmed_by_link_and_logs_out(platform, smtp_sink):
    account = await activated_account(platform, smtp_sink)
    other = await create_account(platform, smtp_sink)
    session = await login(platform, account["numero_dossier"])
    new_email = unique_email("nouvelle")
    change = {"new_email": new_email, "new_email_confirmation": new_email, "password": PASSWORD}

    status, body, _ = await api(
        platform, "POST", "/api/v1/me/email", {**change, "password": "pas le bon mot de passe"}, token=session
    )
    assert status == 422 and body["errors"][0]["field"] == "password"
    taken = {**change, "new_email": other["email"].upper(), "new_email_confirmation": other["email"]}
    status, body, _ = await api(platform, "POST", "/api/v1/me/email", taken, token=session)
    assert status == 409 and body["errors"][0]["field"] == "new_email"
    assert (await api(platform, "GET", "/api/v1/me", token=session))[0] == 200  # refusals change nothing

    status, body, _ = await api(platform, "POST", "/api/v1/me/email", change, token=session)
    assert status == 202 and "déconnecté" in body["message"]
    assert (await api(platform, "GET", "/api/v1/me", token=session))[0] == 401
    confirm = await mail_to(smtp_sink, new_email, "confirmez votre nouvelle adresse")
    notice = await mail_to(smtp_sink, account["email"], "demande de changement")
    assert new_email in text_of(notice)

    session = await login(platform, account["email"])  # the old address holds until the new one is confirmed
    status, me, _ = await api(platform, "GET", "/api/v1/me", token=session)
    assert me["email"] == account["email"] and me["pending_email"] == new_email

    status, body, _ = await api(platform, "POST", "/api/v1/accounts/email-confirmation", {"token": token_in(confirm)})
    assert status == 200, body
    assert (await api(platform, "GET", "/api/v1/me", token=session))[0] == 401
    await mail_to(smtp_sink, new_email, "adresse mail a été modifiée")
    await mail_to(smtp_sink, account["email"], "adresse mail a été modifiée")
    status, _, _ = await api(platform, "POST", "/api/v1/sessions", {"login": account["email"], "password": PASSWORD})
    assert status == 401
    session = await login(platform, new_email)
    status, me, _ = await api(platform, "GET", "/api/v1/me", token=session)
    assert me["email"] == new_email and me["pending_email"] is None


async def test_unactivated_account_is_purged_after_its_deadline(platform, smtp_sink):
    account = await create_account(platform, smtp_sink)
    kept = await activated_account(platform, smtp_sink)
    service = platform.services["accounts"]
    received = []

    async def on_purged(msg) -> None:
        received.append(msg)

    sub = await service.nc.subscribe("evt.accounts.account.purged", cb=on_purged)
    await flush(service.nc)

    assert await run_job_once(service.pool, service.purge_job, platform.clock, force=True) == 0
    platform.clock.advance(hours=49)
    assert await run_job_once(service.pool, service.purge_job, platform.clock, force=True) >= 1

    status, _, _ = await api(platform, "POST", "/api/v1/accounts/activation", {"token": account["activation"]})
    assert status == 410
    status, _, _ = await api(
        platform, "POST", "/api/v1/sessions", {"login": account["numero_dossier"], "password": PASSWORD}
    )
    assert status == 401
    await login(platform, kept["numero_dossier"])  # an activated account stays

    def purged_event():
        return [m for m in received if account["account_id"] in m.data.decode()]

    [msg] = await eventually(purged_event, message="account.purged published")
    assert account["numero_dossier"] in msg.data.decode()
    await sub.unsubscribe()

    again = await create_account(platform, smtp_sink, email=account["email"])  # the address is free again
    assert again["numero_dossier"] != account["numero_dossier"]  # numbers are never reused


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"nom": None}, "nom", "Ce champ est obligatoire."),
        ({"nom": "   "}, "nom", "Ce champ est obligatoire."),
        ({"email": "pas-une-adresse"}, "email", "L'adresse mail n'est pas valide."),
        (
            {"email_confirmation": "autre@example.org"},
            "email_confirmation",
            "La confirmation ne correspond pas à l'adresse mail.",
        ),
        (
            {"password_confirmation": "autre chose encore"},
            "password_confirmation",
            "La confirmation ne correspond pas au mot de passe.",
        ),
        (
            {"password": "court", "password_confirmation": "court"},
            "password",
            "Le mot de passe doit contenir au moins 12 caractères.",
        ),
        (
            {"password": "x" * 129, "password_confirmation": "x" * 129},
            "password",
            "Le mot de passe doit contenir au plus 128 caractères.",
        ),
        ({"password": "MotDePasse123", "password_confirmation": "MotDePasse123"}, "password", None),
        ({"password": "1q2w3e4r5t6y", "password_confirmation": "1q2w3e4r5t6y"}, "password", None),
        ({"ine": "12AB"}, "ine", None),
        ({"intrus": "x"}, "intrus", "Ce champ n'est pas attendu."),
    ],
)
async def test_bad_account_forms_are_refused_in_french_and_create_nothing(platform, changes, field, message):
    form = account_form()
    for key, value in changes.items():
        if value is None:
            form.pop(key)
        else:
            form[key] = value
    status, body, _ = await api(platform, "POST", "/api/v1/accounts", form)
    assert status == 422, body
    fields = {e["field"]: e["message"] for e in body["errors"]}
    assert field in fields, body
    if message:
        assert fields[field] == message
    async with platform.services["accounts"].pool.acquire() as conn:
        assert (
            await conn.fetchval("SELECT count(*) FROM candidates WHERE lower(email) = lower($1)", form.get("email", ""))
            == 0
        )


@pytest.mark.parametrize("path", ["/api/v1/accounts/activation", "/api/v1/accounts/email-confirmation"])
async def test_forged_tokens_are_refused(platform, path):
    for token in ("forged" + uuid.uuid4().hex, "x"):
        status, body, _ = await api(platform, "POST", path, {"token": token})
        assert status == 410 and body["code"] == "gone" and body["errors"][0]["field"] == "token"
    status, body, _ = await api(platform, "POST", path, {})
    assert status == 422 and body["errors"][0] == {
        "field": "token",
        "message": "Ce champ est obligatoire.",
        "code": "missing",
    }


async def test_expired_reset_link_is_refused(platform, smtp_sink):
    account = await activated_account(platform, smtp_sink)
    await api(platform, "POST", "/api/v1/accounts/credentials", {"email": account["email"]})
    token = token_in(await mail_to(smtp_sink, account["email"], "vos identifiants"))
    platform.clock.advance(hours=2, minutes=1)
    new_password = "une toute nouvelle phrase de passe"
    status, body, _ = await api(
        platform,
        "POST",
        "/api/v1/accounts/password-reset",
        {"token": token, "password": new_password, "password_confirmation": new_password},
    )
    assert status == 410, body
    await login(platform, account["numero_dossier"])  # the old password still works


async def test_repeated_failures_are_throttled_then_allowed_again(start_platform, smtp_sink):
    platform = await start_platform(
        "accounts", "mailer", **sealing_overrides(accounts_throttle_free=3, accounts_throttle_base=2)
    )
    account = await activated_account(platform, smtp_sink)
    attempt = {"login": account["numero_dossier"], "password": "mauvais mot de passe"}
    unknown = {"login": "26ZZZZZZ", "password": "mauvais mot de passe"}
    for _ in range(3):
        status, wrong, _ = await api(platform, "POST", "/api/v1/sessions", attempt)
        assert status == 401
    status, nobody, _ = await api(platform, "POST", "/api/v1/sessions", unknown)
    assert status == 401 and nobody["detail"] == wrong["detail"] == "Identifiant ou mot de passe incorrect."

    status, _, _ = await api(platform, "POST", "/api/v1/sessions", attempt)  # the 4th failure starts the delays
    assert status == 401
    status, body, headers = await api(platform, "POST", "/api/v1/sessions", {**attempt, "password": PASSWORD})
    assert status == 429 and "Trop de tentatives" in body["detail"] and int(headers["Retry-After"]) >= 1
    platform.clock.advance(seconds=3)
    await login(platform, account["numero_dossier"])  # a delay, never a lock


async def test_browser_session_cookie_is_httponly_and_csrf_protected(platform, smtp_sink):
    account = await activated_account(platform, smtp_sink)
    status, body, headers = await api(
        platform,
        "POST",
        "/api/v1/sessions",
        {"login": account["numero_dossier"], "password": PASSWORD, "session_cookie": True},
    )
    assert status == 201 and body["token"] is None
    cookies = headers.getall("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("ecandidat_session="))
    for flag in ("HttpOnly", "Secure", "SameSite=Strict"):
        assert flag in session_cookie
    csrf_cookie = next(c for c in cookies if c.startswith("ecandidat_csrf="))
    assert "HttpOnly" not in csrf_cookie
    session = session_cookie.split(";")[0].split("=", 1)[1]
    csrf = csrf_cookie.split(";")[0].split("=", 1)[1]
    jar = {"Cookie": f"ecandidat_session={session}; ecandidat_csrf={csrf}"}

    assert (await api(platform, "GET", "/api/v1/me", headers=jar))[0] == 200
    status, body, _ = await api(platform, "DELETE", "/api/v1/sessions/current", headers=jar)
    assert status == 403 and "X-CSRF-Token" in body["detail"]
    status, _, _ = await api(platform, "DELETE", "/api/v1/sessions/current", headers={**jar, "X-CSRF-Token": "devine"})
    assert status == 403
    status, _, headers = await api(
        platform, "DELETE", "/api/v1/sessions/current", headers={**jar, "X-CSRF-Token": csrf}
    )
    assert status == 204 and any(
        c.startswith("ecandidat_session=;") or 'ecandidat_session=""' in c for c in headers.getall("Set-Cookie")
    )
    assert (await api(platform, "GET", "/api/v1/me", headers=jar))[0] == 401


async def test_unauthenticated_and_malformed_credentials(platform):
    status, body, headers = await api(platform, "GET", "/api/v1/me")
    assert status == 401 and body["detail"] == "Vous devez être connecté pour accéder à cette ressource."
    status, body, _ = await api(platform, "GET", "/api/v1/me", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert status == 401 and "Bearer" in body["detail"]
    status, body, _ = await api(platform, "GET", "/api/v1/me", token="n'importe quoi")
    assert status == 401 and "session" in body["detail"]


async def test_account_routes_are_in_the_openapi_document(platform):
    status, doc, _ = await api(platform, "GET", "/api/v1/openapi.json")
    assert status == 200
    for path in (
        "/api/v1/accounts",
        "/api/v1/accounts/activation",
        "/api/v1/accounts/activation/resend",
        "/api/v1/accounts/credentials",
        "/api/v1/accounts/password-reset",
        "/api/v1/sessions",
        "/api/v1/sessions/current",
        "/api/v1/me",
        "/api/v1/me/email",
        "/api/v1/accounts/email-confirmation",
    ):
        assert path in doc["paths"], path
    assert doc["paths"]["/api/v1/me"]["get"]["x-realm"] == "candidate"


class Argon2Count:
    """The accounts service's argon2id hasher, counting what it computes."""

    def __init__(self, hasher) -> None:
        self.hasher = hasher
        self.hashes = self.verifications = 0

    def __getattr__(self, name: str):
        return getattr(self.hasher, name)

    def hash(self, *args, **kwargs):
        self.hashes += 1
        return self.hasher.hash(*args, **kwargs)

    def verify(self, *args, **kwargs):
        self.verifications += 1
        return self.hasher.verify(*args, **kwargs)
