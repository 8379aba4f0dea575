"""Events and rpc bodies of the candidatures service (campaigns, offer, candidatures)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import Field

from .base import Event, Message


class RequiredPiece(Message):
    """A pièce justificative a new candidature must provide (or declare non concernée)."""

    piece_id: uuid.UUID
    code: str
    libelle: str
    ordre: int
    conditionnelle: bool = False
    has_template: bool = False


class _CandidatureFacts(Event):
    """What every candidature event says about whose candidature, to which formation."""

    candidature_id: uuid.UUID
    account_id: uuid.UUID
    numero_dossier: str
    formation_code: str
    formation_libelle: str
    centre_code: str


class CandidatureCreated(_CandidatureFacts):
    """A candidate applied to a formation; the candidature waits for its pieces (`en_attente`)."""

    producer = "candidatures"
    entity = "candidature"
    action = "created"

    commission_code: str | None = None
    centre_libelle: str
    type_traitement: str
    date_limite_retour: date
    campagne_libelle: str
    pieces: list[RequiredPiece] = Field(default_factory=list)


class CandidatureCancelled(_CandidatureFacts):
    """The candidate cancelled the candidature (definitive)."""

    producer = "candidatures"
    entity = "candidature"
    action = "cancelled"

    cancelled_at: datetime


class CandidatureTransmitted(_CandidatureFacts):
    """The candidate transmitted the candidature: statut du dossier `receptionne`."""

    producer = "candidatures"
    entity = "candidature"
    action = "transmitted"

    received_at: datetime
    centre_libelle: str


class CandidatureStatusChanged(_CandidatureFacts):
    """The statut du dossier changed (by transmission, review, or staff)."""

    producer = "candidatures"
    entity = "candidature"
    action = "status_changed"

    old_status: str
    new_status: str
    changed_at: datetime
    comment: str | None = None


# -- rpc: the candidate's side ------------------------------------------------------------------

from .auth import Principal  # noqa: E402
from .base import RpcReply, RpcRequest  # noqa: E402


class ContactAddress(RpcReply):
    libelle: str
    adresse: str
    mail: str | None = None


class CandidatureView(RpcReply):
    """The guide's "Récapitulatif de votre candidature"."""

    id: uuid.UUID
    account_id: uuid.UUID
    numero_dossier: str
    formation_code: str
    formation_libelle: str
    type_diplome: str
    centre_code: str
    centre_libelle: str
    commission_code: str | None = None
    campagne_libelle: str
    statut: str
    statut_libelle: str
    statut_date: datetime | None = None
    type_traitement: str
    type_traitement_libelle: str
    type_traitement_valide: bool
    decision: str | None = None
    decision_libelle: str = "En attente"
    date_limite_retour: date
    date_reception: datetime | None = None
    created_at: datetime
    cancelled_at: datetime | None = None
    contact: ContactAddress
    can_cancel: bool = False
    can_transmit: bool = False
    can_change_pieces: bool = False


class GetCandidature(RpcRequest):
    """One candidature, for its owner or for staff whose scope covers it."""

    service = "candidatures"
    operation = "get_candidature"

    principal: Principal
    candidature_id: uuid.UUID
