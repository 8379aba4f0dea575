"""Which events are mail-worthy, and the mails each one produces.

A composer turns an event into zero or more `Mail`s (template, recipient, context, attachments).
Adding a mail to the platform is adding a composer here and its three templates
(`<template>.subject.j2`, `<template>.txt.j2`, `<template>.html.j2`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ecandidat.contracts.base import Event
from ecandidat.contracts.envelope import CloudEvent
from ecandidat.contracts.mailer import MailCheckRequested


@dataclass(frozen=True)
class Attachment:
    """A file in object storage to attach."""

    bucket: str
    key: str
    filename: str
    content_type: str = "application/pdf"


@dataclass(frozen=True)
class Mail:
    template: str
    recipient: str
    context: dict[str, Any] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class MailContext:
    """What composers may use besides the event: settings that shape links and signatures."""

    public_base_url: str


Composer = Callable[[Any, CloudEvent, MailContext], list[Mail]]

CATALOGUE: dict[type[Event], Composer] = {}


def composes(model: type[Event]) -> Callable[[Composer], Composer]:
    def register(fn: Composer) -> Composer:
        if model in CATALOGUE:
            raise ValueError(f"{model.__name__} already has a composer")
        CATALOGUE[model] = fn
        return fn

    return register


@composes(MailCheckRequested)
def _mail_check(event: MailCheckRequested, meta: CloudEvent, ctx: MailContext) -> list[Mail]:
    return [
        Mail(
            template="mail_check",
            recipient=str(event.to),
            context={"requested_by": event.requested_by, "requested_at": meta.time, "base_url": ctx.public_base_url},
        )
    ]
