"""The `mailer.notifications` consumers: each mail-worthy event becomes queued deliveries."""

from __future__ import annotations

import asyncpg

from ecandidat.contracts.envelope import CloudEvent
from ecandidat.runtime.clock import Clock
from ecandidat.runtime.consumer import Subscription

from . import store
from .catalogue import Composer, MailContext, load
from .render import Renderer


def message_id(event: CloudEvent, index: int, domain: str) -> str:
    """Derived from the event id: a redelivered event can only ever produce the same Message-ID."""
    return f"<{event.id}.{index}@{domain}>"


def subscriptions(renderer: Renderer, ctx: MailContext, clock: Clock, domain: str) -> list[Subscription]:
    def handler_for(compose: Composer):
        async def handle(conn: asyncpg.Connection, body, meta: CloudEvent) -> None:
            for index, mail in enumerate(compose(body, meta, ctx)):
                rendered = renderer.render(mail.template, mail.context)
                await store.enqueue(
                    conn,
                    event_id=meta.id,
                    event_type=meta.type,
                    template=mail.template,
                    recipient=mail.recipient,
                    rendered=rendered,
                    attachments=mail.attachments,
                    message_id=message_id(meta, index, domain),
                    now=clock.now(),
                )

        return handle

    return [Subscription(model, handler_for(compose)) for model, compose in load().items()]
