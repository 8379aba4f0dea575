"""Events and rpc bodies of the accounts service.

Secrets never travel on the event streams integrators read: an event that needs a link for a mail
is private (`prv.accounts.…`, stream PRV_ACCOUNTS, read by the mailer only) and carries its token
sealed besides (`ecandidat.runtime.sealing`), so that only the mailer can open it.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import datetime
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from .auth import STAFF_ROLES, Principal
from .base import Event, Message, RpcReply, RpcRequest

PASSWORD_MIN = 12
PASSWORD_MAX = 128


def _email(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("L'adresse mail est obligatoire.")
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise ValueError("L'adresse mail n'est pas valide.") from None


def _name(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise ValueError("Ce champ est obligatoire.")
    if len(value) > 100:
        raise ValueError("Ce champ est trop long (au plus 100 caractères).")
    if any(unicodedata.category(c).startswith("C") for c in value):
        raise ValueError("Ce champ contient des caractères non autorisés.")
    return value


def _blank(char: str) -> bool:
    """Spaces of every kind (including no-break and ideographic ones), control and invisible format characters."""
    return char.isspace() or unicodedata.category(char) in {"Zs", "Zl", "Zp", "Cc", "Cf"}


def _password(value: str) -> str:
    if all(_blank(c) for c in value):
        raise ValueError("Le mot de passe ne peut pas être composé uniquement d'espaces ou de caractères invisibles.")
    if len(value) < PASSWORD_MIN:
        raise ValueError(f"Le mot de passe doit contenir au moins {PASSWORD_MIN} caractères.")
    if len(value) > PASSWORD_MAX:
        raise ValueError(f"Le mot de passe doit contenir au plus {PASSWORD_MAX} caractères.")
    return value


_INE = re.compile(r"^[0-9A-Z]{11}$")


def _ine(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip().upper()
    if not _INE.match(value):
        raise ValueError(
            "L'INE/BEA doit compter 11 caractères (chiffres et lettres), tel qu'il figure sur vos relevés de notes."
        )
    return value


def _token(value: str) -> str:
    value = value.strip()
    if not value or len(value) > 200:
        raise ValueError("Ce lien n'est pas valide.")
    return value


# The published JSON Schema says what the validators check, so that a generated client sends valid data.
Email = Annotated[str, AfterValidator(_email), Field(json_schema_extra={"format": "email", "maxLength": 254})]
Name = Annotated[
    str,
    AfterValidator(_name),
    Field(json_schema_extra={"minLength": 1, "maxLength": 100, "pattern": r"^[^\x00-\x1f\x7f]*\S"}),
]
Password = Annotated[
    str,
    AfterValidator(_password),
    Field(
        description=(
            "De 12 à 128 caractères ; ni uniquement des espaces ou des caractères invisibles, ni un ou deux "
            "caractères répétés, ni un mot de passe courant, ni l'adresse mail ou l'identifiant."
        ),
        json_schema_extra={"minLength": PASSWORD_MIN, "maxLength": PASSWORD_MAX},
    ),
]
Ine = Annotated[str | None, AfterValidator(_ine)]
Token = Annotated[str, AfterValidator(_token), Field(json_schema_extra={"minLength": 1, "maxLength": 200})]
Code = Annotated[str, Field(min_length=1, max_length=64)]


def _same(value: str, info: ValidationInfo, other: str, message: str) -> str:
    if other in info.data and value != info.data[other]:
        raise ValueError(message)
    return value


# -- events ---------------------------------------------------------------------------------------


class AccountCreated(Event):
    """A candidate created an account (not activated yet). Public: no token; the welcome mail with
    the activation link comes from the private `AccountActivationRequested(welcome=True)`."""

    producer = "accounts"
    entity = "account"
    action = "created"

    account_id: uuid.UUID
    numero_dossier: str
    email: str
    nom: str
    prenom: str
    ine: str | None = None
    campagne: str | None = None
    activation_deadline: datetime | None = None
    via_ent: bool = Field(
        default=False, description="created by a first login through the university's ENT (activated, no password)"
    )


class AccountActivationRequested(Event):
    """An activation link to mail: the welcome mail of a new account (`welcome`, with the campaign's
    name), or a new link the candidate asked for ("J'ai perdu mon code d'activation"). Private."""

    producer = "accounts"
    entity = "account"
    action = "activation_requested"
    private = True

    account_id: uuid.UUID
    numero_dossier: str
    email: str
    nom: str
    prenom: str
    activation: str
    activation_deadline: datetime
    welcome: bool = False
    campagne: str | None = None


class AccountActivated(Event):
    producer = "accounts"
    entity = "account"
    action = "activated"

    account_id: uuid.UUID
    numero_dossier: str


class AccountCredentialsRequested(Event):
    """Mail the numéro de dossier and a sealed reset token: the candidate forgot their credentials
    (`reason` "forgotten"), or someone tried to create an account with their address ("registration":
    the owner is told they already have an account)."""

    producer = "accounts"
    entity = "account"
    action = "credentials_requested"
    private = True

    account_id: uuid.UUID
    numero_dossier: str
    email: str
    nom: str
    prenom: str
    reset: str
    reset_expires_at: datetime
    reason: Literal["forgotten", "registration"] = "forgotten"


class AccountEntReminded(Event):
    """The account has no eCandidat password (created through the ENT): instead of a reset link,
    the mail tells its owner to log in with "Connexion via l'ENT" (`reason` as for the credentials)."""

    producer = "accounts"
    entity = "account"
    action = "ent_reminded"
    private = True

    account_id: uuid.UUID
    numero_dossier: str
    email: str
    nom: str
    prenom: str
    reason: Literal["forgotten", "registration"] = "forgotten"


class MailRequestReceived(Event):
    """Someone asked for a lost activation link or for forgotten credentials for an address (sealed):
    recorded before the request is answered, then handled by the accounts service itself, so that
    the answer neither waits for nor depends on whether the address has an account. Private."""

    producer = "accounts"
    entity = "mail_request"
    action = "received"
    private = True

    kind: Literal["activation", "credentials"]
    email: str


class AccountPasswordChanged(Event):
    """The password was reset; every session of the account was ended."""

    producer = "accounts"
    entity = "account"
    action = "password_changed"

    account_id: uuid.UUID
    numero_dossier: str
    email: str
    nom: str
    prenom: str


class AccountEmailChangeRequested(Event):
    """The candidate asked to use `new_email`; it replaces the old one once confirmed (sealed token)."""

    producer = "accounts"
    entity = "account"
    action = "email_change_requested"
    private = True

    account_id: uuid.UUID
    numero_dossier: str
    old_email: str
    new_email: str
    nom: str
    prenom: str
    confirmation: str
    confirmation_expires_at: datetime


class AccountEmailChanged(Event):
    producer = "accounts"
    entity = "account"
    action = "email_changed"

    account_id: uuid.UUID
    numero_dossier: str
    old_email: str
    new_email: str
    nom: str
    prenom: str


class AccountPurged(Event):
    """A candidate account was destroyed (not activated in time, or deleted by its owner): erase its data."""

    producer = "accounts"
    entity = "account"
    action = "purged"

    account_id: uuid.UUID
    numero_dossier: str
    motif: Literal["non_active", "suppression"] = Field(
        default="non_active",
        description="non_active: not activated before its deadline; suppression: deleted by the candidate",
    )


class AccountDeleted(Event):
    """The candidate deleted their account (and with it their dossier): the mail saying so, to the
    address the account had. Private: it names the address; integrators get `AccountPurged`."""

    producer = "accounts"
    entity = "account"
    action = "deleted"
    private = True

    account_id: uuid.UUID
    numero_dossier: str
    email: str
    nom: str
    prenom: str


class StaffAccountInvited(Event):
    """A staff account was created (or its credentials reset): mail the sealed set-password link. Private."""

    producer = "accounts"
    entity = "staff_account"
    action = "invited"
    private = True

    account_id: uuid.UUID
    email: str
    nom: str
    prenom: str
    roles: tuple[str, ...]
    setup: str
    setup_expires_at: datetime


# -- candidate rpc --------------------------------------------------------------------------------


class NewAccount(Message):
    """The account creation form."""

    nom: Name
    prenom: Name
    email: Email
    email_confirmation: str
    password: Password
    password_confirmation: str
    ine: Ine = None

    @field_validator("email_confirmation")
    @classmethod
    def _confirm_email(cls, value: str, info: ValidationInfo) -> str:
        if "email" in info.data and value.strip().lower() != info.data["email"].lower():
            raise ValueError("La confirmation ne correspond pas à l'adresse mail.")
        return value

    @field_validator("password_confirmation")
    @classmethod
    def _confirm_password(cls, value: str, info: ValidationInfo) -> str:
        return _same(value, info, "password", "La confirmation ne correspond pas au mot de passe.")


class CreateAccount(NewAccount, RpcRequest):
    """The form and the client address it came from (account creations are limited per address)."""

    service = "accounts"
    operation = "create_account"

    client: str = Field(default="", max_length=100)


class AccountCreatedReply(RpcReply):
    """The same answer, in the same shape, whether the address was new or already had an account
    (which is then mailed instead): the numéro and id of an address that had one identify nothing."""

    account_id: uuid.UUID
    numero_dossier: str
    email: str
    activation_deadline: datetime
    message: str


class ActivateAccount(RpcRequest):
    service = "accounts"
    operation = "activate_account"

    token: Token


class AccountActivatedReply(RpcReply):
    numero_dossier: str
    message: str


class ByEmail(Message):
    email: Email


class ResendActivation(ByEmail, RpcRequest):
    service = "accounts"
    operation = "resend_activation"


class RequestCredentials(ByEmail, RpcRequest):
    service = "accounts"
    operation = "request_credentials"


class Accepted(RpcReply):
    """The same answer whether or not something was done (no account enumeration)."""

    message: str


class NewPassword(Message):
    password: Password
    password_confirmation: str

    @field_validator("password_confirmation")
    @classmethod
    def _confirm_password(cls, value: str, info: ValidationInfo) -> str:
        return _same(value, info, "password", "La confirmation ne correspond pas au mot de passe.")


class ResetPassword(NewPassword, RpcRequest):
    service = "accounts"
    operation = "reset_password"

    token: Token


class Done(RpcReply):
    message: str


class Credentials(Message):
    """What a candidate types to log in: the numéro de dossier (or the email) and the password."""

    login: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class Login(Credentials, RpcRequest):
    service = "accounts"
    operation = "login"

    client: str = Field(default="", max_length=100)
    previous_token: str | None = Field(default=None, max_length=200)
    device: str | None = Field(default=None, max_length=200, description="the device cookie the client holds")


class SessionIssued(RpcReply):
    """A new session, and the device token that marks the client as a known device of the account
    (to keep in an HttpOnly cookie for `device_max_age` seconds)."""

    token: str
    expires_at: datetime
    idle_timeout: int
    principal: Principal
    device: str | None = None
    device_max_age: int | None = None


class ResolveSession(RpcRequest):
    service = "accounts"
    operation = "resolve_session"

    token: str = Field(max_length=200)


class Logout(RpcRequest):
    service = "accounts"
    operation = "logout"

    token: str = Field(max_length=200)


class ProlongSession(RpcRequest):
    """« Rester connecté » : the session's idle timeout starts again now (not its lifetime)."""

    service = "accounts"
    operation = "prolong_session"

    token: str = Field(max_length=200)


