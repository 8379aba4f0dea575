"""The candidature's rules, without I/O: deposit windows, deadlines, states and their transitions, decisions.

Dates of the offer are calendar days of the campaign's time zone (Europe/Paris): a deposit
window "du 01/03 au 20/06" opens at 00:00 on the first day and closes at 23:59:59.999999 on the
last, Paris time, whatever the server's clock zone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from ecandidat.contracts.errors import ErrorDetail, InvalidInput, ServiceError, Unavailable
from ecandidat.runtime.french import limite_courte

PARIS = ZoneInfo("Europe/Paris")

STATUTS = {
    "en_attente": "En attente",
    "receptionne": "Réceptionné",
    "complet": "Complet",
    "incomplet": "Incomplet",
}

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


def incomplete_dossier(missing: list[str], sections: list[str] | None = None, *, before: str = "candidater") -> Refused:
    """`sections`: the dossier's sections to complete (`rubriques` of the answer), in order;
    `before`: what the candidate was doing (« candidater », « transmettre votre candidature »)."""
    return Refused(
        f"Votre dossier doit être complété avant de {before} : " + " ; ".join(missing) + ".",
        reason="dossier_incomplet",
        details=[ErrorDetail(message=m) for m in missing],
        rubriques=sections or [],
    )


# -- the lifecycle ----------------------------------------------------------------------------------
#
# A candidature's state is its statut du dossier, or `annulee` once its candidate cancelled it.
# Every action that may change it — the candidate's transmission and cancellation, a piece refused
# by the documents service, the staff's statut, a decision, the candidate's answer to it — is one
# column of TRANSITIONS: in each state the action either moves to a state (after its guard) or is
# refused with its French message. `Candidature.next_statut` reads the table; `lifecycle.change_statut`
# is the one path that writes what it says.

ANNULEE = "annulee"
ETATS = (*STATUTS, ANNULEE)


class Action(StrEnum):
    TRANSMIT = "transmit"  # the candidate transmits (again, after a refused piece)
    CANCEL = "cancel"  # the candidate cancels, before transmitting
    PIECE_REFUSED = "piece_refused"  # the documents service refused one of its pieces
    SET_EN_ATTENTE = "set_en_attente"  # staff set the statut du dossier
    SET_RECEPTIONNE = "set_receptionne"
    SET_INCOMPLET = "set_incomplet"
    SET_COMPLET = "set_complet"  # the completeness review: the dossier goes to its commission
    DECIDE = "decide"  # staff enter or validate a decision
    CONFIRM = "confirm"  # the candidate confirms a favourable decision
    WITHDRAW = "withdraw"  # the candidate withdraws (désistement)
    EXPIRE = "expire"  # the confirmation deadline passed without an answer: the system withdraws


def set_statut_action(statut: str) -> Action:
    """The staff's action that sets `statut`."""
    return Action(f"set_{statut}")


Guard = Callable[["Candidature", datetime], "Refused | None"]


@dataclass(frozen=True)
class Move:
    """The action is allowed (if its guard says nothing) and leaves the candidature in `to`."""

    to: str
    guard: Guard | None = None


@dataclass(frozen=True)
class Refuse:
    """The action is refused in this state."""

    reason: str
    message: str

    def error(self) -> Refused:
        return Refused(self.message, reason=self.reason)


def _before_retour(cand: Candidature, now: datetime) -> Refused | None:
    if cand.before_retour(now):
        return None
    return Refused(
        f"La date limite de retour ({limite_courte(cand.retour_deadline())}) est dépassée : "
        "la candidature ne peut plus être transmise.",
        reason="date_retour_depassee",
    )


def _undecided(cand: Candidature, now: datetime) -> Refused | None:
    if cand.decision is None:
        return None
    return _CANCEL_TOO_LATE.error()


def _not_withdrawn(cand: Candidature, now: datetime) -> Refused | None:
    if cand.withdrawn_at is None:
        return None
    return Refused("Le candidat s'est désisté : aucune décision ne peut plus être prise.", reason="desiste")


def _may_confirm(cand: Candidature, now: datetime) -> Refused | None:
    return cand.answer_refusal("confirmation", now)


def _may_withdraw(cand: Candidature, now: datetime) -> Refused | None:
    return cand.answer_refusal("desistement", now)


def _unanswered_at_deadline(cand: Candidature, now: datetime) -> Refused | None:
    if (
        cand.decision == "favorable"
        and cand.withdrawn_at is None
        and cand.confirmed_at is None
        and cand.confirmation_deadline is not None
        and cand.confirmation_deadline <= now
    ):
        return None
    return Refused(
        "Cette candidature n'attend pas de réponse dont le délai serait dépassé.", reason="pas_de_delai_depasse"
    )


_CANCEL_TOO_LATE = Refuse(
    "annulation_impossible", "Cette candidature ne peut plus être annulée : elle a été transmise ou traitée."
)
_ALREADY_TRANSMITTED = Refuse("deja_transmise", "Cette candidature a déjà été transmise.")
_NOT_COMPLETE = Refuse("dossier_non_complet", "Une décision ne peut être prise que sur un dossier complet.")
_NOT_FAVOURABLE = Refuse(
    "pas_d_avis_favorable", "Seul un avis favorable peut être confirmé ou faire l'objet d'un désistement."
)


