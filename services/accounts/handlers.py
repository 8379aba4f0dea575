"""Candidate accounts: creation, activation, password reset, change of email (lost links: `lost_links.py`).

Each handler validates what it can before touching anything, hashes passwords outside any
transaction, and commits the state change and its event together.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from ecandidat.contracts.accounts import (
    AccountActivated,
    AccountActivatedReply,
    AccountCreated,
    AccountCreatedReply,
    AccountDeleted,
    AccountEmailChanged,
    AccountEmailChangeRequested,
    AccountPasswordChanged,
    AccountPurged,
    AccountView,
    ActivateAccount,
    ChangeEmail,
    ConfirmEmail,
    CreateAccount,
    DeleteAccount,
    Done,
    GetAccount,
    ResetPassword,
)
from ecandidat.contracts.auth import Principal
from ecandidat.contracts.errors import Conflict, ErrorDetail, Forbidden, InvalidInput, NotFound, ServiceError
from ecandidat.runtime.outbox import add_event

from . import ent, sessions, store, throttle
from .context import Deps
from .domain import LinkInvalid, check_password, new_token, person, token_hash
from .lost_links import mail_activation, mail_allowed, mail_credentials

EMAIL_TAKEN = "Cette adresse mail est déjà utilisée par un compte eCandidat. Si c'est le vôtre, utilisez « J'ai oublié mes identifiants »."
CREATED = "Votre compte a été créé avec succès, veuillez consulter vos courriels pour le valider."


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
    """Create the account, or, when the address already has one, mail its owner instead ("vous avez
    déjà un compte", with the numéro de dossier and a reset link) and answer exactly the same: the
    same status and body (a numéro issued for nothing, an id that names nothing), after the same
    work (the password is hashed, a numéro issued, a link and an event written either way)."""
    s = deps.settings
    check_password(req.password, deps.common_passwords, context=(req.email,))
    if req.client:
        await _limit_creations(deps, req.client)
    password_hash = await deps.passwords.hash(req.password)
    now = deps.now()
    deadline = deps.hours(s.accounts_activation_hours)
    account_id = uuid.uuid4()
    async with deps.pool.acquire() as conn:
        async with conn.transaction():
            may_mail = await mail_allowed(conn, deps, req.email, "registration")
            numero = await store.issue_numero(conn, s.accounts_campaign_prefix, now)
            candidate = dict(
                account_id=account_id,
                numero_dossier=numero,
                email=req.email,
                nom=req.nom,
                prenom=req.prenom,
                ine=req.ine,
                activation_deadline=deadline,
            )
            created = await store.insert_candidate(conn, **candidate, password_hash=password_hash, created_at=now)
            if created:
                event = AccountCreated(**candidate, campagne=s.accounts_campaign_label)
                await add_event(conn, event, subject=str(account_id), clock=deps.clock)
                await mail_activation(conn, deps, event.model_dump(), deadline, welcome=True)
            else:
                owner = await store.candidate_by_email(conn, req.email, lock=True)
                if may_mail and owner is not None:
                    await mail_credentials(conn, deps, owner, reason="registration")
    return AccountCreatedReply(
        account_id=account_id, numero_dossier=numero, email=req.email, activation_deadline=deadline, message=CREATED
    )


async def _limit_creations(deps: Deps, client: str) -> None:
    """At most ACCOUNTS_CREATIONS_PER_HOUR_CLIENT creations per client address and hour."""
    async with deps.pool.acquire() as conn:
        async with conn.transaction():
            granted, wait = await store.count_request(
                conn,
                store.limit_key("client", client),
                "creation",
                deps.now(),
                per_hour=deps.settings.accounts_creations_per_hour_client,
            )
    if not granted:
        minutes = max(1, round(wait / 60 + 0.5))
        raise ServiceError(
            f"Trop de comptes ont été créés depuis votre adresse réseau. Veuillez réessayer dans {minutes} minute"
            f"{'s' if minutes > 1 else ''}.",
            code="too_many_requests",
            retry_after=max(1, round(wait + 0.5)),
        )


async def activate_account(deps: Deps, req: ActivateAccount) -> AccountActivatedReply:
    now = deps.now()
    async with deps.pool.acquire() as conn:
        async with conn.transaction():
            _, account = await linked(conn, req.token, "activation", now)
            if account["activated_at"] is None:
                await store.update_candidate(conn, account["account_id"], activated_at=now)
                await add_event(
                    conn,
                    AccountActivated(account_id=account["account_id"], numero_dossier=account["numero_dossier"]),
                    subject=str(account["account_id"]),
                    clock=deps.clock,
                )
    return AccountActivatedReply(
        numero_dossier=account["numero_dossier"],
        message="Votre compte est activé. Vous pouvez vous connecter avec votre numéro de dossier et votre mot de passe.",
    )


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
                await add_event(
                    conn,
                    AccountActivated(account_id=account_id, numero_dossier=account["numero_dossier"]),
                    subject=str(account_id),
                    clock=deps.clock,
                )
            await store.update_candidate(conn, account_id, **changes)
            await store.end_sessions(conn, account_id)
            await throttle.forgive_account(conn, account_id)
            event = AccountPasswordChanged(**person(account))
            await add_event(conn, event, subject=str(account_id), clock=deps.clock)
    return Done(
        message="Votre mot de passe a été modifié. Vous pouvez vous connecter avec votre numéro de dossier et ce mot de passe."
    )


def _candidate_id(principal: Principal) -> uuid.UUID:
    if principal.realm != "candidate":
        raise Forbidden("Cette opération est réservée aux candidats.")
    return principal.account_id


async def get_account(deps: Deps, req: GetAccount) -> AccountView:
    async with deps.pool.acquire() as conn:
        account = await store.candidate_with_pending_email(conn, _candidate_id(req.principal), deps.now())
    if account is None:
        raise NotFound("Ce compte n'existe plus.")
    return AccountView(
        **person(account),
        ine=account["ine"],
        activated_at=account["activated_at"],
        pending_email=account["pending_new_email"],
        campagne=deps.settings.accounts_campaign_label,
        mot_de_passe=account["password_hash"] is not None,
        ent=account["ent_uid"] is not None,
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
            await store.replace_token(
                conn, account_id, "email", token_hash(token), now, expires, new_email=req.new_email
            )
            await store.end_sessions(conn, account_id)
            event = AccountEmailChangeRequested(
                account_id=account_id,
                numero_dossier=account["numero_dossier"],
                old_email=account["email"],
                new_email=req.new_email,
                nom=account["nom"],
                prenom=account["prenom"],
                confirmation=deps.sealer.seal(token),
                confirmation_expires_at=expires,
            )
            await add_event(conn, event, subject=str(account_id), clock=deps.clock)
    return Done(
        message=(
            "Un lien de confirmation a été envoyé à votre nouvelle adresse. Vous avez été déconnecté : "
            "validez votre nouvelle adresse depuis ce lien, puis reconnectez-vous."
        )
    )


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
                account_id=account_id,
                numero_dossier=account["numero_dossier"],
                old_email=account["email"],
                new_email=link["new_email"],
                nom=account["nom"],
                prenom=account["prenom"],
            )
            await add_event(conn, event, subject=str(account_id), clock=deps.clock)
    return Done(message="Votre nouvelle adresse mail est validée. Vous pouvez vous reconnecter.")


async def delete_account(deps: Deps, req: DeleteAccount) -> Done:
    """The candidate's own account, deleted after their password is checked again: the account goes
    now (its sessions with it), `account.purged` has every service erase what it holds of it (the
    dossier, the mailer's directory), and the candidate gets a mail saying so."""
    account_id = _candidate_id(req.principal)
    async with deps.pool.acquire() as conn:
        account = await store.candidate(conn, account_id)
    if account is None:
        raise NotFound("Ce compte n'existe plus.")
    if req.ent_ticket:
        await ent.ent_identity_confirmed(deps, account, req.ent_service_url, req.ent_ticket)
    elif account["password_hash"] is None:  # created through the ENT: no password to check again
        message = (
            "Votre compte a été créé avec l'ENT de l'université : il n'a pas de mot de passe eCandidat. "
            "Confirmez la suppression en vous connectant de nouveau à l'ENT."
        )
        raise InvalidInput(message, details=[ErrorDetail(field="password", message=message)])
    elif not req.password:
        message = "Saisissez votre mot de passe actuel."
        raise InvalidInput(message, details=[ErrorDetail(field="password", message=message)])
    else:
        await sessions.check_password_of(deps, account, req.password)
    async with deps.pool.acquire() as conn:
        async with conn.transaction():
            deleted = await store.delete_candidate(conn, account_id)
            if deleted is None:
                raise NotFound("Ce compte n'existe plus.")
            facts = {"account_id": account_id, "numero_dossier": deleted["numero_dossier"]}
            farewell = AccountDeleted(**facts, email=deleted["email"], nom=deleted["nom"], prenom=deleted["prenom"])
            await add_event(conn, farewell, subject=str(account_id), clock=deps.clock)
            await add_event(
                conn, AccountPurged(**facts, motif="suppression"), subject=str(account_id), clock=deps.clock
            )
    return Done(message="Votre compte et votre dossier sont supprimés. Un mail vous le confirme.")
