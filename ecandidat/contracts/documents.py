"""Events and rpc bodies of the documents service (pièces justificatives, files, generated PDFs)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

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
    # The candidature was transmitted (its dossier becomes `incomplet`: the candidate replaces the
    # piece and transmits again) or not yet (the candidate deposits another file, then transmits).
    candidature_transmise: bool = True


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


class GetPiecesReadiness(RpcRequest):
    """Asked by candidatures to tell a candidate whether the candidature can be transmitted now:
    the pieces that would stop a transmission, by the very rule `freeze_pieces` applies."""

    service = "documents"
    operation = "pieces_readiness"

    candidature_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)


class PiecesReadiness(RpcReply):
    candidature_id: uuid.UUID
    # False while the candidature's pieces are not open yet (its `candidature.created` is on its way).
    known: bool
    missing: list[MissingPiece] = Field(default_factory=list)


class PiecesReadinessList(RpcReply):
    items: list[PiecesReadiness]


class ReleasePieces(RpcRequest):
    """Lift a provisional freeze after a transmission that did not happen."""

    service = "documents"
    operation = "release_pieces"

    candidature_id: uuid.UUID


# -- the candidate's pieces ---------------------------------------------------------------------

from typing import Literal  # noqa: E402

from .auth import Principal  # noqa: E402

PieceStatut = Literal["en_attente", "transmise", "validee", "refusee", "non_concerne"]


class PieceView(RpcReply):
    """One line of the guide's "Pièces justificatives" table."""

    slot_id: uuid.UUID
    piece_id: uuid.UUID
    code: str
    libelle: str
    ordre: int
    conditionnelle: bool
    statut: PieceStatut
    statut_libelle: str
    file_name: str | None = None
    content_type: str | None = None
    size: int | None = None
    sha256: str | None = None
    deposited_at: datetime | None = None
    comment: str | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    has_template: bool = False
    can_change: bool = False
    can_declare_non_concerne: bool = False


class CandidaturePieces(RpcReply):
    candidature_id: uuid.UUID
    numero_dossier: str
    formation_libelle: str
    date_limite_retour: date
    can_change: bool
    items: list[PieceView] = Field(default_factory=list)


class _OnCandidature(RpcRequest):
    principal: Principal
    candidature_id: uuid.UUID


class _OnSlot(_OnCandidature):
    slot_id: uuid.UUID


class ListPieces(_OnCandidature):
    """The pieces of a candidature, for its owner or for staff whose scope covers it."""

    service = "documents"
    operation = "list_pieces"


class OpenPieceUpload(_OnSlot):
    """Check that the candidate may deposit a file for the piece and hand out a single-use upload
    ticket: the bytes then go over HTTP to the documents service, never over NATS."""

    service = "documents"
    operation = "open_piece_upload"


class UploadTicket(RpcReply):
    url: str
    expires_at: datetime
    max_size: int


class DeletePieceFile(_OnSlot):
    service = "documents"
    operation = "delete_piece_file"


class SetPieceConcerned(_OnSlot):
    """Declare a conditional piece non concernée (`concerned=False`) or concernée again."""

    service = "documents"
    operation = "set_piece_concerned"

    concerned: bool


class OpenPieceDownload(_OnSlot):
    """A single-use link to the piece's file (`what="fichier"`) or to its template (`"modele"`)."""

    service = "documents"
    operation = "open_piece_download"

    what: Literal["fichier", "modele"] = "fichier"


class OpenDossierDownload(_OnCandidature):
    """A single-use link to the candidature PDF ("Télécharger mon dossier"), generated on request."""

    service = "documents"
    operation = "open_dossier_download"


class OpenLetterDownload(_OnCandidature):
    """A single-use link to the letter of the candidature's current decision (admission or
    refusal), for its candidate or for staff whose scope covers it."""

    service = "documents"
    operation = "open_letter_download"


class OpenLetterAttachment(RpcRequest):
    """The letter of one decision, for the mailer to attach to that decision's mail (an internal
    rpc: the bus lets only the mailer call it). The mailer fetches the file with the ticket from
    the documents service's HTTP endpoint: it holds no storage credentials."""

    service = "documents"
    operation = "open_letter_attachment"

    decision_id: uuid.UUID


class DownloadTicket(RpcReply):
    url: str
    expires_at: datetime


# -- staff: templates and review -----------------------------------------------------------------


class OpenTemplateUpload(RpcRequest):
    """Staff (admin, scolarité) deposit the fillable PDF of a piece ("Fiche client" …)."""

    service = "documents"
    operation = "open_template_upload"

    principal: Principal
    piece_id: uuid.UUID
    libelle: str = Field(default="", max_length=300)


class OpenTemplateDownload(RpcRequest):
    service = "documents"
    operation = "open_template_download"

    principal: Principal
    piece_id: uuid.UUID


class DeleteTemplate(RpcRequest):
    service = "documents"
    operation = "delete_template"

    principal: Principal
    piece_id: uuid.UUID


class TemplateView(RpcReply):
    piece_id: uuid.UUID
    libelle: str
    file_name: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime


class ReviewPiece(_OnSlot):
    """A gestionnaire validates the piece or refuses it with a comment (who and when are kept)."""

    service = "documents"
    operation = "review_piece"

    decision: Literal["validee", "refusee"]
    commentaire: str = Field(default="", max_length=2000)


def file_too_large_message(max_size: int) -> str:
    """The refusal of a file over the limit, said the same by the gateway and the service."""
    return (
        f"Le fichier dépasse {max_size // (1024 * 1024)} Mo : compressez-le (par exemple avec un outil de "
        "compression PDF) puis déposez-le à nouveau."
    )


class LetterGenerated(Event):
    """The admission or refusal letter of a validated decision is ready in object storage; the
    mailer sends the decision mail with it attached."""

    producer = "documents"
    entity = "letter"
    action = "generated"

    candidature_id: uuid.UUID
    account_id: uuid.UUID
    decision_id: uuid.UUID
    kind: str
    bucket: str
    key: str
    filename: str
    formation_libelle: str
    motif: str | None = None
    commentaire: str | None = None
    confirmation_deadline: datetime | None = None
    automatic: bool = False
    origine: str | None = None
    signataire_nom: str | None = None
    signataire_qualite: str | None = None
