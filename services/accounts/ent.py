"""Connexion via l'ENT: the university's CAS 3.0 server vouches for the person.

- `ent_start`: the CAS /login URL for the service URL (refused when ENT login is off).
- `ent_login`: the ticket is validated with the CAS server (`cas.py`); then
  - an account already linked to this ENT id: a session;
  - no account with the ENT's address: the account is created, activated at once (the ENT vouches
    for the address: no activation mail), without an eCandidat password; `account.created`
    (`via_ent`, with the INE the ENT released) downloads the dossier from the student records;
  - an account with that address, not linked: `liaison`, a short-lived token; its owner proves
    the account's password once (`ent_link`), the account is linked (`account.linked_to_ent`).
  Nothing is written before the ticket is validated, and each case is one transaction.
- `ent_logout`: a CAS single-logout request ends the session opened with the ticket it names.

Sessions are opened exactly as the password login opens them (`sessions.open_session`), with the
service ticket (hashed) kept beside them for the single logout.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import aiohttp
import asyncpg

from ecandidat.contracts.accounts import (
    AccountActivated,
    AccountCreated,
    AccountLinkedToEnt,
    Done,
    EntLink,
    EntLogin,
    EntLogout,
    EntOutcome,
    EntRedirect,
    EntStart,
    SessionIssued,
)
from ecandidat.contracts.auth import Principal
from ecandidat.contracts.errors import Conflict, ErrorDetail, Forbidden, InvalidInput, NotFound, Unauthenticated
from ecandidat.runtime.outbox import add_event

from . import cas, sessions, store, throttle
from .context import Deps
from .domain import candidate_principal, new_token, token_hash

ENT_OFF = "La connexion via l'ENT n'est pas proposée par cet établissement."
LINK_GONE = "Cette demande de liaison avec l'ENT a expiré. Cliquez de nouveau sur « Connexion via l'ENT »."
OTHER_ENT = (
    "Le compte eCandidat qui porte cette adresse mail est déjà lié à un autre compte ENT. Contactez l'assistance."
)
_INE = re.compile(r"^[0-9A-Z]{11}$")


def _enabled(deps: Deps) -> tuple[str, aiohttp.ClientSession]:
    """The CAS server's URL and the session to it; ENT login off is a 404."""
    if not deps.settings.ent_enabled or not deps.settings.ent_cas_url or deps.http is None:
        raise NotFound(ENT_OFF, code="not_found")
    return deps.settings.ent_cas_url, deps.http


def _ine(raw: str | None) -> str | None:
    """The INE as released (spaces removed, upper case) when it has an INE's shape, else None."""
    value = re.sub(r"\s+", "", raw or "").upper()
    return value if _INE.match(value) else None


async def ent_start(deps: Deps, req: EntStart) -> EntRedirect:
    cas_url, http = _enabled(deps)
    await cas.check_reachable(deps.settings, http)
    return EntRedirect(login_url=cas.login_url(cas_url, req.service_url, renew=req.renew))


async def ent_identity_confirmed(deps: Deps, account: asyncpg.Record, service_url: str | None, ticket: str) -> None:
    """The person proved again, on a new login to the ENT (CAS `renew`), that they are the ENT
    account this eCandidat account is linked to; refused otherwise."""
    _, http = _enabled(deps)
    if account["ent_uid"] is None:
        message = "Votre compte n'est pas lié à l'ENT : confirmez avec votre mot de passe."
        raise InvalidInput(message, details=[ErrorDetail(field="password", message=message)])
    if not service_url:
        message = "Le ticket de l'ENT va avec l'« etat » que la demande de confirmation a donné : envoyez-le aussi."
        raise InvalidInput(message, details=[ErrorDetail(field="ent_etat", message=message)])
    try:
        identity = await cas.validate(deps.settings, http, service_url, ticket, renew=True)
    except Unauthenticated:  # the session is not in question: the confirmation is
        message = (
            "Votre nouvelle connexion à l'ENT n'a pas pu être validée (ticket refusé, expiré ou déjà utilisé) : "
            "rien n'est supprimé. Recommencez."
        )
        raise InvalidInput(message, details=[ErrorDetail(field="ent_ticket", message=message)]) from None
    if identity.uid != account["ent_uid"]:
        message = (
            "Vous vous êtes connecté à l'ENT avec un autre compte que celui lié à ce compte eCandidat : "
            "rien n'est supprimé."
        )
        raise Forbidden(message)


async def ent_login(deps: Deps, req: EntLogin) -> EntOutcome:
    _, http = _enabled(deps)
    identity = await cas.validate(deps.settings, http, req.service_url, req.ticket)
    ine = _ine(identity.ine)
    for attempt in range(2):
        try:
            found = await _account_of(deps, identity, ine, token_hash(req.ticket))
            break
        except asyncpg.UniqueViolationError:  # the same person's two first logins at once: the other one won
            if attempt:
                raise
    if isinstance(found, EntOutcome):
        return found
    account = found
    principal = candidate_principal(account)
    return EntOutcome(
        session=await _open(deps, principal, req.client, req.device, req.previous_token, token_hash(req.ticket))
    )


