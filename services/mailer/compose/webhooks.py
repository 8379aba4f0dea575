"""Mails of the webhooks service's events: the administrator of a disabled endpoint is told."""

from __future__ import annotations

from ecandidat.contracts.envelope import CloudEvent
from ecandidat.contracts.webhooks import WebhookEndpointDisabled

from ..catalogue import Mail, MailContext, composes


@composes(WebhookEndpointDisabled)
def _endpoint_disabled(event: WebhookEndpointDisabled, meta: CloudEvent, ctx: MailContext) -> list[Mail]:
    if "@" not in event.notify:  # registered by an operator tool, not by a person with an address
        return []
    return [
        Mail(
            template="webhook_disabled",
            recipient=event.notify,
            context={
                "url": event.url,
                "endpoint_id": str(event.endpoint_id),
                "failing_since": event.failing_since,
                "disabled_at": meta.time,
                "last_error": event.last_error,
                "base_url": ctx.public_base_url,
            },
        )
    ]
