"""Mails of the mailer's own events."""

from __future__ import annotations

from ecandidat.contracts.envelope import CloudEvent
from ecandidat.contracts.mailer import MailCheckRequested

from ..catalogue import Mail, MailContext, composes


@composes(MailCheckRequested)
def _mail_check(event: MailCheckRequested, meta: CloudEvent, ctx: MailContext) -> list[Mail]:
    return [
        Mail(
            template="mail_check",
            recipient=str(event.to),
            context={"requested_by": event.requested_by, "requested_at": meta.time, "base_url": ctx.public_base_url},
        )
    ]
