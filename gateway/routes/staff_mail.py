"""Operators' mail tools: send a test mail through the whole chain, read the delivery log."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from ecandidat.contracts.access import ADMINS
from ecandidat.contracts.mailer import Deliveries, ListDeliveries, MailCheckQueued, SendMailCheck

from ..api import PRINCIPAL, Api, parse_body, parse_query, relay


class MailCheckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: EmailStr


class DeliveriesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: str | None = Field(default=None, pattern="^(pending|sent|failed)$")
    recipient: str | None = Field(default=None, max_length=320)
    limit: int = Field(default=50, ge=1, le=500)


def register(api: Api) -> None:
    @api.route(
        "POST",
        "/api/v1/staff/mail/test",
        summary="Tester la configuration des mails (envoi d'un mail de test)",
        tag="exploitation",
        body=MailCheckBody,
        response=MailCheckQueued,
        status=202,
        realm="staff",
        roles=ADMINS,
    )
    async def staff_mail_test(request: web.Request) -> web.Response:
        body = await parse_body(request, MailCheckBody)
        return await relay(request, SendMailCheck(to=body.to, requested_by=request[PRINCIPAL].email), status=202)

    @api.route(
        "GET",
        "/api/v1/staff/mail/deliveries",
        summary="Journal des envois de mails (dont les échecs)",
        tag="exploitation",
        query=DeliveriesQuery,
        response=Deliveries,
        realm="staff",
        roles=ADMINS,
    )
    async def list_mail_deliveries(request: web.Request) -> web.Response:
        q = parse_query(request, DeliveriesQuery)
        return await relay(request, ListDeliveries(**q.model_dump()))
