"""Events and rpc bodies of the accounts service."""

from __future__ import annotations

import uuid

from .base import Event


class AccountCreated(Event):
    """A candidate created an account (not activated yet)."""

    producer = "accounts"
    entity = "account"
    action = "created"

    account_id: uuid.UUID
    numero_dossier: str
    email: str
    nom: str
    prenom: str
    ine: str | None = None


class AccountPurged(Event):
    """A candidate account was destroyed (not activated in time, or erased): erase its data."""

    producer = "accounts"
    entity = "account"
    action = "purged"

    account_id: uuid.UUID
    numero_dossier: str