async def _account_of(deps: Deps, identity: cas.CasIdentity, ine: str | None, ticket_hash: bytes):
    """The account linked to the ENT id, or the one created for it now, or (`EntOutcome` with
    `liaison`) the existing account with the same address waiting for its password; one transaction."""
    now = deps.now()
    async with deps.pool.acquire() as conn:
        async with conn.transaction():
            account = await store.candidate_by_ent_uid(conn, identity.uid, lock=True)
            if account is not None:
                return account
            owner = await store.candidate_by_email(conn, identity.email, lock=True)
            if owner is None:
                return await _create(conn, deps, identity, ine)
            if owner["ent_uid"] == identity.uid:
                # The same person's other first login committed between the two reads: their account.
                return owner
            if owner["ent_uid"] is not None:
                raise Conflict(
                    OTHER_ENT, details=[ErrorDetail(field="ticket", message=OTHER_ENT, code="ent_other_account")]
                )
            token = new_token()
            await store.replace_ent_link(
                conn,
                token_hash(token),
                owner["account_id"],
                identity.uid,
                ine,
                ticket_hash,
                now,
                now + timedelta(minutes=deps.settings.ent_link_minutes),
            )
            return EntOutcome(liaison=token, email=owner["email"])


async def _create(conn, deps: Deps, identity: cas.CasIdentity, ine: str | None):
    s = deps.settings
    now = deps.now()
    account_id = uuid.uuid4()
    numero = await store.issue_numero(conn, s.accounts_campaign_prefix, now)
    created = dict(
        account_id=account_id,
        numero_dossier=numero,
        email=identity.email,
        nom=identity.nom[:100],
        prenom=identity.prenom[:100],
        ine=ine,
    )
    await store.insert(
        conn,
        "candidates",
        dict(
            created,
            password_hash=None,
            created_at=now,
            activation_deadline=now,
            activated_at=now,
            ent_uid=identity.uid,
        ),
    )
    await add_event(
        conn,
        AccountCreated(**created, campagne=s.accounts_campaign_label, via_ent=True),
        subject=str(account_id),
        clock=deps.clock,
    )
    await add_event(
        conn, AccountActivated(account_id=account_id, numero_dossier=numero), subject=str(account_id), clock=deps.clock
    )
    return await store.candidate(conn, account_id)


async def _open(
    deps: Deps, principal: Principal, client: str, device: str | None, previous: str | None, ticket_hash: bytes
) -> SessionIssued:
    attempt = throttle.Attempt(f"pair:{principal.account_id}:{client}", device=device)
    return await sessions.open_session(deps, principal, attempt, client, previous, ent_ticket_hash=ticket_hash)


async def ent_link(deps: Deps, req: EntLink) -> SessionIssued:
    _enabled(deps)
    async with deps.pool.acquire() as conn:
        link = await store.ent_link(conn, token_hash(req.liaison), deps.now())
        account = link and await store.candidate(conn, link["account_id"])
    if not link or not account:
        raise InvalidInput(LINK_GONE, code="gone", details=[ErrorDetail(field="liaison", message=LINK_GONE)])
    await sessions.check_password_of(deps, account, req.password)
    async with deps.pool.acquire() as conn:
        async with conn.transaction():
            link = await store.take_ent_link(conn, token_hash(req.liaison), deps.now())
            if link is None:
                raise InvalidInput(LINK_GONE, code="gone", details=[ErrorDetail(field="liaison", message=LINK_GONE)])
            taken = await store.candidate_by_ent_uid(conn, link["ent_uid"])
            if taken is not None and taken["account_id"] != account["account_id"]:
                raise Conflict(OTHER_ENT)
            changes: dict[str, object] = {"ent_uid": link["ent_uid"]}
            if account["activated_at"] is None:  # the ENT vouches for the address
                changes["activated_at"] = deps.now()
                await store.drop_tokens(conn, account["account_id"], "activation")
                await add_event(
                    conn,
                    AccountActivated(account_id=account["account_id"], numero_dossier=account["numero_dossier"]),
                    subject=str(account["account_id"]),
                    clock=deps.clock,
                )
            if link["ine"] and not account["ine"]:
                changes["ine"] = link["ine"]
            await store.update_candidate(conn, account["account_id"], **changes)
            await add_event(
                conn,
                AccountLinkedToEnt(
                    account_id=account["account_id"], numero_dossier=account["numero_dossier"], ine=link["ine"]
                ),
                subject=str(account["account_id"]),
                clock=deps.clock,
            )
    principal = candidate_principal(account)
    return await _open(deps, principal, req.client, req.device, req.previous_token, link["ticket_hash"])


async def ent_logout(deps: Deps, req: EntLogout) -> Done:
    ticket = cas.logout_session_index(req.logout_request)
    if ticket is None:
        message = "Requête de déconnexion unique (CAS) illisible."
        raise InvalidInput(message, code="bad_request", details=[ErrorDetail(field="logoutRequest", message=message)])
    async with deps.pool.acquire() as conn:
        await store.end_ent_sessions(conn, token_hash(ticket))
    return Done(message="Vous êtes déconnecté.")


def http_session(deps: Deps) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=deps.settings.ent_timeout), trust_env=False)
