"""Which events are mail-worthy, and the mails each one produces.

A composer turns an event into zero or more `Mail`s (template, recipient, context, attachments).
Adding a mail to the platform is adding a composer in `compose/<producer>.py` and its three templates
(`<template>.subject.j2`, `<template>.txt.j2`, `<template>.html.j2`).
"""

from __future__ import annotations

import importlib
import uuid
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ecandidat.contracts.base import Event
from ecandidat.contracts.envelope import CloudEvent


@dataclass(frozen=True)
class Attachment:
    """The letter of a decision, to attach: fetched from the documents service when the mail is
    sent (the mailer has no access to object storage)."""

    decision_id: str
    filename: str
    content_type: str = "application/pdf"


@dataclass(frozen=True)
class Mail:
    """One mail to send. A mail to a candidate names their `account_id` instead of an address:
    the address, names and numéro de dossier come from the mailer's directory at sending time
    (so an address changed since is used); `candidature_id` adds the candidature's formation,
    centre and date limite de retour to the context."""

    template: str
    recipient: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()
    account_id: uuid.UUID | None = None
    candidature_id: uuid.UUID | None = None
    # The recipient asked for a daily summary: the mail waits for it (`held_mails`) instead of
    # being sent alone; `summary` is the template of that summary.
    summary: str | None = None


@dataclass(frozen=True)
class MailContext:
    """What composers may use besides the event: settings that shape links and signatures.

    `unseal` opens the tokens that events carry sealed (LINK_SEALING_KEY, see ecandidat.runtime.sealing).
    """

    public_base_url: str
    unseal: Callable[[str], str] | None = None


Composer = Callable[[Any, CloudEvent, MailContext], list[Mail]]

CATALOGUE: dict[type[Event], Composer] = {}


def composes(model: type[Event]) -> Callable[[Composer], Composer]:
    def register(fn: Composer) -> Composer:
        if model in CATALOGUE:
            raise ValueError(f"{model.__name__} already has a composer")
        CATALOGUE[model] = fn
        return fn

    return register


def load() -> dict[type[Event], Composer]:
    """Import every composer module of `services.mailer.compose`; return the whole catalogue."""
    from . import compose

    for info in pkgutil.iter_modules(compose.__path__):
        importlib.import_module(f"{compose.__name__}.{info.name}")
    return CATALOGUE
