"""Events and rpc bodies of the candidatures service (campaigns, offer, candidatures)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, Field, ValidationInfo, create_model, field_validator

from .accounts import Email
from .base import Event, Message
from .dossiers import RubriqueExigible


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
    # The candidature's revision (its row version) after this change: a projection applies an
    # event about the candidature's state only when it is newer than what it holds (events may come
    # out of order when a consumer retries one).
    revision: int = 0


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
    # The exact instant the date limite de retour ends (the end of `date_limite_retour` in Paris,
    # later when an incident extended it).
    limite_retour: datetime | None = None


class CandidatureCancelled(_CandidatureFacts):
    """The candidate cancelled the candidature (definitive)."""

    producer = "candidatures"
    entity = "candidature"
    action = "cancelled"

    cancelled_at: datetime


class CandidatureErased(_CandidatureFacts):
    """The candidature is destroyed, with its history, pieces and letters: its campaign was
    archived longer ago than the platform keeps candidatures (CANDIDATURES_RETENTION_DAYS).
    Erase what you hold about it."""

    producer = "candidatures"
    entity = "candidature"
    action = "erased"

    campagne_code: str
    motif: Literal["conservation_echue"] = "conservation_echue"


class CandidatureTransmitted(_CandidatureFacts):
    """The candidate transmitted the candidature: statut du dossier `receptionne`."""

    producer = "candidatures"
    entity = "candidature"
    action = "transmitted"

    received_at: datetime
    centre_libelle: str


class CandidatureDeadlineChanged(_CandidatureFacts):
    """The candidature's date limite de retour changed: its formation's date moved (and the
    candidature follows it), staff set the candidature's own date, or an incident extended every
    open deadline of the campaign. Who did it, when and why are in the candidature's history."""

    producer = "candidatures"
    entity = "candidature"
    action = "deadline_changed"

    date_limite_retour: date  # the last day
    limite_retour: datetime  # the exact instant it ends
    ancienne_limite_retour: datetime
    cause: Literal["formation", "candidature", "incident"]
    motif: str | None = None
    # The candidate can still act on it (statut en_attente or incomplet, not cancelled): they are told.
    ouverte: bool


class CandidatureStatusChanged(_CandidatureFacts):
    """The statut du dossier changed (by transmission, review, or staff)."""

    producer = "candidatures"
    entity = "candidature"
    action = "status_changed"

    old_status: str
    new_status: str
    changed_at: datetime
    comment: str | None = None
    # Why it changed: `staff` (a gestionnaire set it) or `piece_refusee` (a refused piece made
    # the dossier incomplete; the candidate is told by the piece's own mail).
    cause: str = "staff"


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
    # The exact instant it ends (the end of that day in Paris, later when an incident extended it).
    limite_retour: datetime
    date_reception: datetime | None = None
    created_at: datetime
    cancelled_at: datetime | None = None
    contact: ContactAddress
    decision_motif: str | None = None
    decision_rang: int | None = None
    decision_commentaire: str | None = None
    preselection: str | None = None
    confirmation_deadline: datetime | None = None
    confirmed_at: datetime | None = None
    withdrawn_at: datetime | None = None
    can_cancel: bool = False
    can_transmit: bool = False
    can_change_pieces: bool = False
    can_confirm: bool = False
    can_withdraw: bool = False
    # The dossier's sections its formation requires that the dossier lacks now (emptied since the
    # candidate applied): the transmission waits for them, as it waits for the pieces.
    rubriques_a_completer: list[str] = []
    # Those sections could not be checked now (the dossiers service did not answer): the
    # transmission waits for the check, and the candidate is told so rather than asked for pieces.
    verification_indisponible: bool = False


class GetCandidature(RpcRequest):
    """One candidature, for its owner or for staff whose scope covers it."""

    service = "candidatures"
    operation = "get_candidature"

    principal: Principal
    candidature_id: uuid.UUID


class GetSuivi(RpcRequest):
    """A candidature's history as its candidate reads it ("Suivi de ma candidature"): creation,
    transmission, each statut, each piece validated or refused (with the comment), the validated
    decision, the answer, the deadline's changes. Never the staff's notes, a decision not validated
    yet, nor which member of the staff acted."""

    service = "candidatures"
    operation = "get_suivi"

    principal: Principal
    candidature_id: uuid.UUID


