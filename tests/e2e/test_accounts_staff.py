"""Staff accounts through the gateway: first admin from the CLI, invitations, TOTP, roles and scopes."""

from __future__ import annotations

import re
import subprocess
import sys

import pyotp
import pytest

from services.accounts.staff import create_first_admin
from tests.conftest import unique_email
from tests.e2e import test_accounts as candidates
from tests.e2e.test_accounts import api, mail_to, text_of, token_in

PASSWORD = "une phrase de passe pour la gestion"


@pytest.fixture
async def platform(start_platform):
    return await start_platform("accounts", "mailer", **candidates.sealing_overrides())


class Staff:
    """A staff member as the tests drive them: their TOTP app and their session."""

    def __init__(self, platform, email: str, secret: str, recovery: list[str]) -> None:
        self.platform = platform
        self.email = email
        self.totp = pyotp.TOTP(secret)
        self.recovery = recovery
        self.token: str | None = None
        self._step = 0

    def code(self) -> str:
        """A code no login used yet: a TOTP code is accepted once, so move the clock to the next time step."""
        step = int(self.platform.clock.now().timestamp()) // 30
        if step <= self._step:
            self.platform.clock.advance(seconds=30 * (self._step - step + 1))
            step = int(self.platform.clock.now().timestamp()) // 30
        self._step = step
        return self.totp.at(step * 30)

    async def login(self, code: str | None = None) -> tuple[int, dict]:
        body = {"email": self.email, "password": PASSWORD, "code": code or self.code()}
        status, reply, _ = await api(self.platform, "POST", "/api/v1/staff/sessions", body)
        if status == 201:
            self.token = reply["token"]
        return status, reply

    async def call(self, method: str, path: str, body=None):
        return await api(self.platform, method, path, body, token=self.token)


async def set_up(platform, email: str, token: str) -> Staff:
    weak = {"token": token, "password": "motdepasse123", "password_confirmation": "motdepasse123"}
    status, body, _ = await api(platform, "POST", "/api/v1/staff/setup", weak)
    assert status == 422 and body["errors"][0]["field"] == "password"
    setup = {"token": token, "password": PASSWORD, "password_confirmation": PASSWORD}
    status, body, _ = await api(platform, "POST", "/api/v1/staff/setup", setup)
    assert status == 200, body
    assert body["otpauth_uri"].startswith("otpauth://totp/eCandidat:")
    secret = body["totp_secret"]
    status, refused, _ = await api(
        platform, "POST", "/api/v1/staff/setup/confirmation", {"token": token, "code": "000000"}
    )
    assert status == 422 and refused["errors"][0]["field"] == "code"
    code = pyotp.TOTP(secret).at(platform.clock.now())
    status, body, _ = await api(platform, "POST", "/api/v1/staff/setup/confirmation", {"token": token, "code": code})
    assert status == 200, body
    assert len(body["recovery_codes"]) == 10
    status, _, _ = await api(platform, "POST", "/api/v1/staff/setup/confirmation", {"token": token, "code": code})
    assert status == 410  # the link is used up
    staff = Staff(platform, email, secret, body["recovery_codes"])
    staff._step = int(platform.clock.now().timestamp()) // 30  # the confirmation used the current step
    return staff


async def admin(platform) -> Staff:
    service = platform.services["accounts"]
    email = unique_email("admin")
    async with service.pool.acquire() as conn:
        _, token = await create_first_admin(
            conn,
            email=email,
            nom="Admin",
            prenom="Alice",
            sealer=service.deps.sealer,
            clock=platform.clock,
            settings=service.settings,
        )
    staff = await set_up(platform, email, token)
    status, body = await staff.login()
    assert status == 201, body
    return staff


async def invited(platform, smtp_sink, by: Staff, roles: list[str], **scopes) -> Staff:
    email = unique_email("gestion")
    form = {"email": email, "nom": "Martin", "prenom": "Louise", "roles": roles, **scopes}
    status, body, _ = await by.call("POST", "/api/v1/staff/accounts", form)
    assert status == 201, body
    mail = await mail_to(smtp_sink, email, "activez votre compte de gestion")
    assert "/personnel/installation?jeton=" in text_of(mail)
    staff = await set_up(platform, email, token_in(mail))
    status, body = await staff.login()
    assert status == 201, body
    return staff


