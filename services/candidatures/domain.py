"""The candidature's rules, without I/O: deposit windows, deadlines, states and their transitions.

Dates of the offer are calendar days of the campaign's time zone (Europe/Paris): a deposit
window "du 01/03 au 20/06" opens at 00:00 on the first day and closes at 23:59:59.999999 on the
last, Paris time, whatever the server's clock zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ecandidat.contracts.errors import ErrorDetail, ServiceError, Unavailable
from ecandidat.runtime.french import limite_courte

PARIS = ZoneInfo("Europe/Paris")

STATUTS = {
    "en_attente": "En attente",
    "receptionne": "Réceptionné",
    "complet": "Complet",
    "incomplet": "Incomplet",
}

# Statuts from which the candidate transmits (again, after a refused piece).
TRANSMISSIBLE = ("en_attente", "incomplet")

TYPES_TRAITEMENT = {
    "acces_controle": "Accès contrôlé",
    "acces_direct": "Accès direct",
    "en_attente": "En attente",
}


class Refused(ServiceError):
    """A rule of the candidature refuses the action; `reason` says which."""

    code = "conflict"


def start_of_day(day: date, tz: ZoneInfo = PARIS) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def end_of_day(day: date, tz: ZoneInfo = PARIS) -> datetime:
    """The last instant of `day` in `tz` (the next day's midnight, exclusive)."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)


def local_day(moment: datetime, tz: ZoneInfo = PARIS) -> date:
    return moment.astimezone(tz).date()


def retour_deadline(date_retour: date, prolongation_heures: int = 0) -> datetime:
    """The instant a date limite de retour ends: the end of that day in Paris, plus the hours an
    incident added."""
    return end_of_day(date_retour) + timedelta(hours=prolongation_heures)


@dataclass(frozen=True)
class Campagne:
    code: str
    libelle: str
    debut: date
    fin: date

    def is_open(self, now: datetime) -> bool:
        return start_of_day(self.debut) <= now < end_of_day(self.fin)


@dataclass(frozen=True)
class Formation:
    code: str
    libelle: str
    centre_code: str
    type_traitement: str
    depot_debut: date
    depot_fin: date
    date_retour: date
    ouverte: bool = True

    def deposit_open(self, now: datetime) -> bool:
        return self.ouverte and start_of_day(self.depot_debut) <= now < end_of_day(self.depot_fin)


def open_campagne(campagne: Campagne | None, now: datetime) -> Campagne:
    """The campagne in service when it is open; otherwise no application."""
    if campagne is None or not campagne.is_open(now):
        raise Refused(
            "Il n'est possible de candidater que pendant la campagne de candidatures.", reason="campagne_fermee"
        )
    return campagne


def check_can_apply(
    *,
    campagne: Campagne | None,
    formation: Formation,
    now: datetime,
    already_applied: bool,
    count_in_centre: int,
    max_in_centre: int,
) -> None:
    """Refuse an application that breaks a rule, with the reason the candidate can act on."""
    open_campagne(campagne, now)
    if not formation.deposit_open(now):
        raise Refused(
            f"Les candidatures à la formation « {formation.libelle} » sont ouvertes du "
            f"{formation.depot_debut:%d/%m/%Y} au {formation.depot_fin:%d/%m/%Y}.",
            reason="depot_ferme",
        )
    if already_applied:
        raise Refused(f"Vous avez déjà candidaté à la formation « {formation.libelle} ».", reason="deja_candidat")
    if count_in_centre >= max_in_centre:
        raise Refused(
            f"Vous avez atteint le nombre maximum de candidatures ({max_in_centre}) pour ce centre de candidature.",
            reason="maximum_atteint",
        )


def incomplete_dossier(missing: list[str]) -> Refused:
    return Refused(
        "Votre dossier doit être complété avant de candidater : " + " ; ".join(missing) + ".",
        reason="dossier_incomplet",
        details=[ErrorDetail(message=m) for m in missing],
    )


@dataclass(frozen=True)
class Candidature:
    """The parts of a candidature the rules look at."""

    statut: str
    cancelled: bool
    decision: str | None
    # The date limite de retour: the candidature's own date if staff set one, else its
    # formation's (so that a change of the formation's date reaches it), plus the hours an
    # incident added.
    date_retour: date
    prolongation_heures: int = 0

    def retour_deadline(self) -> datetime:
        return retour_deadline(self.date_retour, self.prolongation_heures)

    def may_be_extended(self, since: datetime) -> bool:
        """Whether an incident that began at `since` extends this candidature's deadline: the
        candidate still had something to do (not transmitted, not cancelled) when it began."""
        return not self.cancelled and self.statut in TRANSMISSIBLE and self.retour_deadline() > since

    def before_retour(self, now: datetime) -> bool:
        return now < self.retour_deadline()

    def can_cancel(self) -> bool:
        return not self.cancelled and self.statut == "en_attente" and self.decision is None

    def can_change_pieces(self, now: datetime) -> bool:
        return self.state_refusal(now) is None

    def check_cancel(self) -> None:
        if self.cancelled:
            raise Refused("Cette candidature est déjà annulée.", reason="deja_annulee")
        if not self.can_cancel():
            raise Refused(
                "Cette candidature ne peut plus être annulée : elle a été transmise ou traitée.",
                reason="annulation_impossible",
            )

    def state_refusal(self, now: datetime) -> Refused | None:
        """What in the candidature itself refuses a transmission at `now` (its pieces aside)."""
        if self.cancelled:
            return Refused("Cette candidature est annulée.", reason="annulee")
        if self.statut not in TRANSMISSIBLE:
            return Refused("Cette candidature a déjà été transmise.", reason="deja_transmise")
        if not self.before_retour(now):
            return Refused(
                f"La date limite de retour ({limite_courte(self.retour_deadline())}) est dépassée : "
                "la candidature ne peut plus être transmise.",
                reason="date_retour_depassee",
            )
        return None

    def transmission_refusal(self, now: datetime, missing: list[str] | None) -> ServiceError | None:
        """Why a transmission at `now` would be refused, or None when it would be accepted.

        `missing` are the pieces the documents service finds neither deposited nor non concernées
        (the rule it applies when it freezes them), None while it has not opened the candidature's
        pieces yet. The transmission itself and the candidate's `can_transmit` both ask this."""
        return self.state_refusal(now) or pieces_refusal(missing)

    def can_transmit(self, now: datetime, missing: list[str] | None) -> bool:
        return self.transmission_refusal(now, missing) is None

    def check_transmit(self, now: datetime) -> None:
        refusal = self.state_refusal(now)
        if refusal is not None:
            raise refusal


def pieces_refusal(missing: list[str] | None) -> ServiceError | None:
    """The refusal a transmission gets for its pieces (None: they are all there)."""
    if missing is None:
        return Unavailable(
            "Vos pièces justificatives sont en cours de préparation, veuillez réessayer dans un instant.", retry_after=1
        )
    if not missing:
        return None
    n = len(missing)
    noun = "pièce manquante" if n == 1 else "pièces manquantes"
    return Refused(
        f"Votre candidature ne peut être transmise : {n} {noun}.",
        reason="pieces_manquantes",
        details=[ErrorDetail(field="pieces", message=lib) for lib in missing],
    )


def required_pieces(pieces: list[dict], *, centre_code: str, formation_code: str, type_traitement: str) -> list[dict]:
    """The pieces a candidature needs: establishment-wide, its centre's and its formation's,
    filtered by type de traitement, in their display order."""
    chosen = []
    for piece in pieces:
        if piece["niveau"] == "centre" and piece["centre_code"] != centre_code:
            continue
        if piece["niveau"] == "formation" and piece["formation_code"] != formation_code:
            continue
        types = piece.get("types_traitement") or []
        if types and type_traitement not in types:
            continue
        chosen.append(piece)
    return sorted(chosen, key=lambda p: (p["ordre"], p["libelle"]))


def initial_type_traitement(formation_type: str) -> tuple[str, bool]:
    """eCandidat: accès contrôlé is validated at once; accès direct waits for staff validation."""
    return formation_type, formation_type == "acces_controle"