EtapeKind = Literal[
    "creee",
    "transmise",
    "statut",
    "piece_validee",
    "piece_refusee",
    "decision",
    "rang_liste_complementaire",
    "confirmee",
    "desistement",
    "annulee",
    "date_limite_retour",
]


class EtapeSuivi(RpcReply):
    at: datetime
    etape: EtapeKind
    libelle: str = Field(description="The step in the guide's words, in French")
    statut: str | None = Field(default=None, description="etape statut: the new statut's code")
    decision: str | None = Field(default=None, description="etape decision: the decision's code")
    piece: str | None = Field(default=None, description="etapes piece_*: the piece's name")
    commentaire: str | None = Field(default=None, description="the staff's comment shown to the candidate")
    rang: int | None = Field(default=None, description="etape rang_liste_complementaire: the new rank")
    date_limite_retour: date | None = Field(default=None, description="etape date_limite_retour: the new last day")


class Suivi(RpcReply):
    candidature_id: uuid.UUID
    etapes: list[EtapeSuivi]


class ListMyCandidatures(RpcRequest):
    service = "candidatures"
    operation = "list_my_candidatures"

    principal: Principal


class CandidatureList(RpcReply):
    items: list[CandidatureView]


class Apply(RpcRequest):
    """ "Voulez-vous candidater à la formation X ?" — Oui."""

    service = "candidatures"
    operation = "apply"

    principal: Principal
    formation_code: str = Field(min_length=1, max_length=40)


class CancelCandidature(RpcRequest):
    service = "candidatures"
    operation = "cancel"

    principal: Principal
    candidature_id: uuid.UUID


class TransmitCandidature(RpcRequest):
    service = "candidatures"
    operation = "transmit"

    principal: Principal
    candidature_id: uuid.UUID


class GetCandidatureFacts(RpcRequest):
    """Asked by a service that keeps its own view of candidatures when a candidature's events have
    not reached it yet (read-your-writes: the candidate opens the candidature the instant the 201
    arrives): the facts of `candidature.created`, as they are now."""

    service = "candidatures"
    operation = "get_candidature_facts"

    candidature_id: uuid.UUID


class CandidatureFacts(RpcReply):
    created: CandidatureCreated
    statut: str
    cancelled: bool


# -- rpc: the offer ---------------------------------------------------------------------------

_CODE = r"^[A-Za-z0-9_-]{1,40}$"


class OfferFormation(RpcReply):
    code: str
    libelle: str
    type_traitement: str
    type_traitement_libelle: str
    depot_debut: date
    depot_fin: date
    date_limite_retour: date
    capacite: int | None = None
    # The dossier's optional sections this formation requires (none: all optional).
    rubriques_exigees: list[RubriqueExigible] = Field(default_factory=list)


class OfferType(RpcReply):
    code: str
    libelle: str
    formations: list[OfferFormation]


class OfferCentre(RpcReply):
    code: str
    libelle: str
    contact: ContactAddress
    types: list[OfferType]


class OfferTree(RpcReply):
    """Centre → type de diplôme → formation, with only what is open now."""

    campagne: str | None
    centres: list[OfferCentre]


class GetOfferTree(RpcRequest):
    service = "candidatures"
    operation = "offer_tree"


class SaveCampagne(RpcRequest):
    service = "candidatures"
    operation = "save_campagne"

    principal: Principal
    code: str = Field(pattern=_CODE)
    libelle: str = Field(min_length=1, max_length=200)
    debut: date
    fin: date
    prefix: str = Field(pattern=r"^[0-9A-Z]{2}$")
    en_service: bool = False


class SaveCentre(RpcRequest):
    service = "candidatures"
    operation = "save_centre"

    principal: Principal
    code: str = Field(pattern=_CODE)
    libelle: str = Field(min_length=1, max_length=300)
    contact_libelle: str = Field(min_length=1, max_length=200)
    contact_adresse: str = Field(min_length=1, max_length=500)
    contact_mail: str | None = Field(default=None, max_length=320)
    max_candidatures: int = Field(default=20, ge=1, le=100)
    ordre: int = Field(default=0, ge=0, le=100000, description="Rang d'affichage")
    # Who signs the admission and refusal letters (and the mails that go with them).
    signataire_nom: str | None = Field(default=None, max_length=200)
    signataire_qualite: str | None = Field(default=None, max_length=300)


