"""Events and rpc bodies of the documents service (pièces justificatives, files, generated PDFs)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from .base import Event, RpcReply, RpcRequest


class _PieceFacts(Event):
    """Which piece of which candidature an event is about."""

    piece_slot_id: uuid.UUID
    piece_id: uuid.UUID
    candidature_id: uuid.UUID
    account_id: uuid.UUID
    libelle: str


class PieceDeposited(_PieceFacts):
    """A file was accepted for the piece (statut `transmise`)."""

    producer = "documents"
    entity = "piece"
    action = "deposited"

    file_name: str
    size: int
    sha256: str


class PieceDeleted(_PieceFacts):
    """The candidate removed the piece's file (statut back to `en_attente`)."""

    producer = "documents"
    entity = "piece"
    action = "deleted"


class PieceNotConcerned(_PieceFacts):
    """The candidate declared a conditional piece non concernée (`concerned=False`) or concernée again."""

    producer = "documents"
    entity = "piece"
    action = "not_concerned"

    concerned: bool = False


class PieceValidated(_PieceFacts):
    producer = "documents"
    entity = "piece"
    action = "validated"

    by: str
    at: datetime


class PieceRefused(_PieceFacts):
    """Staff refused the piece; the comment tells the candidate what to do."""

    producer = "documents"
    entity = "piece"
    action = "refused"

    by: str
    at: datetime
    comment: str


class MissingPiece(RpcReply):
    piece_id: uuid.UUID
    libelle: str
    statut: str


class FreezePieces(RpcRequest):
    """Asked by candidatures when a candidate transmits: atomically check that every piece is
    deposited, validated or non concernée and, if so, freeze them all so that no concurrent
    change can slip in. The freeze is provisional until `candidature.transmitted` arrives (or
    lapses at `until`, if the transmission did not commit)."""

    service = "documents"
    operation = "freeze_pieces"

    candidature_id: uuid.UUID
    until: datetime


class FreezeResult(RpcReply):
    frozen: bool
    missing: list[MissingPiece] = Field(default_factory=list)


class ReleasePieces(RpcRequest):
    """Lift a provisional freeze after a transmission that did not happen."""

    service = "documents"
    operation = "release_pieces"

    candidature_id: uuid.UUID
