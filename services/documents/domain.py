"""The pieces' rules, without I/O: who may change a piece and when, the freeze, the review.

A candidature, as documents sees it, is *modifiable* from `candidature.created`, *frozen* from
`candidature.transmitted` (only a piece refused since then is reopened for its replacement) and
*cancelled* for good. A provisional freeze (`frozen_until`, set by `FreezePieces` while
candidatures commits a transmission) blocks every change until it is made permanent by
`candidature.transmitted`, released, or lapses. The date limite de retour is a calendar day in
Europe/Paris: changes are possible until the end of that day.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ecandidat.contracts.errors import Conflict, ErrorDetail, InvalidInput, NotFound
from ecandidat.runtime.french import limite_courte
from ecandidat.contracts import access
from ecandidat.contracts.access import CandidatureScope
from ecandidat.contracts.auth import Principal

PARIS = ZoneInfo("Europe/Paris")

STATUTS = {
    "en_attente": "En attente",
    "transmise": "Transmise",
    "validee": "Validée",
    "refusee": "Refusée",
    "non_concerne": "Non concerné",
}
MISSING = ("en_attente", "refusee")  # what prevents a transmission
REVIEWABLE = ("transmise", "validee", "refusee", "non_concerne")


class PieceLocked(Conflict):
    """The candidate may not change this piece now; `reason` says why."""


def end_of_day(day: date) -> datetime:
    """The first instant after `day` in Europe/Paris."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=PARIS)


@dataclass(frozen=True)
class CandidatureState:
    candidature_id: uuid.UUID
    account_id: uuid.UUID
    centre_code: str
    commission_code: str | None
    date_limite_retour: date
    cancelled: bool = False
    transmitted: bool = False
    frozen_until: datetime | None = None
    statut: str = "en_attente"
    # The instant the date limite de retour ends, when candidatures said (an incident may have
    # extended it past the end of `date_limite_retour`).
    limite_retour: datetime | None = None

    def scope(self) -> CandidatureScope:
        return CandidatureScope(self.centre_code, self.commission_code, self.statut)

    def deadline(self) -> datetime:
        return self.limite_retour or end_of_day(self.date_limite_retour)

    def freezing(self, now: datetime) -> bool:
        """A transmission is being committed (provisional freeze not lapsed)."""
        return self.frozen_until is not None and now < self.frozen_until

    def open_for_changes(self, now: datetime) -> bool:
        return not self.cancelled and now < self.deadline() and not self.freezing(now)


@dataclass(frozen=True)
class Slot:
    id: uuid.UUID
    candidature_id: uuid.UUID
    piece_id: uuid.UUID
    code: str
    libelle: str
    ordre: int
    conditionnelle: bool
    statut: str
    reopened: bool = False
    file_key: str | None = None
    comment: str | None = None


@dataclass(frozen=True)
class StoredFile:
    """A checked file, written to storage under `key`, that a slot or a template may now name."""

    key: str
    name: str
    content_type: str
    size: int
    sha256: str


# The statuts du dossier in which the candidate has it back to transmit again: when staff set one,
# the pieces not validated may be replaced until the next transmission.
GIVEN_BACK = ("en_attente", "incomplet")


def why_locked(candidature: CandidatureState, slot: Slot, now: datetime) -> PieceLocked | None:
    """The refusal a change of `slot` gets at `now`, or None when the candidate may change it."""
    if candidature.cancelled:
        return PieceLocked(
            "Cette candidature est annulée : ses pièces ne peuvent plus être modifiées.", reason="annulee"
        )
    if now >= candidature.deadline():
        return PieceLocked(
            f"La date limite de retour ({limite_courte(candidature.deadline())}) est passée : "
            "les pièces ne peuvent plus être modifiées.",
            reason="date_retour_passee",
        )
    if slot.statut == "validee":
        return PieceLocked("Cette pièce a été validée : elle ne peut plus être modifiée.", reason="piece_validee")
    if candidature.freezing(now):
        return PieceLocked(
            "Votre candidature est en cours de transmission : ses pièces ne peuvent pas être modifiées pour le moment.",
            reason="transmission_en_cours",
        )
    if candidature.transmitted and not slot.reopened:
        return PieceLocked(
            "Votre candidature a été transmise : ses pièces ne peuvent plus être modifiées, "
            "sauf une pièce refusée par le gestionnaire ou un dossier déclaré incomplet.",
            reason="candidature_transmise",
        )
    return None


