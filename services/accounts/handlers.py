"""Candidate accounts: creation, activation, lost links, password reset, change of email.

Each handler validates what it can before touching anything, hashes passwords outside any
transaction, and commits the state change and its event together.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from ecandidat.contracts.accounts import (
    Accepted,
    AccountActivated,
    AccountActivatedReply,
    AccountActivationRequested,
    AccountCreated,
    AccountCreatedReply,
    AccountCredentialsRequested,
    AccountEmailChanged,
    AccountEmailChangeRequested,
    AccountPasswordChanged,
    AccountView,
    ActivateAccount,
    ChangeEmail,
    ConfirmEmail,
    CreateAccount,
    Done,
    GetAccount,
    RequestCredentials,
    ResendActivation,
    ResetPassword,
)
from ecandidat.contracts.auth import Principal
from ecandidat.contracts.errors import Conflict, ErrorDetail, Forbidden, InvalidInput, NotFound
from ecandidat.runtime.outbox import add_event

from . import sessions, store
from .context import Deps, email_key
from .domain import LinkInvalid, check_password, new_token, token_hash

EMAIL_TAKEN = "Cette adresse mail est déjà utilisée par un compte eCandidat. Si c'est le vôtre, utilisez « J'ai oublié mes identifiants »."
RESEND_ANSWER = "Si un compte en attente d'activation correspond à cette adresse, un nouveau lien d'activation vient d'y être envoyé."
CREDENTIALS_ANSWER = "Si un compte correspond à cette adresse, un mail contenant votre identifiant et un lien pour choisir un nouveau mot de passe vient d'y être envoyé."


async def linked(
    conn: asyncpg.Connection, token: str, purpose: str, now: datetime, *, load=store.candidate, consume: bool = True
) -> tuple[asyncpg.Record, asyncpg.Record]:
    """The link token and its account (locked), or LinkInvalid: one answer for unknown, used and expired."""
    link = await store.find_token(conn, token_hash(token), purpose, now, consume=consume)
    account = link and await load(conn, link["account_id"], lock=True)
    if not account:
        raise LinkInvalid()
    return link, account


def _email_taken(field: str = "email") -> Conflict:
    return Conflict(EMAIL_TAKEN, details=[ErrorDetail(field=field, message=EMAIL_TAKEN, code="email_taken")])


async def create_account(deps: Deps, req: CreateAccount) -> AccountCreatedReply:
    s = deps.settings
    check_password(req.password, deps.common_passwords, context=(req.email,))
    async with deps.pool.acquire() as conn:
        if await store.candidate_by_email(conn, req.email):
            raise _email_taken()
    password_hash = await deps.passwords.hash(req.password)
    now = deps.now()
    deadline = deps.hours(s.accounts_activation_hours)
    account_id = uuid.uuid4()
    token = new_token()
    async with deps.pool.acquire() as conn:
        try:
            async with conn.transaction():
                numero = await store.issue_numero(conn, s.accounts_campaign_prefix, now)
                await store.insert_candidate(
                    conn, account_id=account_id, numero_dossier=numero, email=req.email, nom=req.nom,
                    prenom=req.prenom, ine=req.ine, password_hash=password_hash, created_at=now,
                    activation_deadline=deadline,
                )
                await store.replace_token(conn, account_id, "activation", token_hash(token), now, deadline)
                event = AccountCreated(
                    account_id=account_id, numero_dossier=numero, email=req.email, nom=req.nom, prenom=req.prenom,
                    ine=req.ine, campagne=s.accounts_campaign_label, activation_deadline=deadline,
                )
                await add_event(conn, event, subject=str(account_id), clock=deps.clock)
                welcome = AccountActivationRequested(
                    account_id=account_id, numero_dossier=numero, email=req.email, nom=req.nom, prenom=req.prenom,
                    activation=deps.sealer.seal(token), activation_deadline=deadline, welcome=True,
                    campagne=s.accounts_campaign_label,
                )
                await add_event(conn, welcome, subject=str(account_id), clock=deps.clock)
        except asyncpg.UniqueViolationError:  # the same address, created concurrently
            raise _email_taken() from None
    return AccountCreatedReply(
        account_id=account_id, numero_dossier=numero, email=req.email, activation_deadline=deadline,
        message="Votre compte a été créé avec succès, veuillez consulter vos courriels pour le valider.",
    )


async def activate_account(deps: Deps, req: ActivateAccount) -> AccountActivatedReply:
    now = deps.now()
    async with deps.pool.acquire() as conn:
        async with conn.transaction():
            _, account = await linked(conn, req.token, "activation", now)
            if account["activated_at"] is None:
                await store.update_candidate(conn, account["account_id"], activated_at=now)
                await add_event(
                    conn, AccountActivated(account_id=account["account_id"], numero_dossier=account["numero_dossier"]),
                    subject=str(account["account_id"]), clock=deps.clock,
                )
    return AccountActivatedReply(
        numero_dossier=account["numero_dossier"],
        message="Votre compte est activé. Vous pouvez vous connecter avec votre numéro de dossier et votre mot de passe.",
    )


async def _mail_request(conn: asyncpg.Connection, deps: Deps, email: str, kind: str) -> asyncpg.Record | None:
    """The account a lost-link request is about, or None when there is none or the address asked too often.

    Runs after the answer was sent (`Deps.after_answer`): the answer is the same, in the same time,
    whether or not the address has an account.
    """
    asked = await store.record_mail_request(conn, email_key(email), kind, deps.now())
    account = await store.candidate_by_email(conn, email)
    if asked > deps.settings.accounts_mail_requests_per_hour:
        return None
    return account


async def resend_activation(deps: Deps, req: ResendActivation) -> Accepted:
    await deps.after_answer(_resend_activation(deps, req.email))
    return Accepted(message=RESEND_ANSWER)


async def _resend_activation(deps: Deps, email: str) -> None:
    s = deps.settings
    now = deps.now()
    async with deps.pool.acquire() as conn:
        async with conn.transaction():
            account = await _mail_request(conn, deps, email, "activation")
            if account is not None and account["activated_at"] is None:
                token = new_token()
                deadline = deps.hours(s.accounts_activation_hours)
                await store.update_candidate(conn, account["account_id"], activation_deadline=deadline)
                await store.replace_token(conn, account["account_id"], "activation", token_hash(token), now, deadline)
                event = AccountActivationRequested(
                    account_id=account["account_id"], numero_dossier=account["numero_dossier"], email=account["email"],
                    nom=account["nom"], prenom=account["prenom"], activation=deps.sealer.seal(token),
                    activation_deadline=deadline,
                )
                await add_event(conn, event, subject=str(account["account_id"]), clock=deps.clock)


async def request_credentials(deps: Deps, req: RequestCredentials) -> Accepted:
    await deps.after_answer(_request_credentials(deps, req.email))
    return Accepted(message=CREDENTIALS_ANSWER)


async def _request_credentials(deps: Deps, email: str) -> None:
    now = deps.now()
    async with deps.pool.acquire() as conn:
        async with conn.transaction():
            account = await _mail_request(conn, deps, email, "credentials")
            if account is not None:
                token = new_token()
                expires = deps.hours(deps.settings.accounts_reset_hours)
                await store.replace_token(conn, account["account_id"], "reset", token_hash(token), now, expires)
                event = AccountCredentialsRequested(
                    account_id=account["account_id"], numero_dossier=account["numero_dossier"], email=account["email"],
                    nom=account["nom"], prenom=account["prenom"], reset=deps.sealer.seal(token), reset_expires_at=expires,
                )
                await add_event(conn, event, subject=str(account["account_id"]), clock=deps.clock)


async def reset_password(deps: Deps, req: ResetPassword) -> Done:
    async with deps.pool.acquire() as conn:  # a cheap look first: a forged token costs no password hash
        _, account = await linked(conn, req.token, "reset", deps.now(), consume=False)
    check_password(req.password, deps.common_passwords, context=(account["email"], account["numero_dossier"]))
    password_hash = await deps.passwords.hash(req.password)
    now = deps.now()
    async with deps.pool.acquire() as conn:
        async with conn.transaction():
            _, account = await linked(conn, req.token, "reset", now)
            account_id = account["account_id"]
            changes: dict[str, object] = {"password_hash": password_hash, "password_changed_at": now}
            if account["activated_at"] is None:  # the link proves the address: the account is activated too
                changes["activated_at"] = now
                await store.drop_tokens(conn, account_id, "activation")
                await add_event(conn, AccountActivated(account_id=account_id, numero_dossier=account["numero_dossier"]),
                                subject=str(account_id), clock=deps.clock)
            await store.update_candidate(conn, account_id, **changes)
            await store.end_sessions(conn, account_id)
            await sessions.forgive(conn, account_id)
            event = AccountPasswordChanged(
                account_id=account_id, numero_dossier=account["numero_dossier"], email=account["email"],
                nom=account["nom"], prenom=account["prenom"],
            )
            await add_event(conn, event, subject=str(account_id), clock=deps.clock)
    return Done(message="Votre mot de passe a été modifié. Vous pouvez vous connecter avec votre numéro de dossier et ce mot de passe.")


def _candidate_id(principal: Principal) -> uuid.UUID:
    if principal.realm != "candidate":
        raise Forbidden("Cette opération est réservée aux candidats.")
    return principal.account_id


async def get_account(deps: Deps, req: GetAccount) -> AccountView:
    async with deps.pool.acquire() as conn:
        account = await store.candidate(conn, _candidate_id(req.principal))
        pending = await conn.fetchval(
            "SELECT new_email FROM link_tokens WHERE account_id = $1 AND purpose = 'email' AND expires_at > $2",
            req.principal.account_id, deps.now(),
        )
    if account is None:
        raise NotFound("Ce compte n'existe plus.")
    return AccountView(
        account_id=account["account_id"], numero_dossier=account["numero_dossier"], nom=account["nom"],
        prenom=account["prenom"], email=account["email"], ine=account["ine"], activated_at=account["activated_at"],
        pending_email=pending, campagne=deps.settings.accounts_campaign_label,
    )


async def change_email(deps: Deps, req: ChangeEmail) -> Done:
    account_id = _candidate_id(req.principal)
    async with deps.pool.acquire() as conn:
        account = await store.candidate(conn, account_id)
        if account is None:
            raise NotFound("Ce compte n'existe plus.")
        if req.new_email.lower() == account["email"].lower():
            message = "Cette adresse est déjà celle de votre compte."
            raise InvalidInput(message, details=[ErrorDetail(field="new_email", message=message)])
        if await store.candidate_by_email(conn, req.new_email):
            raise _email_taken("new_email")
    await sessions.check_password_of(deps, account, req.password)
    now = deps.now()
    token = new_token()
    expires = deps.hours(deps.settings.accounts_email_confirm_hours)
    async with deps.pool.acquire() as conn:
        async with conn.transaction():
            await store.replace_token(conn, account_id, "email", token_hash(token), now, expires, new_email=req.new_email)
            await store.end_sessions(conn, account_id)
            event = AccountEmailChangeRequested(
                account_id=account_id, numero_dossier=account["numero_dossier"], old_email=account["email"],
                new_email=req.new_email, nom=account["nom"], prenom=account["prenom"],
                confirmation=deps.sealer.seal(token), confirmation_expires_at=expires,
            )
            await add_event(conn, event, subject=str(account_id), clock=deps.clock)
    return Done(message=(
        "Un lien de confirmation a été envoyé à votre nouvelle adresse. Vous avez été déconnecté : "
        "validez votre nouvelle adresse depuis ce lien, puis reconnectez-vous."
    ))


async def confirm_email(deps: Deps, req: ConfirmEmail) -> Done:
    now = deps.now()
    async with deps.pool.acquire() as conn:
        async with conn.transaction():
            link, account = await linked(conn, req.token, "email", now)
            other = await store.candidate_by_email(conn, link["new_email"])
            if other is not None and other["account_id"] != account["account_id"]:
                raise _email_taken("token")
            account_id = account["account_id"]
            await store.update_candidate(conn, account_id, email=link["new_email"])
            await store.end_sessions(conn, account_id)
            event = AccountEmailChanged(
                account_id=account_id, numero_dossier=account["numero_dossier"], old_email=account["email"],
                new_email=link["new_email"], nom=account["nom"], prenom=account["prenom"],
            )
            await add_event(conn, event, subject=str(account_id), clock=deps.clock)
    return Done(message="Votre nouvelle adresse mail est validée. Vous pouvez vous reconnecter.")