class SaveTypeDiplome(RpcRequest):
    service = "candidatures"
    operation = "save_type_diplome"

    principal: Principal
    code: str = Field(pattern=_CODE)
    libelle: str = Field(min_length=1, max_length=200)
    ordre: int = Field(default=0, ge=0, le=100000, description="Rang d'affichage")


# What a commission may ask to be told of by mail, as its candidatures change (`CommissionAlerted`).
AlerteCommission = Literal["transmission", "annulation", "desistement", "promotion"]
# How a commission receives its alerts: a mail per change, or one summary a day of the day's changes.
FrequenceAlertes = Literal["immediate", "quotidienne"]


class SaveCommission(RpcRequest):
    service = "candidatures"
    operation = "save_commission"

    principal: Principal
    code: str = Field(pattern=_CODE)
    libelle: str = Field(min_length=1, max_length=200)
    centre_code: str = Field(pattern=_CODE)
    email: Email | None = Field(default=None, description="Adresse mail de la commission, où vont ses alertes")
    alertes: list[AlerteCommission] = Field(
        default_factory=list,
        max_length=4,
        description="Ce dont la commission est alertée par mail : candidature transmise, annulée, "
        "désistement, promotion depuis la liste complémentaire",
    )
    alertes_frequence: FrequenceAlertes = Field(
        default="immediate",
        description="`immediate` : un mail par changement ; `quotidienne` : un récapitulatif chaque matin "
        "des changements depuis le précédent",
    )

    @field_validator("alertes")
    @classmethod
    def _alertes_to_a_mailbox(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if value and "email" in info.data and not info.data["email"]:
            raise ValueError("Indiquez l'adresse mail de la commission : ses alertes y sont envoyées.")
        return sorted(set(value))


class SaveFormation(RpcRequest):
    service = "candidatures"
    operation = "save_formation"

    principal: Principal
    code: str = Field(pattern=_CODE)
    libelle: str = Field(min_length=1, max_length=300)
    centre_code: str = Field(pattern=_CODE)
    type_code: str = Field(pattern=_CODE)
    commission_code: str | None = Field(default=None, pattern=_CODE)
    type_traitement: str = Field(pattern="^(acces_controle|acces_direct)$")
    capacite: int | None = Field(default=None, ge=0, le=100000)
    depot_debut: date
    depot_fin: date
    date_retour: date
    date_confirmation: date | None = None
    delai_confirmation_jours: int | None = Field(default=None, ge=1, le=365)
    date_jury: date | None = None
    date_publication: date | None = None
    ouverte: bool = True
    # What an admitted candidate does once they confirmed (named in the admission letter and in the
    # confirmation mail); the centre's contact when empty.
    modalites_inscription: str | None = Field(default=None, max_length=4000)
    # The formation's own signatory of the letters, instead of the centre's.
    signataire_nom: str | None = Field(default=None, max_length=200)
    signataire_qualite: str | None = Field(default=None, max_length=300)
    # The dossier's optional sections (cursus externe, stages, expériences professionnelles) an
    # application to this formation requires; none by default, as for the DAEU.
    rubriques_exigees: list[RubriqueExigible] = Field(default_factory=list)

    @field_validator("rubriques_exigees")
    @classmethod
    def _once_each(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class SavePiece(RpcRequest):
    service = "candidatures"
    operation = "save_piece"

    principal: Principal
    code: str = Field(pattern=_CODE)
    libelle: str = Field(min_length=1, max_length=500)
    ordre: int = Field(default=0, ge=0, le=100000, description="Rang d'affichage")
    niveau: str = Field(pattern="^(etablissement|centre|formation)$")
    centre_code: str | None = Field(default=None, pattern=_CODE)
    formation_code: str | None = Field(default=None, pattern=_CODE)
    conditionnelle: bool = False
    unique_par_candidature: bool = True
    has_template: bool = False
    types_traitement: list[str] = Field(default_factory=list, max_length=2)


# The DSFR's illustrative colours a tag may take (`fr-tag--<couleur>`).
COULEURS_ETIQUETTE = (
    "green-tilleul-verveine",
    "green-bourgeon",
    "green-emeraude",
    "green-menthe",
    "green-archipel",
    "blue-ecume",
    "blue-cumulus",
    "purple-glycine",
    "pink-macaron",
    "pink-tuile",
    "yellow-tournesol",
    "yellow-moutarde",
    "orange-terre-battue",
    "brown-cafe-creme",
    "brown-caramel",
    "brown-opera",
    "beige-gris-galet",
)


class SaveEtiquette(RpcRequest):
    """An étiquette the staff put on candidatures to sort their work (« À revoir », « Dossier
    prioritaire »…): the same for the whole establishment. An archived one stays on the
    candidatures that have it and is no longer offered."""

    service = "candidatures"
    operation = "save_etiquette"

    principal: Principal
    code: str = Field(pattern=_CODE)
    libelle: str = Field(min_length=1, max_length=60)
    couleur: str = Field(default="blue-ecume", pattern="^(" + "|".join(COULEURS_ETIQUETTE) + ")$")
    ordre: int = Field(default=0, ge=0, le=100000, description="Rang d'affichage")
    archivee: bool = False


class Saved(RpcReply):
    code: str
    created: bool
    id: uuid.UUID | None = None


def _record(model: type[RpcRequest], name: str, doc: str, **extra: object) -> type[RpcReply]:
    """The saved row of one resource of the offer: the fields its `Save…` request writes."""
    fields = {n: (f.annotation, f) for n, f in model.model_fields.items() if n != "principal"}
    return create_model(name, __base__=RpcReply, __doc__=doc, **fields, **extra)  # type: ignore[call-overload]


CampagneRecord = _record(
    SaveCampagne,
    "CampagneRecord",
    "A campaign as saved; once out of service, when it was archived and when its candidatures are (or were) destroyed.",
    archivee_le=(datetime | None, None),
    destruction_prevue=(datetime | None, None),
    detruite_le=(datetime | None, None),
)
CentreRecord = _record(SaveCentre, "CentreRecord", "A centre de candidature as saved.")
TypeDiplomeRecord = _record(SaveTypeDiplome, "TypeDiplomeRecord", "A type de diplôme as saved.")
CommissionRecord = _record(SaveCommission, "CommissionRecord", "A commission as saved.")
FormationRecord = _record(SaveFormation, "FormationRecord", "A formation as saved (open or not).")
PieceRecord = _record(
    SavePiece, "PieceRecord", "A pièce justificative as saved, with its id (its template's key).", id=(uuid.UUID, ...)
)


class EtiquetteRecord(RpcReply):
    """An étiquette as saved."""

    code: str
    libelle: str
    couleur: str
    ordre: int
    archivee: bool


class GetEtiquettes(RpcRequest):
    """The étiquettes, archived ones included, in their order (any staff)."""

    service = "candidatures"
    operation = "get_etiquettes"

    principal: Principal


class Etiquettes(RpcReply):
    items: list[EtiquetteRecord]


class SetEtiquettes(RpcRequest):
    """The étiquettes of one candidature, all of them (an empty list takes them all off)."""

    service = "candidatures"
    operation = "set_etiquettes"

    principal: Principal
    candidature_id: uuid.UUID
    etiquettes: list[str] = Field(max_length=20)


class EtiquettesSet(RpcReply):
    etiquettes: list[str]


# -- staff workflow: events --------------------------------------------------------------------

from datetime import time  # noqa: E402


class DecisionValidated(_CandidatureFacts):
    """A decision was validated: it is now visible to the candidate (mail; letter for favorable
    and défavorable, generated by the documents service)."""

    producer = "candidatures"
    entity = "decision"
    action = "validated"

    decision_id: uuid.UUID
    kind: str
    motif: str | None = None
    rang: int | None = None
    preselection_date: date | None = None
    preselection_heure: time | None = None
    preselection_lieu: str | None = None
    commentaire: str | None = None
    confirmation_deadline: datetime | None = None
    validated_at: datetime
    centre_libelle: str
    contact_libelle: str
    contact_adresse: str
    automatic: bool = False
    # Where an automatic decision comes from: `liste_complementaire` (a place freed up) or
    # `acces_direct` (a validated accès direct); None when staff entered it.
    origine: str | None = None
    # What the admission letter names: the inscription's modalities and who signs.
    modalites_inscription: str | None = None
    signataire_nom: str | None = None
    signataire_qualite: str | None = None
    # The candidate's names as the accounts service announced them (for the letter), when known.
    nom: str | None = None
    prenom: str | None = None


class CandidatureConfirmed(_CandidatureFacts):
    """The candidate confirmed their admission."""

    producer = "candidatures"
    entity = "candidature"
    action = "confirmed"

    confirmed_at: datetime
    # As in the admission letter, so that the confirmation mail says the same thing.
    modalites_inscription: str | None = None
    signataire_nom: str | None = None
    signataire_qualite: str | None = None


class CandidatureWithdrawn(_CandidatureFacts):
    """Désistement: by the candidate, or automatically when the confirmation deadline passed."""

    producer = "candidatures"
    entity = "candidature"
    action = "withdrawn"

    withdrawn_at: datetime
    automatic: bool = False


class CandidaturePromoted(_CandidatureFacts):
    """A place freed up: the next candidate of the liste complémentaire gets a favourable decision."""

    producer = "candidatures"
    entity = "candidature"
    action = "promoted"

    former_rang: int
    confirmation_deadline: datetime


class CommissionAlerted(_CandidatureFacts):
    """A change of a candidature that its formation's commission asked to be told of (`alertes` of
    the commission): its mailbox is mailed. Mailer-only: it names the commission's address and the
    candidate."""

    producer = "candidatures"
    entity = "commission"
    action = "alerted"
    private = True

    commission_code: str
    commission_libelle: str
    email: str
    alerte: AlerteCommission
    # `quotidienne`: the mailer keeps the alert for the commission's next daily summary.
    frequence: FrequenceAlertes = "immediate"
    nom: str | None = None
    prenom: str | None = None
    # A désistement made by the platform when the confirmation deadline passed.
    automatic: bool = False


class ConfirmationReminderDue(_CandidatureFacts):
    """The confirmation deadline is near and the candidate has not answered."""

    producer = "candidatures"
    entity = "candidature"
    action = "reminder_due"

    confirmation_deadline: datetime


# -- staff workflow: rpc -----------------------------------------------------------------------

Ids = Field(min_length=1, max_length=500)


class SetStatut(RpcRequest):
    """Set the statut du dossier of one or many candidatures, with its date (mails the candidates)."""

    service = "candidatures"
    operation = "set_statut"

    principal: Principal
    candidature_ids: list[uuid.UUID] = Ids
    statut: str = Field(pattern="^(en_attente|receptionne|complet|incomplet)$")
    date: datetime | None = None
    commentaire: str | None = Field(default=None, max_length=2000)


class SetTypeTraitement(RpcRequest):
    service = "candidatures"
    operation = "set_type_traitement"

    principal: Principal
    candidature_ids: list[uuid.UUID] = Ids
    type_traitement: str = Field(pattern="^(acces_controle|acces_direct|en_attente)$")
    valide: bool


class EnterDecision(RpcRequest):
    """Enter (or replace) the pending decision of a candidature; it reaches the candidate once validated."""

    service = "candidatures"
    operation = "enter_decision"

    principal: Principal
    candidature_id: uuid.UUID
    kind: str = Field(pattern="^(favorable|defavorable|liste_attente|liste_complementaire|preselection)$")
    motif: str | None = Field(default=None, max_length=2000)
    rang: int | None = Field(default=None, ge=1, le=100000)
    preselection_date: date | None = None
    preselection_heure: time | None = None
    preselection_lieu: str | None = Field(default=None, max_length=500)
    commentaire: str | None = Field(default=None, max_length=2000)


class ValidateDecisions(RpcRequest):
    service = "candidatures"
    operation = "validate_decisions"

    principal: Principal
    candidature_ids: list[uuid.UUID] = Ids


class AnswerAdmission(RpcRequest):
    """The candidate's answer to a favourable decision: confirm, or withdraw (désistement)."""

    service = "candidatures"
    operation = "answer_admission"

    principal: Principal
    candidature_id: uuid.UUID
    answer: str = Field(pattern="^(confirmation|desistement)$")


class AddNote(RpcRequest):
    service = "candidatures"
    operation = "add_note"

    principal: Principal
    candidature_id: uuid.UUID
    body: str = Field(min_length=1, max_length=5000)


class SetFormationDateRetour(RpcRequest):
    """Change a formation's date limite de retour: its candidatures follow, except those whose own
    date staff set."""

    service = "candidatures"
    operation = "set_formation_date_retour"

    principal: Principal
    formation_code: str = Field(pattern=_CODE)
    date_retour: date
    motif: str | None = Field(default=None, max_length=2000)


class SetCandidatureDateRetour(RpcRequest):
    """Give one candidature its own date limite de retour (`date_retour`), or make it follow its
    formation's again (`date_retour` null)."""

    service = "candidatures"
    operation = "set_candidature_date_retour"

    principal: Principal
    candidature_id: uuid.UUID
    date_retour: date | None
    motif: str | None = Field(default=None, max_length=2000)


class ExtendCampaignDeadlines(RpcRequest):
    """After an incident (the platform unreachable from `incident_debut`), extend by `heures` the
    date limite de retour of every candidature of the campaign that was still open when it began
    (not transmitted, not cancelled, deadline not passed then); each candidate is mailed. One
    extension per incident: the same request again changes nothing."""

    service = "candidatures"
    operation = "extend_campaign_deadlines"

    principal: Principal
    campagne_code: str = Field(pattern=_CODE)
    incident_debut: AwareDatetime = Field(description="With its offset: 2026-03-02T09:30:00+01:00")
    heures: int = Field(ge=1, le=720)
    motif: str = Field(min_length=1, max_length=2000)


class DeadlinesChanged(RpcReply):
    """The candidatures whose date limite de retour changed."""

    updated: list[uuid.UUID]


class Prolongation(RpcReply):
    id: uuid.UUID
    campagne_code: str
    incident_debut: datetime
    heures: int
    motif: str
    par: str
    le: datetime
    candidatures: int
    # True when this incident had already been handled (a retried request): nothing changed again.
    deja_appliquee: bool = False


class GetOfferAdmin(RpcRequest):
    """The whole offer as its administrators edit it: every campaign (with its incident extensions),
    centre, type, commission, formation (closed ones too) and piece (admins and scolarité)."""

    service = "candidatures"
    operation = "get_offer_admin"

    principal: Principal


class OfferAdmin(RpcReply):
    campagnes: list[CampagneRecord]  # type: ignore[valid-type]
    prolongations: list[Prolongation]
    centres: list[CentreRecord]  # type: ignore[valid-type]
    types_diplome: list[TypeDiplomeRecord]  # type: ignore[valid-type]
    commissions: list[CommissionRecord]  # type: ignore[valid-type]
    formations: list[FormationRecord]  # type: ignore[valid-type]
    pieces: list[PieceRecord]  # type: ignore[valid-type]
    etiquettes: list[EtiquetteRecord]


class BatchResult(RpcReply):
    updated: list[uuid.UUID]


class Filters(Message):
    """What staff lists and exports select on; at least one of formation, centre, commission."""

    formation_code: str | None = Field(default=None, max_length=40)
    centre_code: str | None = Field(default=None, max_length=40)
    commission_code: str | None = Field(default=None, max_length=40)
    statut: str | None = Field(default=None, pattern="^(en_attente|receptionne|complet|incomplet|annulee)$")
    type_traitement: str | None = Field(default=None, pattern="^(acces_controle|acces_direct|en_attente)$")
    decision: str | None = Field(
        default=None,
        pattern="^(aucune|a_valider|favorable|defavorable|liste_attente|liste_complementaire|preselection)$",
        description="The validated decision, `aucune`, or `a_valider`: a decision entered and not validated yet",
    )
    pieces: str | None = Field(default=None, pattern="^(completes|manquantes|refusees)$")
    transmise_du: date | None = None
    transmise_au: date | None = None
    etiquette: str | None = Field(default=None, pattern=_CODE)
    campagne_code: str | None = Field(
        default=None,
        pattern=_CODE,
        description="The campaign whose candidatures are listed: by default the one in service "
        "(when none is, the one archived last whose candidatures are kept); an archived one while its "
        "candidatures are kept",
    )


class ListCandidatures(RpcRequest):
    service = "candidatures"
    operation = "list_candidatures"

    principal: Principal
    filters: Filters
    sort: str = Field(default="date_reception", pattern="^(date_reception|nom|rang)$")
    cursor: str | None = Field(default=None, max_length=500)
    limit: int = Field(default=50, ge=1, le=500)


class CountCandidatures(RpcRequest):
    """How many candidatures of a list there are in each statut (the list's other filters applied)."""

    service = "candidatures"
    operation = "count_candidatures"

    principal: Principal
    filters: Filters


class StatutCounts(RpcReply):
    """Statut du dossier (`annulee` for the cancelled ones) → number of candidatures, and the total."""

    counts: dict[str, int]
    total: int


class GetTableau(RpcRequest):
    """The dashboard of a centre's, a commission's or one formation's candidatures: where each
    formation stands. Filters other than formation, centre and commission are not applied."""

    service = "candidatures"
    operation = "get_tableau"

    principal: Principal
    filters: Filters


class FormationSuivi(RpcReply):
    """One formation's figures, for what its reader may see (a commission: what it examines)."""

    formation_code: str
    formation_libelle: str
    capacite: int | None
    total: int  # candidatures, cancelled ones included
    statuts: dict[str, int]  # statut du dossier (`annulee` for the cancelled ones) → number
    decisions: dict[str, int]  # validated decision → number
    decisions_a_valider: int  # candidatures with a decision entered and not validated yet
    confirmees: int
    desistees: int


class Tableau(RpcReply):
    campagne_code: str | None = None  # the campaign counted (none when there is no campaign yet)
    items: list[FormationSuivi]


class ListCampagnesSuivies(RpcRequest):
    """The campaigns whose candidatures the staff can read: the one in service and the archived
    ones whose candidatures are still kept, the newest first."""

    service = "candidatures"
    operation = "list_campagnes_suivies"

    principal: Principal


class CampagnesSuivies(RpcReply):
    items: list[CampagneRecord]  # type: ignore[valid-type]


class CandidatureRow(RpcReply):
    id: uuid.UUID
    numero_dossier: str
    nom: str | None
    prenom: str | None
    email: str | None
    formation_code: str
    formation_libelle: str
    centre_code: str
    statut: str
    statut_date: datetime | None
    type_traitement: str
    type_traitement_valide: bool
    decision: str | None
    decision_en_attente: str | None
    rang: int | None
    pieces_total: int
    pieces_pretes: int
    pieces_refusees: int
    date_reception: datetime | None
    confirmation_deadline: datetime | None
    confirmed_at: datetime | None
    withdrawn_at: datetime | None
    created_at: datetime
    cancelled_at: datetime | None
    etiquettes: list[str] = []


class CandidaturePage(RpcReply):
    campagne_code: str | None = None  # the campaign listed (none when there is no campaign yet)
    items: list[CandidatureRow]
    next_cursor: str | None = None


class DecisionRecord(RpcReply):
    id: uuid.UUID
    kind: str
    motif: str | None
    rang: int | None
    preselection_date: date | None
    preselection_heure: time | None
    preselection_lieu: str | None
    commentaire: str | None
    entered_by: str
    entered_at: datetime
    validated_by: str | None
    validated_at: datetime | None
    automatic: bool
    origine: str | None = None


class HistoryRecord(RpcReply):
    at: datetime
    actor: str
    action: str
    details: dict


class NoteRecord(RpcReply):
    id: uuid.UUID
    author: str
    at: datetime
    body: str


class PieceStatus(RpcReply):
    piece_id: uuid.UUID
    libelle: str
    statut: str


class StaffCandidatureView(RpcReply):
    candidature: CandidatureView
    nom: str | None
    prenom: str | None
    email: str | None
    rang: int | None
    confirmation_deadline: datetime | None
    confirmed_at: datetime | None
    withdrawn_at: datetime | None
    complet_propose: bool
    pieces: list[PieceStatus]
    decisions: list[DecisionRecord]
    notes: list[NoteRecord]
    history: list[HistoryRecord]
    etiquettes: list[str] = []


class GetStaffCandidature(RpcRequest):
    service = "candidatures"
    operation = "get_staff_candidature"

    principal: Principal
    candidature_id: uuid.UUID