async def test_first_admin_from_the_cli_sets_up_totp_and_logs_in(platform, process_env, smtp_sink):
    email = unique_email("premier.admin")
    env = {
        **process_env,
        "LINK_SEALING_KEY": platform.services["accounts"].settings.link_sealing_key,
        "PUBLIC_BASE_URL": "https://candidatures.example.fr",
    }
    result = subprocess.run(
        [sys.executable, "-m", "ecandidat.cli", "create-admin", "--email", email],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "https://candidatures.example.fr/api/v1/staff/setup" in result.stdout
    token = re.search(r'"token": "([A-Za-z0-9_-]+)"', result.stdout).group(1)
    mail = await mail_to(smtp_sink, email, "activez votre compte de gestion")
    assert token_in(mail) == token

    staff = await set_up(platform, email, token)
    status, body = await staff.login("123456")
    assert status == 401 and body["detail"] == "Adresse mail, mot de passe ou code de vérification incorrect."
    code = staff.code()
    status, body = await staff.login(code)
    assert status == 201 and body["principal"]["realm"] == "staff" and body["principal"]["roles"] == ["admin"]
    status, _ = await staff.login(code)
    assert status == 401  # a TOTP code is never accepted twice
    status, _ = await staff.login(staff.recovery[0].upper())
    assert status == 201
    status, _ = await staff.login(staff.recovery[0])
    assert status == 401  # nor a recovery code
    status, me, _ = await staff.call("GET", "/api/v1/staff/me")
    assert status == 200 and me["email"] == email and me["active"] is True

    again = subprocess.run(
        [sys.executable, "-m", "ecandidat.cli", "create-admin", "--email", email],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0 and "already exists" in again.stdout  # the local stack may call it at every start


async def test_realms_roles_and_centre_scopes(platform, smtp_sink):
    boss = await admin(platform)
    gestionnaire = await invited(platform, smtp_sink, boss, ["gestionnaire"], centres=["CENTRE_A"])
    candidate = await candidates.activated_account(platform, smtp_sink)
    candidate_token = await candidates.login(platform, candidate["numero_dossier"])

    status, body, _ = await api(platform, "GET", "/api/v1/staff/me", token=candidate_token)
    assert status == 403 and body["detail"] == "Cette ressource est réservée aux personnels de gestion."
    status, _, _ = await api(platform, "GET", "/api/v1/staff/accounts", token=candidate_token)
    assert status == 403
    status, _, _ = await api(platform, "GET", "/api/v1/me", token=gestionnaire.token)
    assert status == 403  # and a staff token is not a candidate's
    status, _, _ = await api(platform, "GET", "/api/v1/staff/me")
    assert status == 401

    status, body, _ = await gestionnaire.call("GET", "/api/v1/staff/centres/CENTRE_A/staff")
    assert status == 200 and [s["email"] for s in body["items"]] == [gestionnaire.email]
    status, body, _ = await gestionnaire.call("GET", "/api/v1/staff/centres/CENTRE_B/staff")
    assert status == 403 and "centre" in body["detail"]
    status, _, _ = await gestionnaire.call("GET", "/api/v1/staff/accounts")
    assert status == 403
    status, _, _ = await gestionnaire.call(
        "POST", "/api/v1/staff/accounts", {"email": unique_email(), "nom": "X", "prenom": "Y", "roles": ["admin"]}
    )
    assert status == 403
    status, body, _ = await boss.call("GET", "/api/v1/staff/centres/CENTRE_B/staff")
    assert status == 200 and body["items"] == []


@pytest.mark.parametrize(
    "form, field",
    [
        ({"roles": ["gestionnaire"]}, "centres"),
        ({"roles": ["commission"]}, "commissions"),
        ({"roles": ["recteur"]}, "roles"),
        ({"roles": []}, "roles"),
        ({"roles": ["gestionnaire"], "centres": ["pas un code !"]}, "centres"),
        ({"roles": ["admin"], "email": "pas-une-adresse"}, "email"),
    ],
)
async def test_bad_staff_forms_are_refused_and_create_nothing(platform, form, field):
    boss = await admin(platform)
    email = unique_email("refus")
    status, body, _ = await boss.call(
        "POST", "/api/v1/staff/accounts", {"email": email, "nom": "N", "prenom": "P", **form}
    )
    assert status == 422, body
    assert field in {e["field"] for e in body["errors"]}
    async with platform.services["accounts"].pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM staff_accounts WHERE lower(email) = lower($1)", email) == 0


async def test_disabling_or_reinviting_a_staff_member_ends_their_sessions(platform, smtp_sink):
    boss = await admin(platform)
    member = await invited(platform, smtp_sink, boss, ["commission"], commissions=["COM_M1_BIO"])
    status, me, _ = await member.call("GET", "/api/v1/staff/me")
    assert status == 200 and me["commissions"] == ["COM_M1_BIO"]

    status, body, _ = await boss.call("PATCH", f"/api/v1/staff/accounts/{me['account_id']}", {"disabled": True})
    assert status == 200 and body["disabled"] is True
    assert (await member.call("GET", "/api/v1/staff/me"))[0] == 401
    status, body = await member.login()
    assert status == 403 and "désactivé" in body["detail"]

    status, body, _ = await boss.call("PATCH", f"/api/v1/staff/accounts/{me['account_id']}", {"disabled": False})
    assert status == 200 and body["disabled"] is False
    assert (await member.login())[0] == 201
    status, body, _ = await boss.call("POST", f"/api/v1/staff/accounts/{me['account_id']}/invitation")
    assert status == 202 and body["active"] is False
    assert (await member.call("GET", "/api/v1/staff/me"))[0] == 401
    assert (await member.login())[0] == 401


async def test_an_admin_cannot_demote_or_disable_themselves(platform):
    boss = await admin(platform)
    _, me, _ = await boss.call("GET", "/api/v1/staff/me")
    for change in ({"roles": ["scolarite"]}, {"disabled": True}):
        status, body, _ = await boss.call("PATCH", f"/api/v1/staff/accounts/{me['account_id']}", change)
        assert status == 409, body
    status, _, _ = await boss.call("PATCH", "/api/v1/staff/accounts/pas-un-identifiant", {"disabled": True})
    assert status == 404


async def test_recovery_codes_can_be_renewed_with_a_totp_code(platform):
    boss = await admin(platform)
    status, body, _ = await boss.call("POST", "/api/v1/staff/me/recovery-codes", {"code": boss.recovery[1]})
    assert status == 422  # a recovery code cannot renew the recovery codes
    status, body, _ = await boss.call("POST", "/api/v1/staff/me/recovery-codes", {"code": boss.code()})
    assert status == 200 and len(body["recovery_codes"]) == 10
    status, _ = await boss.login(boss.recovery[1])
    assert status == 401  # the old codes are gone
    status, _ = await boss.login(body["recovery_codes"][0])
    assert status == 201