class SessionState(RpcReply):
    """When a session ends: `idle_expires_at` if nothing more is done, `expires_at` in any case."""

    idle_expires_at: datetime
    expires_at: datetime
    idle_timeout: int


class GetSessionPolicy(RpcRequest):
    service = "accounts"
    operation = "get_session_policy"


class SessionPolicy(RpcReply):
    """How long sessions last: `idle_timeout` seconds without a request, `lifetime` seconds in any case."""

    idle_timeout: int
    lifetime: int


class GetAccount(RpcRequest):
    service = "accounts"
    operation = "get_account"

    principal: Principal


class AccountView(RpcReply):
    account_id: uuid.UUID
    numero_dossier: str
    nom: str
    prenom: str
    email: str
    ine: str | None
    activated_at: datetime | None
    pending_email: str | None = None
    campagne: str
    mot_de_passe: bool = True  # false: created through the ENT, the account has no eCandidat password
    ent: bool = False  # linked to an ENT account


class NewEmail(Message):
    """Body of a change of email: the new address twice, and the password to prove it is the owner."""

    new_email: Email
    new_email_confirmation: str = Field(
        json_schema_extra={"format": "email", "maxLength": 254}, description="La même adresse que new_email"
    )
    password: str = Field(min_length=1, max_length=1024, description="Le mot de passe actuel du compte")

    @field_validator("new_email_confirmation")
    @classmethod
    def _confirm_email(cls, value: str, info: ValidationInfo) -> str:
        if "new_email" in info.data and value.strip().lower() != info.data["new_email"].lower():
            raise ValueError("La confirmation ne correspond pas à la nouvelle adresse mail.")
        return value


