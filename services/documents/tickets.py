"""Single-use, short-lived tickets for the internal HTTP endpoint: the rpc that checks the right
to upload or download hands one out; the endpoint takes it once. Only its SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from ecandidat.contracts.auth import Principal
from ecandidat.contracts.errors import ServiceError

from . import store


@dataclass(frozen=True)
class Ticket:
    kind: str
    principal: Principal | None  # None: asked by a service (the mailer), not on behalf of a person
    candidature_id: uuid.UUID | None
    slot_id: uuid.UUID | None
    piece_id: uuid.UUID | None
    extra: dict

    def on_behalf_of(self) -> Principal:
        """The person the ticket was handed to (a ticket of every kind but a service's has one)."""
        if self.principal is None:
            raise ServiceError("Ce lien n'est pas valable pour cette opération.", code="gone")
        return self.principal

    # The resource a ticket of its kind names (a kind of ticket names some of the three).
    @property
    def candidature(self) -> uuid.UUID:
        return _named(self.candidature_id)

    @property
    def slot(self) -> uuid.UUID:
        return _named(self.slot_id)

    @property
    def piece(self) -> uuid.UUID:
        return _named(self.piece_id)


def _named(value: uuid.UUID | None) -> uuid.UUID:
    if value is None:
        raise ServiceError("Ce lien ne désigne aucune ressource : recommencez l'opération.", code="gone")
    return value


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def issue(
    conn: asyncpg.Connection,
    kind: str,
    principal: Principal | None,
    now: datetime,
    ttl: float,
    *,
    candidature_id: uuid.UUID | None = None,
    slot_id: uuid.UUID | None = None,
    piece_id: uuid.UUID | None = None,
    **extra: str,
) -> tuple[str, datetime]:
    token = secrets.token_urlsafe(32)
    expires_at = now + timedelta(seconds=ttl)
    payload = {"principal": principal.model_dump(mode="json") if principal else None, **extra}
    await store.insert_ticket(
        conn, _hash(token), kind, payload, expires_at, candidature_id=candidature_id, slot_id=slot_id, piece_id=piece_id
    )
    return token, expires_at


async def take(pool: asyncpg.Pool, token: str, kinds: tuple[str, ...], now: datetime) -> Ticket:
    async with pool.acquire() as conn:
        row = await store.use_ticket(conn, _hash(token), kinds, now)
    if row is None:
        raise ServiceError(
            "Ce lien a expiré ou a déjà servi : recommencez l'opération depuis votre candidature.", code="gone"
        )
    payload = dict(row["payload"])
    who = payload.pop("principal")
    principal = Principal.model_validate(who) if who is not None else None
    return Ticket(row["kind"], principal, row["candidature_id"], row["slot_id"], row["piece_id"], payload)