def _transitions() -> dict[tuple[str, Action], Move | Refuse]:
    table: dict[tuple[str, Action], Move | Refuse] = {}
    for statut in STATUTS:
        table[statut, Action.TRANSMIT] = (
            Move("receptionne", _before_retour) if statut in ("en_attente", "incomplet") else _ALREADY_TRANSMITTED
        )
        table[statut, Action.CANCEL] = Move(ANNULEE, _undecided) if statut == "en_attente" else _CANCEL_TOO_LATE
        # A refused piece sends a transmitted dossier back to the candidate; before that it changes nothing.
        table[statut, Action.PIECE_REFUSED] = Move("incomplet" if statut in ("receptionne", "complet") else statut)
        for target in STATUTS:  # staff may set any statut (the same one again changes nothing)
            table[statut, set_statut_action(target)] = Move(target)
        table[statut, Action.DECIDE] = Move(statut, _not_withdrawn) if statut == "complet" else _NOT_COMPLETE
        # The answer to a favourable decision does not depend on the statut du dossier.
        table[statut, Action.CONFIRM] = Move(statut, _may_confirm)
        table[statut, Action.WITHDRAW] = Move(statut, _may_withdraw)
        table[statut, Action.EXPIRE] = Move(statut, _unanswered_at_deadline)
    cancelled = "Cette candidature est annulée."
    table[ANNULEE, Action.TRANSMIT] = Refuse("annulee", cancelled)
    table[ANNULEE, Action.CANCEL] = Refuse("deja_annulee", "Cette candidature est déjà annulée.")
    table[ANNULEE, Action.PIECE_REFUSED] = Move(ANNULEE)
    for target in STATUTS:
        table[ANNULEE, set_statut_action(target)] = Refuse(
            "annulee", "Une candidature annulée ne change plus de statut."
        )
    table[ANNULEE, Action.DECIDE] = Refuse(
        "annulee", "Cette candidature est annulée : aucune décision ne peut être prise."
    )
    table[ANNULEE, Action.CONFIRM] = _NOT_FAVOURABLE  # a cancelled candidature never had a decision
    table[ANNULEE, Action.WITHDRAW] = _NOT_FAVOURABLE
    table[ANNULEE, Action.EXPIRE] = _NOT_FAVOURABLE
    return table


TRANSITIONS = _transitions()

# Statuts from which the candidate transmits (again, after a refused piece).
TRANSMISSIBLE = tuple(s for s in STATUTS if isinstance(TRANSITIONS[s, Action.TRANSMIT], Move))


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
    # The answer to a favourable decision.
    confirmation_deadline: datetime | None = None
    confirmed_at: datetime | None = None
    withdrawn_at: datetime | None = None

    @property
    def etat(self) -> str:
        """The state of the lifecycle: the statut du dossier, or `annulee`."""
        return ANNULEE if self.cancelled else self.statut

    def refusal(self, action: Action, now: datetime) -> Refused | None:
        """Why the transition table refuses `action` at `now`, or None when it allows it."""
        rule = TRANSITIONS[self.etat, action]
        if isinstance(rule, Refuse):
            return rule.error()
        return rule.guard(self, now) if rule.guard is not None else None

    def next_statut(self, action: Action, now: datetime) -> str:
        """The state after `action` (the same one when it changes nothing); refused with a domain error."""
        refusal = self.refusal(action, now)
        if refusal is not None:
            raise refusal
        rule = TRANSITIONS[self.etat, action]
        assert isinstance(rule, Move)
        return rule.to

    def retour_deadline(self) -> datetime:
        return retour_deadline(self.date_retour, self.prolongation_heures)

    def may_be_extended(self, since: datetime) -> bool:
        """Whether an incident that began at `since` extends this candidature's deadline: the
        candidate still had something to do (not transmitted, not cancelled) when it began."""
        return self.etat in TRANSMISSIBLE and self.retour_deadline() > since

    def before_retour(self, now: datetime) -> bool:
        return now < self.retour_deadline()

    def can_cancel(self, now: datetime) -> bool:
        return self.refusal(Action.CANCEL, now) is None

    def can_change_pieces(self, now: datetime) -> bool:
        return self.state_refusal(now) is None

    def state_refusal(self, now: datetime) -> Refused | None:
        """What in the candidature itself refuses a transmission at `now` (its pieces aside)."""
        return self.refusal(Action.TRANSMIT, now)

    def transmission_refusal(self, now: datetime, missing: list[str] | None) -> ServiceError | None:
        """Why a transmission at `now` would be refused, or None when it would be accepted.

        `missing` are the pieces the documents service finds neither deposited nor non concernées
        (the rule it applies when it freezes them), None while it has not opened the candidature's
        pieces yet. The transmission itself and the candidate's `can_transmit` both ask this."""
        return self.state_refusal(now) or pieces_refusal(missing)

    def can_transmit(self, now: datetime, missing: list[str] | None) -> bool:
        return self.transmission_refusal(now, missing) is None

    def check_transmit(self, now: datetime) -> None:
        self.next_statut(Action.TRANSMIT, now)

    # -- the answer to a favourable decision --

    def can_confirm(self, now: datetime) -> bool:
        return (
            self.decision == "favorable"
            and not self.cancelled
            and self.withdrawn_at is None
            and self.confirmed_at is None
            and self.confirmation_deadline is not None
            and now < self.confirmation_deadline
        )

    def can_withdraw(self, now: datetime) -> bool:
        # After a confirmation, a désistement stays possible; before it, only until the deadline.
        if self.decision != "favorable" or self.cancelled or self.withdrawn_at is not None:
            return False
        return self.confirmed_at is not None or (
            self.confirmation_deadline is not None and now < self.confirmation_deadline
        )

    def answer_refusal(self, answer: str, now: datetime) -> Refused | None:
        """Why the candidate's `answer` (confirmation or desistement) is refused at `now`."""
        if self.decision != "favorable":
            return _NOT_FAVOURABLE.error()
        if self.withdrawn_at is not None:
            return Refused("Votre désistement de cette formation est déjà enregistré.", reason="deja_desiste")
        if answer == "confirmation":
            if self.confirmed_at is not None:
                return Refused("Vous avez déjà confirmé votre candidature.", reason="deja_confirme")
            if not self.can_confirm(now):
                return Refused("Le délai de confirmation est dépassé.", reason="delai_depasse")
        elif not self.can_withdraw(now):
            return Refused("Le délai de réponse est dépassé.", reason="delai_depasse")
        return None