class ChangeEmail(NewEmail, RpcRequest):
    service = "accounts"
    operation = "change_email"

    principal: Principal


class AccountDeletion(Message):
    """Body of an account's deletion: proof that it is the owner — the password, or, for an account
    created through the ENT (which has none), the ticket the CAS server gave on a new login to the
    ENT (`POST /me/suppression/ent` gives that login page's address)."""

    password: str | None = Field(
        default=None, min_length=1, max_length=1024, description="Le mot de passe actuel du compte"
    )
    ent_ticket: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="Compte créé avec l'ENT : le ticket CAS du retour de la nouvelle connexion à l'ENT",
    )
    ent_etat: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{16,64}$",
        description="Avec `ent_ticket` : l'`etat` que `POST /me/suppression/ent` a donné (l'adresse de retour le porte)",
    )


class DeleteAccount(AccountDeletion, RpcRequest):
    """Delete the candidate's own account and dossier (the gateway first checks it has no candidature)."""

    service = "accounts"
    operation = "delete_account"

    principal: Principal
    # The service URL the ENT ticket was issued for (set by the gateway, never by the caller).
    ent_service_url: str | None = Field(default=None, max_length=2000)


class ConfirmEmail(RpcRequest):
    service = "accounts"
    operation = "confirm_email"

    token: Token


