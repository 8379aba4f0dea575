"""Events and rpc bodies of the mailer service."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import EmailStr, Field

from .base import Event, RpcReply, RpcRequest


class MailCheckRequested(Event):
    """An operator asked to check the mail configuration by sending a mail to `to`."""

    producer = "mailer"
    entity = "mail_check"
    action = "requested"

    to: EmailStr
    requested_by: str = Field(max_length=200)


class SendMailCheck(RpcRequest):
    service = "mailer"
    operation = "send_mail_check"

    to: EmailStr
    requested_by: str = Field(default="operator", max_length=200)


class MailCheckQueued(RpcReply):
    event_id: uuid.UUID


class ListDeliveries(RpcRequest):
    service = "mailer"
    operation = "list_deliveries"

    status: str | None = Field(default=None, pattern="^(pending|sent|failed)$")
    recipient: str | None = Field(default=None, max_length=320)
    limit: int = Field(default=50, ge=1, le=500)


class Delivery(RpcReply):
    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    template: str
    recipient: str
    subject: str
    message_id: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None


class Deliveries(RpcReply):
    items: list[Delivery]
