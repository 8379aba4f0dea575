"""The `mailer.notifications` consumers: each mail-worthy event becomes queued deliveries."""

from __future__ import annotations

import asyncpg

from ecandidat.contracts.envelope import CloudEvent
from ecandidat.runtime.clock import Clock
from ecandidat.runtime.consumer import Subscription

from . import store
from . import directory
from .catalogue import Composer, Mail, MailContext, load
from .render import Renderer


def message_id(event: CloudEvent, index: int, domain: str) -> str:
    """Derived from the event id: a redelivered event can only ever produce the same Message-ID."""
    return f"<{event.id}.{index}@{domain}>"


def subscriptions(renderer: Renderer, ctx: MailContext, clock: Clock, domain: str) -> list[Subscription]:
    def handler_for(compose: Composer):
        async def handle(conn: asyncpg.Connection, body, meta: CloudEvent) -> None:
            for index, mail in enumerate(compose(body, meta, ctx)):
                recipient, context = await _address(conn, mail)
                rendered = renderer.render(mail.template, context)
                await store.enqueue(
                    conn,
                    event_id=meta.id,
                    event_type=meta.type,
                    template=mail.template,
                    recipient=recipient,
                    rendered=rendered,
                    attachments=mail.attachments,
                    message_id=message_id(meta, index, domain),
                    now=clock.now(),
                )

        return handle

    return [Subscription(model, handler_for(compose)) for model, compose in load().items()]


async def _address(conn: asyncpg.Connection, mail: Mail) -> tuple[str, dict]:
    """The recipient and the template context, completed from the directory."""
    context = dict(mail.context)
    recipient = mail.recipient
    if mail.account_id is not None:
        who = await directory.contact(conn, mail.account_id)
        recipient = who["email"]
        context.update(nom=who["nom"], prenom=who["prenom"], numero_dossier=who["numero_dossier"])
    if mail.candidature_id is not None:
        what = await directory.candidature(conn, mail.candidature_id)
        context.update(
            formation=what["formation_libelle"],
            centre=what["centre_libelle"],
            date_limite_retour=what["date_limite_retour"],
        )
    if not recipient:
        raise ValueError(f"mail {mail.template} has no recipient")
    return recipient, context
