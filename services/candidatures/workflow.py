"""The staff workflow's rules, without I/O: decisions, confirmation deadlines, what admitted candidates do next.

Which action a candidature allows in which state (a decision, an answer to it) is the lifecycle's
transition table, in `domain.py`."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from ecandidat.contracts.errors import ErrorDetail, InvalidInput

from .domain import end_of_day, local_day

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