def check_can_change(candidature: CandidatureState, slot: Slot, now: datetime) -> None:
    refusal = why_locked(candidature, slot, now)
    if refusal is not None:
        raise refusal


def check_can_delete(slot: Slot) -> None:
    if slot.file_key is None:
        raise PieceLocked("Aucun fichier n'est déposé pour cette pièce.", reason="aucun_fichier")


def concerned_statut(slot: Slot, concerned: bool) -> str:
    """The statut a conditional piece takes when declared (non) concernée."""
    if not slot.conditionnelle:
        raise PieceLocked(
            "Cette pièce n'est pas conditionnelle : vous devez la déposer.", reason="piece_non_conditionnelle"
        )
    if not concerned:
        if slot.file_key is not None:
            raise PieceLocked(
                "Supprimez d'abord le fichier déposé pour déclarer cette pièce « non concerné ».",
                reason="fichier_depose",
            )
        return "non_concerne"
    if slot.statut != "non_concerne":
        raise PieceLocked("Cette pièce n'est pas déclarée « non concerné ».", reason="deja_concerne")
    return "en_attente"


def missing_for_transmission(slots: list[Slot]) -> list[Slot]:
    return [s for s in slots if s.statut in MISSING]


def review_changes(slot: Slot, decision: str, comment: str) -> bool:
    """Whether a review changes the piece: the same review again (a retry after a timeout, a
    double click) is one effect, so it records nothing and tells nobody again. A refusal with a
    new comment is a change: the candidate is told the new comment."""
    if slot.statut != decision:
        return True
    return decision == "refusee" and (slot.comment or "") != comment.strip()


def review_statut(slot: Slot, decision: str, comment: str) -> str:
    if slot.statut not in REVIEWABLE:
        raise PieceLocked(
            "Cette pièce n'a pas encore été déposée : elle ne peut pas être examinée.", reason="non_deposee"
        )
    if decision == "refusee" and not comment.strip():
        raise InvalidInput(
            "Un commentaire est obligatoire pour refuser une pièce : il indique au candidat quoi faire.",
            details=[ErrorDetail(field="commentaire", message="Ce champ est obligatoire pour un refus.")],
        )
    return decision


# -- who may see what ------------------------------------------------------------------------------


def check_reader(principal: Principal, candidature: CandidatureState) -> None:
    """The owner (anyone else of the candidates gets a 404), or staff whose scope covers the
    candidature (`ecandidat.contracts.access`, the rule every service applies)."""
    if principal.realm == "candidate":
        if principal.account_id != candidature.account_id:
            raise not_found()
        return
    access.check_read(principal, candidature.scope())


def check_owner(principal: Principal, candidature: CandidatureState) -> None:
    if principal.realm != "candidate" or principal.account_id != candidature.account_id:
        raise not_found()


def check_reviewer(principal: Principal, candidature: CandidatureState) -> None:
    if principal.realm != "staff":
        raise not_found()
    access.check_manage(principal, candidature.scope())


def check_template_editor(principal: Principal) -> None:
    access.require(
        principal, access.OFFER_ADMINS, "Seuls l'administration et la scolarité peuvent déposer les modèles des pièces."
    )


def check_staff(principal: Principal) -> None:
    access.require(principal, access.ANY_STAFF, "Cette ressource est réservée au personnel.")


def not_found() -> NotFound:
    return NotFound("Cette pièce justificative n'existe pas ou ne vous appartient pas.")


def no_template() -> NotFound:
    return NotFound("Aucun modèle n'est disponible pour cette pièce.")


# -- file names -----------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^\w.\- ()'+,&@àâäçéèêëîïôöùûüÿœæÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸŒÆ]")
EXTENSIONS = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}


def sanitize_file_name(raw: str | None, content_type: str) -> str:
    """A name fit to show and to offer as a download: no path, no control characters, the
    extension of the real content type, at most 120 characters."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" .")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    stem = re.sub(r"_+", "_", stem).strip(" ._")[:100] or "document"
    return stem + EXTENSIONS.get(content_type, "")
