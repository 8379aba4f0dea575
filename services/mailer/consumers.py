"""The mailer's consumers: `mailer.directory` keeps candidates' addresses and names and what each
candidature is for, from the events of the accounts and candidatures services (the mailer calls no
one); `mailer.notifications` turns each mail-worthy event into queued deliveries."""

from __future__ import annotations

import uuid

import asyncpg

from ecandidat.contracts.accounts import AccountCreated, AccountEmailChanged, AccountPurged
from ecandidat.contracts.candidatures import CandidatureCreated, CandidatureDeadlineChanged, CandidatureErased
from ecandidat.contracts.envelope import CloudEvent
from ecandidat.contracts.base import Event
from ecandidat.runtime import forgotten
from ecandidat.runtime.consumer import Subscription, subscription

from . import store
from .catalogue import CATALOGUE, Mail, load
from .context import Deps


def message_id(event: CloudEvent, index: int, domain: str) -> str:
    """Derived from the event id: a redelivered event can only ever produce the same Message-ID."""
    return message_id_of(event.id, index, domain)


def message_id_of(event_id: uuid.UUID, index: int, domain: str) -> str:
    return f"<{event_id}.{index}@{domain}>"


def notifications(deps: Deps) -> list[Subscription]:
    return [subscription(model, notify, deps, batch=notify_many) for model in load()]


async def notify(deps: Deps, conn: asyncpg.Connection, body: Event, meta: CloudEvent) -> None:
    """The event's mails (its composer in the catalogue, loaded by `notifications`), rendered and
    queued, or kept for their recipient's daily summary."""
    for index, mail in enumerate(CATALOGUE[type(body)](body, meta, deps.mail)):
        if mail.summary is not None:
            await _hold(deps, conn, meta, index, mail)
            continue
        recipient, context = await _address(conn, mail)
        rendered = deps.renderer.render(mail.template, context)
        await store.enqueue(
            conn,
            event_id=meta.id,
            event_type=meta.type,
            template=mail.template,
            recipient=recipient,
            rendered=rendered,
            attachments=mail.attachments,
            message_id=message_id(meta, index, deps.settings.mail_message_id_domain),
            now=deps.now(),
        )


async def notify_many(deps: Deps, conn: asyncpg.Connection, items: list[tuple[Event, CloudEvent]]) -> None:
    """`notify` for consecutive events of one type: their mails' directory entries in one query
    and the mails queued in one statement, instead of two statements a mail."""
    mails = []
    for body, meta in items:
        for index, mail in enumerate(CATALOGUE[type(body)](body, meta, deps.mail)):
            if mail.summary is not None:
                await _hold(deps, conn, meta, index, mail)
            else:
                mails.append((meta, index, mail))
    if not mails:
        return
    entries = await store.directory_entries(conn, [(m.account_id, m.candidature_id) for _, _, m in mails])
    queued = []
    for (meta, index, mail), entry in zip(mails, entries, strict=True):
        recipient, context = _complete(mail, entry)
        queued.append(
            store.Queued(
                event_id=meta.id,
                event_type=meta.type,
                template=mail.template,
                recipient=recipient,
                rendered=deps.renderer.render(mail.template, context),
                attachments=mail.attachments,
                message_id=message_id(meta, index, deps.settings.mail_message_id_domain),
            )
        )
    await store.enqueue_many(conn, queued, deps.now())


async def _hold(deps: Deps, conn: asyncpg.Connection, meta: CloudEvent, index: int, mail: Mail) -> None:
    """A mail for its recipient's daily summary (`jobs.send_summaries`), kept with what it says."""
    recipient, context = await _address(conn, mail)
    assert mail.summary is not None
    await store.hold(conn, meta.id, index, recipient, mail.summary, context, deps.now())


async def _address(conn: asyncpg.Connection, mail: Mail) -> tuple[str, dict]:
    """The recipient and the template context, completed from the directory (one query)."""
    entry = None
    if mail.account_id is not None or mail.candidature_id is not None:
        entry = await store.directory_entry(conn, mail.account_id, mail.candidature_id)
    return _complete(mail, entry)


def _complete(mail: Mail, entry: asyncpg.Record | None) -> tuple[str, dict]:
    """The recipient and the template context, from the mail and its directory entry."""
    context = dict(mail.context)
    recipient = mail.recipient
    if entry is not None and (mail.account_id is not None or mail.candidature_id is not None):
        if mail.account_id is not None:
            recipient = entry["email"]
            context.update(nom=entry["nom"], prenom=entry["prenom"], numero_dossier=entry["numero_dossier"])
        if mail.candidature_id is not None:
            context.update(
                formation=entry["formation_libelle"],
                centre=entry["centre_libelle"],
                date_limite_retour=entry["date_limite_retour"],
            )
    if not recipient:
        raise ValueError(f"mail {mail.template} has no recipient")
    return recipient, context


async def on_account_created(deps: Deps, conn: asyncpg.Connection, event: AccountCreated, meta: CloudEvent) -> None:
    await forgotten.hold_account(conn, event.account_id)
    if not await forgotten.is_forgotten(conn, event.account_id):  # a late event brings nothing back
        await store.add_contact(conn, event.account_id, event.numero_dossier, event.nom, event.prenom, event.email)


async def on_email_changed(deps: Deps, conn: asyncpg.Connection, event: AccountEmailChanged, meta: CloudEvent) -> None:
    await store.set_contact_email(
        conn, event.account_id, event.numero_dossier, event.nom, event.prenom, event.new_email
    )


async def on_account_purged(deps: Deps, conn: asyncpg.Connection, event: AccountPurged, meta: CloudEvent) -> None:
    await forgotten.hold_account(conn, event.account_id)
    await forgotten.forget(conn, "account", [event.account_id], deps.now())
    await store.forget_mails_to(conn, event.account_id)
    await store.forget_account(conn, event.account_id)


async def on_candidature_created(
    deps: Deps, conn: asyncpg.Connection, event: CandidatureCreated, meta: CloudEvent
) -> None:
    await forgotten.hold_account(conn, event.account_id)
    if await forgotten.is_forgotten(conn, event.account_id, event.candidature_id):
        return  # a late event brings nothing back
    await store.add_candidature(
        conn,
        event.candidature_id,
        event.account_id,
        event.formation_libelle,
        event.centre_libelle,
        event.date_limite_retour,
    )


async def on_deadline_changed(
    deps: Deps, conn: asyncpg.Connection, event: CandidatureDeadlineChanged, meta: CloudEvent
) -> None:
    await store.set_deadline(conn, event.candidature_id, event.date_limite_retour)


async def on_candidature_erased(
    deps: Deps, conn: asyncpg.Connection, event: CandidatureErased, meta: CloudEvent
) -> None:
    await forgotten.forget(conn, "candidature", [event.candidature_id], deps.now())
    await store.forget_candidature(conn, event.candidature_id)


def directory(deps: Deps) -> list[Subscription]:
    return [
        subscription(AccountCreated, on_account_created, deps),
        subscription(AccountEmailChanged, on_email_changed, deps),
        subscription(AccountPurged, on_account_purged, deps),
        subscription(CandidatureCreated, on_candidature_created, deps),
        subscription(CandidatureDeadlineChanged, on_deadline_changed, deps),
        subscription(CandidatureErased, on_candidature_erased, deps),
    ]
