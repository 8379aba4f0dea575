"""Rpc bodies of the webhooks service: endpoints administrators register to receive events over
HTTP (Standard Webhooks), their delivery log, replays."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field, field_validator

from .base import Event, RpcReply, RpcRequest

ENDPOINT_STATUSES = ("active", "paused", "disabled")
Code = Field(default=None, min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]{1,40}$")


class NewEndpoint(RpcRequest):
    service = "webhooks"
    operation = "register_endpoint"

    url: str = Field(
        min_length=8, max_length=2000, description="L'adresse https:// (ou http://) qui reçoit les événements"
    )
    event_types: list[str] = Field(
        min_length=1,
        max_length=100,
        description="Les types d'événements voulus, ex. `candidatures.candidature.confirmed`",
    )
    centre_code: str | None = Code
    formation_code: str | None = Code
    description: str = Field(default="", max_length=200)
    created_by: str = Field(default="operator", max_length=200)

    @field_validator("event_types")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return sorted(set(value))


class Endpoint(RpcReply):
    id: uuid.UUID
    url: str
    event_types: list[str]
    centre_code: str | None
    formation_code: str | None
    description: str
    status: str
    created_by: str
    created_at: datetime
    failing_since: datetime | None
    disabled_at: datetime | None


class Endpoints(RpcReply):
    items: list[Endpoint]


class RegisteredEndpoint(RpcReply):
    """The endpoint and its signing secret, shown this once."""

    endpoint: Endpoint
    secret: str


class ListEndpoints(RpcRequest):
    service = "webhooks"
    operation = "list_endpoints"


class RotateSecret(RpcRequest):
    service = "webhooks"
    operation = "rotate_secret"

    endpoint_id: uuid.UUID


class NewSecret(RpcReply):
    """The new secret, shown this once; the previous one keeps signing beside it until `previous_valid_until`."""

    secret: str
    previous_valid_until: datetime


class SetEndpointStatus(RpcRequest):
    service = "webhooks"
    operation = "set_endpoint_status"

    endpoint_id: uuid.UUID
    status: str = Field(pattern="^(active|paused)$")


class DeleteEndpoint(RpcRequest):
    service = "webhooks"
    operation = "delete_endpoint"

    endpoint_id: uuid.UUID


class ListWebhookDeliveries(RpcRequest):
    service = "webhooks"
    operation = "list_deliveries"

    endpoint_id: uuid.UUID
    limit: int = Field(default=50, ge=1, le=500)


class WebhookDelivery(RpcReply):
    event_id: uuid.UUID
    event_type: str
    subject: str
    replay_id: uuid.UUID | None
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class WebhookDeliveries(RpcReply):
    items: list[WebhookDelivery]


class ReplayRange(RpcRequest):
    service = "webhooks"
    operation = "replay"

    endpoint_id: uuid.UUID
    since: datetime
    until: datetime


class ReplayQueued(RpcReply):
    replay_id: uuid.UUID


class WebhookEndpointDisabled(Event):
    """An endpoint kept failing past WEBHOOK_GIVE_UP_AFTER and was disabled; the administrator who
    registered it (`notify`) is mailed. Mailer-only: it names a person."""

    producer = "webhooks"
    entity = "endpoint"
    action = "disabled"
    private = True

    endpoint_id: uuid.UUID
    url: str
    notify: str = Field(max_length=200)
    failing_since: datetime
    last_error: str | None = None