def answer_action(answer: str) -> Action:
    """The lifecycle's action for the candidate's answer (`confirmation` or `desistement`)."""
    return Action.CONFIRM if answer == "confirmation" else Action.WITHDRAW


def reminder_window(now: datetime, days_before: int) -> tuple[datetime, datetime]:
    """The confirmation deadlines whose reminder is due at `now`: after `now`, and at most
    `days_before` days ahead (the bounds, exclusive then inclusive)."""
    return now, now + timedelta(days=days_before)


def reminder_due(deadline: datetime, now: datetime, days_before: int) -> bool:
    after, until = reminder_window(now, days_before)
    return after < deadline <= until


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


# -- the staff's decisions: what each kind must carry, the confirmation deadline, what admitted candidates do next

DECISIONS = {
    "favorable": "Favorable",
    "defavorable": "Défavorable",
    "liste_attente": "Liste d'attente",
    "liste_complementaire": "Liste complémentaire",
    "preselection": "Présélection",
}

DEFAULT_CONFIRMATION_DAYS = 8


def check_decision_input(
    kind: str, *, motif: str | None, rang: int | None, preselection_date: date | None, preselection_lieu: str | None
) -> None:
    """Each kind of decision carries what the candidate needs to understand it."""
    errors = []
    if kind == "defavorable" and not (motif or "").strip():
        errors.append(ErrorDetail(field="motif", message="Un avis défavorable doit être motivé."))
    if kind == "liste_complementaire" and rang is None:
        errors.append(ErrorDetail(field="rang", message="Le rang sur la liste complémentaire est obligatoire."))
    if kind == "preselection":
        if preselection_date is None:
            errors.append(
                ErrorDetail(
                    field="preselection_date", message="La date de l'entretien de présélection est obligatoire."
                )
            )
        if not (preselection_lieu or "").strip():
            errors.append(
                ErrorDetail(
                    field="preselection_lieu", message="Le lieu de l'entretien de présélection est obligatoire."
                )
            )
    if kind != "liste_complementaire" and rang is not None:
        errors.append(ErrorDetail(field="rang", message="Un rang n'a de sens que sur la liste complémentaire."))
    if errors:
        raise InvalidInput("La décision est incomplète.", details=errors)


def confirmation_deadline(
    validated_at: datetime,
    *,
    candidature_date: date | None,
    formation_date: date | None,
    delai_jours: int | None,
) -> datetime:
    """The candidature's own date, else the formation's fixed date (if still ahead), else a delay
    in days after the validation — always the end of that day in Paris."""
    for fixed in (candidature_date, formation_date):
        if fixed is not None and end_of_day(fixed) > validated_at:
            return end_of_day(fixed)
    days = delai_jours or DEFAULT_CONFIRMATION_DAYS
    return end_of_day(local_day(validated_at) + timedelta(days=days))


def modalites_inscription(
    formation_text: str | None, contact_libelle: str, contact_adresse: str, contact_mail: str | None
) -> str:
    """What an admitted candidate does once they confirmed: the formation's own text, or else
    where to go (the centre's contact). The letter and the confirmation mail say this same text."""
    if formation_text and formation_text.strip():
        return formation_text.strip()
    where = ", ".join(line.strip() for line in [contact_libelle, *contact_adresse.splitlines()] if line.strip())
    mail = f" ({contact_mail})" if contact_mail else ""
    return f"Votre inscription administrative se fait auprès de : {where}{mail}."
