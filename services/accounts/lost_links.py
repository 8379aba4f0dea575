"""Lost links: "J'ai perdu mon code d'activation" and "J'ai oublié mes identifiants".

The answer (202) is the same whether or not the address has an account, and it is given only once
the request is committed: in one transaction, the request is counted against the address's hourly
limit (ACCOUNTS_MAIL_REQUESTS_PER_HOUR, atomic under concurrent requests) and, within it, a
`MailRequestReceived` event carrying the address sealed goes to the outbox. The same work whatever
the address, so the answer's timing tells nothing either. The accounts service consumes that event
itself (`accounts.mail-requests`): it looks the address up and, for an account, issues the link and
commits the event the mailer turns into a mail. A crash after the answer delays the mail, never
loses it; a database that cannot commit gets a 503, never a 202.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg

from ecandidat.contracts.accounts import (
    Accepted,
    AccountActivationRequested,
    AccountCredentialsRequested,
    AccountEntReminded,
    MailRequestReceived,
    RequestCredentials,
    ResendActivation,
)
from ecandidat.contracts.envelope import CloudEvent
from ecandidat.runtime.consumer import PermanentFailure
from ecandidat.runtime.outbox import add_event
from ecandidat.runtime.sealing import SealError

from . import store
from .context import Deps
from .domain import new_token, person, token_hash

RESEND_ANSWER = "Si un compte en attente d'activation correspond à cette adresse, un nouveau lien d'activation vient d'y être envoyé."
CREDENTIALS_ANSWER = "Si un compte correspond à cette adresse, un mail contenant votre identifiant et un lien pour choisir un nouveau mot de passe vient d'y être envoyé."


async def resend_activation(deps: Deps, req: ResendActivation) -> Accepted:
    await _record(deps, req.email, "activation")
    return Accepted(message=RESEND_ANSWER)


async def request_credentials(deps: Deps, req: RequestCredentials) -> Accepted:
    await _record(deps, req.email, "credentials")
    return Accepted(message=CREDENTIALS_ANSWER)


async def mail_allowed(conn: asyncpg.Connection, deps: Deps, email: str, kind: str) -> bool:
    """Count a mail asked for `email` against its hourly limit; whether it may be sent."""
    granted, _ = await store.count_request(
        conn, store.limit_key("email", email), kind, deps.now(), per_hour=deps.settings.accounts_mail_requests_per_hour
    )
    return granted


async def _record(deps: Deps, email: str, kind: str) -> None:
    async with deps.pool.acquire() as conn:
        async with conn.transaction():
            if await mail_allowed(conn, deps, email, kind):
                await add_event(conn, MailRequestReceived(kind=kind, email=deps.sealer.seal(email)), clock=deps.clock)


async def mail_credentials(conn: asyncpg.Connection, deps: Deps, account: Mapping[str, Any], reason: str) -> None:
    """A new password-reset link for the account (the previous one stops working), mailed with its
    numéro de dossier; inside the caller's transaction. An account created through the ENT has no
    eCandidat password: its owner is told to log in with "Connexion via l'ENT" instead."""
    if account["password_hash"] is None and account["ent_uid"] is not None:
        reminder = AccountEntReminded(**person(account), reason=reason)
        await add_event(conn, reminder, subject=str(account["account_id"]), clock=deps.clock)
        return
    now = deps.now()
    token = new_token()
    expires = deps.hours(deps.settings.accounts_reset_hours)
    await store.replace_token(conn, account["account_id"], "reset", token_hash(token), now, expires)
    event = AccountCredentialsRequested(
        **person(account),
        reset=deps.sealer.seal(token),
        reset_expires_at=expires,
        reason=reason,
    )
    await add_event(conn, event, subject=str(account["account_id"]), clock=deps.clock)


async def mail_activation(
    conn: asyncpg.Connection, deps: Deps, account: Mapping[str, Any], deadline: datetime, *, welcome: bool = False
) -> None:
    """A new activation link (the previous one stops working), mailed with the numéro de dossier:
    the welcome mail of a new account, or the one asked for; inside the caller's transaction."""
    token = new_token()
    await store.replace_token(conn, account["account_id"], "activation", token_hash(token), deps.now(), deadline)
    event = AccountActivationRequested(
        **person(account),
        activation=deps.sealer.seal(token),
        activation_deadline=deadline,
        welcome=welcome,
        campagne=deps.settings.accounts_campaign_label if welcome else None,
    )
    await add_event(conn, event, subject=str(account["account_id"]), clock=deps.clock)


async def answer_mail_request(
    deps: Deps, conn: asyncpg.Connection, event: MailRequestReceived, meta: CloudEvent
) -> None:
    """A lost-link request, committed when it was answered: the mail, if the address has an account."""
    try:
        email = deps.sealer.unseal(event.email)
    except SealError:
        raise PermanentFailure("cannot unseal the address: LINK_SEALING_KEY changed since the request") from None
    account = await store.candidate_by_email(conn, email, lock=True)
    if account is None:
        return
    if event.kind == "credentials":
        await mail_credentials(conn, deps, account, reason="forgotten")
    elif account["activated_at"] is None:
        deadline = deps.hours(deps.settings.accounts_activation_hours)
        await store.update_candidate(conn, account["account_id"], activation_deadline=deadline)
        await mail_activation(conn, deps, account, deadline)