# -- staff rpc ------------------------------------------------------------------------------------


def _roles(value: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [r for r in value if r not in STAFF_ROLES]
    if unknown:
        raise ValueError(f"Rôle inconnu : {', '.join(unknown)} (rôles possibles : {', '.join(STAFF_ROLES)}).")
    if not value:
        raise ValueError("Au moins un rôle est obligatoire.")
    return tuple(dict.fromkeys(value))


_SCOPE = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


def _scopes(value: tuple[str, ...]) -> tuple[str, ...]:
    bad = [c for c in value if not _SCOPE.match(c)]
    if bad:
        raise ValueError("Un code doit compter de 1 à 40 lettres, chiffres, « - », « _ » ou « . ».")
    return tuple(dict.fromkeys(value))


Roles = Annotated[tuple[str, ...], AfterValidator(_roles)]
Scopes = Annotated[tuple[str, ...], Field(max_length=200), AfterValidator(_scopes)]


class StaffCredentials(Message):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    code: str = Field(min_length=1, max_length=64, description="code TOTP à 6 chiffres, ou un code de secours")


class StaffLogin(StaffCredentials, RpcRequest):
    service = "accounts"
    operation = "staff_login"

    client: str = Field(default="", max_length=100)
    previous_token: str | None = Field(default=None, max_length=200)
    device: str | None = Field(default=None, max_length=200, description="the device cookie the client holds")


class StaffSetup(NewPassword, RpcRequest):
    """First step of a staff account's set-up from the invitation link: choose the password."""

    service = "accounts"
    operation = "staff_setup"

    token: Token


class TotpEnrolment(RpcReply):
    totp_secret: str
    otpauth_uri: str
    message: str


class StaffSetupConfirm(RpcRequest):
    """Second step: prove the authenticator works; the account becomes usable."""

    service = "accounts"
    operation = "staff_setup_confirm"

    token: Token
    code: Code


class RecoveryCodes(RpcReply):
    recovery_codes: list[str]
    message: str


class SecondFactor(Message):
    code: Code


class RenewRecoveryCodes(SecondFactor, RpcRequest):
    service = "accounts"
    operation = "renew_recovery_codes"

    principal: Principal


class NewStaffAccount(Message):
    email: Email
    nom: Name
    prenom: Name
    roles: Roles
    centres: Scopes = ()
    commissions: Scopes = ()


class CreateStaffAccount(NewStaffAccount, RpcRequest):
    service = "accounts"
    operation = "create_staff_account"

    principal: Principal


class StaffAccountView(RpcReply):
    account_id: uuid.UUID
    email: str
    nom: str
    prenom: str
    roles: tuple[str, ...]
    centres: tuple[str, ...]
    commissions: tuple[str, ...]
    active: bool
    disabled: bool
    created_at: datetime


class StaffAccounts(RpcReply):
    items: list[StaffAccountView]


class ListStaffAccounts(RpcRequest):
    service = "accounts"
    operation = "list_staff_accounts"

    principal: Principal
    centre: str | None = Field(default=None, max_length=40)


class GetStaffAccount(RpcRequest):
    service = "accounts"
    operation = "get_staff_account"

    principal: Principal
    account_id: uuid.UUID


class StaffAccountChanges(Message):
    """What an admin may change; absent fields are left as they are."""

    roles: Roles | None = None
    centres: Scopes | None = None
    commissions: Scopes | None = None
    disabled: bool | None = None


class UpdateStaffAccount(StaffAccountChanges, RpcRequest):
    service = "accounts"
    operation = "update_staff_account"

    principal: Principal
    account_id: uuid.UUID


class ReinviteStaffAccount(RpcRequest):
    """Reset a staff member's password and authenticator and mail a new set-up link."""

    service = "accounts"
    operation = "reinvite_staff_account"

    principal: Principal
    account_id: uuid.UUID


class GetStaffMe(RpcRequest):
    service = "accounts"
    operation = "get_staff_me"

    principal: Principal


# -- ENT (CAS 3.0 single sign-on) -----------------------------------------------------------------


class EntStart(RpcRequest):
    """Where to send the browser for "Connexion via l'ENT": the CAS server's /login for this service URL."""

    service = "accounts"
    operation = "ent_start"

    service_url: str = Field(min_length=1, max_length=2000)
    # The ENT asks for the password again even within its single sign-on (CAS `renew`): the
    # confirmation of an account's deletion.
    renew: bool = False


class EntRedirect(RpcReply):
    login_url: str


class EntLogin(RpcRequest):
    """The ticket the CAS server gave the browser back, validated by the accounts service."""

    service = "accounts"
    operation = "ent_login"

    ticket: str = Field(min_length=1, max_length=256)
    service_url: str = Field(min_length=1, max_length=2000)
    client: str = Field(default="", max_length=100)
    previous_token: str | None = Field(default=None, max_length=200)
    device: str | None = Field(default=None, max_length=200)


class EntOutcome(RpcReply):
    """A session, or (`liaison`) the ENT's address is already that of an eCandidat account: its
    owner proves that account's password once (`EntLink`) and the two are linked."""

    session: SessionIssued | None = None
    liaison: str | None = None
    email: str | None = None


class EntLink(RpcRequest):
    service = "accounts"
    operation = "ent_link"

    liaison: Token
    password: str = Field(min_length=1, max_length=1024)
    client: str = Field(default="", max_length=100)
    previous_token: str | None = Field(default=None, max_length=200)
    device: str | None = Field(default=None, max_length=200)


class EntLogout(RpcRequest):
    """A CAS single-logout request: the `logoutRequest` XML the CAS server posts to the service URL."""

    service = "accounts"
    operation = "ent_logout"

    logout_request: str = Field(min_length=1, max_length=20_000)


class AccountLinkedToEnt(Event):
    """An existing candidate account was linked to the university's ENT (its owner proved the
    password); the INE the ENT released, if any, downloads the dossier."""

    producer = "accounts"
    entity = "account"
    action = "linked_to_ent"

    account_id: uuid.UUID
    numero_dossier: str
    ine: str | None = None
