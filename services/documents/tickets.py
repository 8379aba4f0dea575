"""Single-use, short-lived tickets for the internal HTTP endpoint (`views.py`): the rpc that checks
the right to upload or download hands one out (the `open_*` handlers here); the endpoint takes it
once. Only its SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from ecandidat.contracts.auth import Principal
from ecandidat.contracts.documents import (
    DownloadTicket,
    OpenDossierDownload,
    OpenLetterAttachment,
    OpenLetterDownload,
    OpenPieceDownload,
    OpenPieceUpload,
    OpenTemplateDownload,
    OpenTemplateUpload,
    UploadTicket,
)
from ecandidat.contracts.errors import NotFound, ServiceError
from ecandidat.runtime.logging import current_fields

from . import domain, handlers, store
from .context import Deps

NO_LETTER = (
    "Aucune lettre n'est disponible pour cette candidature : une lettre accompagne un avis "
    "favorable ou défavorable, une fois la décision validée."
)


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


# -- the rpcs that hand tickets out ----------------------------------------------------------------


async def _upload(deps: Deps, conn: asyncpg.Connection, kind: str, principal: Principal, **names: Any) -> UploadTicket:
    token, expires = await issue(conn, kind, principal, deps.now(), deps.settings.documents_ticket_ttl, **names)
    url = deps.ticket_url("uploads", token)
    return UploadTicket(url=url, expires_at=expires, max_size=deps.settings.documents_max_file_size)


async def _download(
    deps: Deps, conn: asyncpg.Connection, kind: str, principal: Principal | None, **names: Any
) -> DownloadTicket:
    token, expires = await issue(conn, kind, principal, deps.now(), deps.settings.documents_ticket_ttl, **names)
    return DownloadTicket(url=deps.ticket_url("downloads", token), expires_at=expires)


async def open_piece_upload(deps: Deps, req: OpenPieceUpload) -> UploadTicket:
    async with handlers.piece_change(deps, req.principal, req.candidature_id, req.slot_id) as piece:
        return await _upload(
            deps, piece.conn, "piece_upload", req.principal, candidature_id=req.candidature_id, slot_id=req.slot_id
        )


async def open_piece_download(deps: Deps, req: OpenPieceDownload) -> DownloadTicket:
    await handlers.ensure_candidature(deps, req.candidature_id)
    async with deps.pool.acquire() as conn, conn.transaction():
        await handlers.load_readable(conn, req.principal, req.candidature_id)
        slot = await store.slot_row(conn, req.candidature_id, req.slot_id)
        if slot is None:
            raise domain.not_found()
        if req.what == "fichier":
            if slot["file_key"] is None:
                raise NotFound("Aucun fichier n'est déposé pour cette pièce.")
            kind, piece_id = "piece_file", None
        else:
            if await store.template(conn, slot["piece_id"]) is None:
                raise domain.no_template()
            kind, piece_id = "template", slot["piece_id"]
        return await _download(
            deps, conn, kind, req.principal, candidature_id=req.candidature_id, slot_id=req.slot_id, piece_id=piece_id
        )


async def _candidature_download(deps: Deps, req: OpenDossierDownload | OpenLetterDownload, kind: str) -> DownloadTicket:
    """A download ticket for a file of the whole candidature, once the caller may read it (and,
    for the letter, the current decision has one)."""
    await handlers.ensure_candidature(deps, req.candidature_id)
    async with deps.pool.acquire() as conn, conn.transaction():
        await handlers.load_readable(conn, req.principal, req.candidature_id)
        if kind == "letter" and await store.current_letter(conn, req.candidature_id) is None:
            raise NotFound(NO_LETTER, reason="pas_de_lettre")
        # The request's id (bound in the logging context by the rpc server) is kept with the ticket.
        request_id = current_fields().get("request_id")
        return await _download(
            deps, conn, kind, req.principal, candidature_id=req.candidature_id, request_id=request_id
        )


async def open_dossier_download(deps: Deps, req: OpenDossierDownload) -> DownloadTicket:
    return await _candidature_download(deps, req, "dossier")


async def open_letter_download(deps: Deps, req: OpenLetterDownload) -> DownloadTicket:
    return await _candidature_download(deps, req, "letter")


async def open_letter_attachment(deps: Deps, req: OpenLetterAttachment) -> DownloadTicket:
    """For the mailer only (the bus refuses this subject to everyone else)."""
    async with deps.pool.acquire() as conn, conn.transaction():
        letter = await store.letter_of_decision(conn, req.decision_id)
        if letter is None:
            raise NotFound("Aucune lettre n'a été produite pour cette décision.", reason="pas_de_lettre")
        return await _download(
            deps,
            conn,
            "decision_letter",
            None,
            candidature_id=letter["candidature_id"],
            decision_id=str(req.decision_id),
        )


async def open_template_upload(deps: Deps, req: OpenTemplateUpload) -> UploadTicket:
    domain.check_template_editor(req.principal)
    async with deps.pool.acquire() as conn, conn.transaction():
        return await _upload(
            deps, conn, "template_upload", req.principal, piece_id=req.piece_id, libelle=req.libelle.strip()
        )


async def open_template_download(deps: Deps, req: OpenTemplateDownload) -> DownloadTicket:
    domain.check_staff(req.principal)
    async with deps.pool.acquire() as conn, conn.transaction():
        if await store.template(conn, req.piece_id) is None:
            raise domain.no_template()
        return await _download(deps, conn, "template", req.principal, piece_id=req.piece_id)
