"""Checks of section contents that need reference data or today's date (pure, no I/O).

Each `check_*` returns the refusals as field-named `ErrorDetail`s in French; an empty list means
the content is acceptable. Shapes (types, lengths, formats) were already checked by the contract
models in `ecandidat.contracts.dossiers`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from ecandidat.contracts.dossiers import (
    Adresse,
    Baccalaureat,
    CursusExterne,
    ExperiencesProfessionnelles,
    InformationsPersonnelles,
    Stages,
)
from ecandidat.contracts.errors import ErrorDetail

from .ine import check_ine, uai_valide
from .referentiels import FRANCE, Referentiels

AGE_MIN = 14
AGE_MAX = 100
_ABSENT_ABROAD = "Ce champ ne concerne que la France : laissez-le vide pour un autre pays."
_ABSENT_FRANCE = "Ce champ ne concerne que l'étranger : laissez-le vide pour la France."
_REQUIRED = "Ce champ est obligatoire."


class _Report:
    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.details: list[ErrorDetail] = []

    def add(self, field: str, message: str, code: str = "invalid") -> None:
        self.details.append(ErrorDetail(field=self.prefix + field, message=message, code=code))

    def required(self, value: object, field: str) -> bool:
        if value in (None, "", []):
            self.add(field, _REQUIRED, "missing")
            return False
        return True

    def absent(self, value: object, field: str, message: str) -> None:
        if value not in (None, "", []):
            self.add(field, message, "not_expected")


def _years_between(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _postal_prefix(departement: str) -> str:
    """French postal codes start with the département (20 for Corsica, 97x overseas)."""
    return "20" if departement in ("2A", "2B") else departement


def _pays(r: _Report, refs: Referentiels, code: str | None, field: str) -> None:
    if code is not None and code not in refs.pays:
        r.add(field, "Ce pays est inconnu (code ISO 3166 à deux lettres attendu, par exemple FR).", "unknown")


def _lieu_france(
    r: _Report,
    refs: Referentiels,
    departement: str | None,
    commune: str | None,
    dep_field: str,
    com_field: str,
    *,
    commune_required: bool,
) -> None:
    if r.required(departement, dep_field) and departement not in refs.departements:
        r.add(dep_field, "Ce département est inconnu.", "unknown")
    if commune is None:
        if commune_required:
            r.required(commune, com_field)
        return
    found = refs.commune(commune)
    if found is None:
        r.add(com_field, "Cette commune est inconnue (code INSEE attendu, par exemple 31555 pour Toulouse).", "unknown")
    elif departement and found.departement != departement:
        r.add(com_field, f"La commune {found.nom} n'est pas dans le département {departement}.", "inconsistent")


def check_informations_personnelles(c: InformationsPersonnelles, refs: Referentiels, today: date) -> list[ErrorDetail]:
    r = _Report()
    if c.date_naissance > today:
        r.add("date_naissance", "La date de naissance ne peut pas être dans le futur.", "implausible")
    elif not AGE_MIN <= _years_between(c.date_naissance, today) <= AGE_MAX:
        r.add(
            "date_naissance",
            f"La date de naissance n'est pas plausible (âge attendu entre {AGE_MIN} et {AGE_MAX} ans).",
            "implausible",
        )
    _pays(r, refs, c.pays_naissance, "pays_naissance")
    _pays(r, refs, c.nationalite, "nationalite")
    if c.pays_naissance == FRANCE:
        _lieu_france(
            r,
            refs,
            c.departement_naissance,
            c.commune_naissance,
            "departement_naissance",
            "commune_naissance",
            commune_required=True,
        )
        r.absent(c.ville_naissance_etranger, "ville_naissance_etranger", _ABSENT_FRANCE)
    else:
        r.required(c.ville_naissance_etranger, "ville_naissance_etranger")
        r.absent(c.departement_naissance, "departement_naissance", _ABSENT_ABROAD)
        r.absent(c.commune_naissance, "commune_naissance", _ABSENT_ABROAD)
    if c.ine is not None:
        check = check_ine(c.ine)
        if not check.valid:
            r.add("ine", check.message or "INE invalide.", "ine")
    return r.details


def check_adresse(c: Adresse, refs: Referentiels, today: date) -> list[ErrorDetail]:
    r = _Report()
    _pays(r, refs, c.pays, "pays")
    if c.pays != FRANCE:
        r.required(c.ville_etranger, "ville_etranger")
        r.absent(c.commune, "commune", _ABSENT_ABROAD)
        r.absent(c.cedex, "cedex", _ABSENT_ABROAD)
        return r.details
    r.absent(c.ville_etranger, "ville_etranger", _ABSENT_FRANCE)
    has_cp = r.required(c.code_postal, "code_postal")
    if has_cp and not ((c.code_postal or "").isdigit() and len(c.code_postal or "") == 5):
        r.add("code_postal", "Un code postal français comporte 5 chiffres.", "format")
        has_cp = False
    if not r.required(c.commune, "commune"):
        return r.details
    commune = refs.commune(c.commune)
    if commune is None:
        r.add("commune", "Cette commune est inconnue (code INSEE attendu, par exemple 31555 pour Toulouse).", "unknown")
    elif has_cp and c.cedex is None and c.code_postal not in commune.codes_postaux:
        known = ", ".join(commune.codes_postaux) or "aucun"
        r.add(
            "code_postal",
            f"Le code postal {c.code_postal} ne correspond pas à la commune {commune.nom} "
            f"(codes postaux connus : {known}).",
            "inconsistent",
        )
    elif has_cp and c.cedex is not None and not (c.code_postal or "").startswith(_postal_prefix(commune.departement)):
        r.add("code_postal", f"Ce code CEDEX n'est pas dans le département de {commune.nom}.", "inconsistent")
    return r.details


def check_baccalaureat(c: Baccalaureat, refs: Referentiels, today: date, born: date | None) -> list[ErrorDetail]:
    r = _Report()
    if c.situation == "sans_bac":
        for field in (
            "annee",
            "serie",
            "mention",
            "pays",
            "departement",
            "commune",
            "etablissement",
            "uai_etablissement",
            "specialites",
            "options",
        ):
            r.absent(getattr(c, field), field, "Ce champ ne doit pas être renseigné pour « sans baccalauréat ».")
        return r.details
    if r.required(c.annee, "annee") and c.annee is not None:
        if c.annee > today.year:
            r.add("annee", "L'année d'obtention ne peut pas être dans le futur.", "implausible")
        elif born is not None and c.annee < born.year + 12:
            r.add(
                "annee", "L'année d'obtention n'est pas plausible au regard de votre date de naissance.", "implausible"
            )
    r.required(c.serie, "serie")
    if r.required(c.pays, "pays"):
        _pays(r, refs, c.pays, "pays")
    if c.pays == FRANCE:
        _lieu_france(r, refs, c.departement, c.commune, "departement", "commune", commune_required=False)
    else:
        r.absent(c.departement, "departement", _ABSENT_ABROAD)
        r.absent(c.commune, "commune", _ABSENT_ABROAD)
    if c.uai_etablissement is not None and not uai_valide(c.uai_etablissement):
        r.add("uai_etablissement", "Ce code UAI est invalide (7 chiffres et une lettre de contrôle).", "uai")
    return r.details


def _check_year(r: _Report, year: int, field: str, today: date) -> None:
    if year > today.year:
        r.add(field, "Cette année ne peut pas être dans le futur.", "implausible")
    elif year < today.year - AGE_MAX:
        r.add(field, "Cette année n'est pas plausible.", "implausible")


def check_cursus_externe(c: CursusExterne, refs: Referentiels, today: date) -> list[ErrorDetail]:
    r = _Report()
    for i, item in enumerate(c.items):
        p = f"items.{i}."
        start, end = (int(y) for y in item.annee_universitaire.split("-"))
        if end != start + 1:
            r.add(
                p + "annee_universitaire",
                "L'année universitaire s'écrit AAAA-AAAA avec deux années consécutives.",
                "format",
            )
        else:
            _check_year(r, start, p + "annee_universitaire", today)
        _pays(r, refs, item.pays, p + "pays")
        if item.pays == FRANCE:
            if item.departement is not None or item.commune is not None:
                _lieu_france(
                    r, refs, item.departement, item.commune, p + "departement", p + "commune", commune_required=False
                )
            r.absent(item.ville_etranger, p + "ville_etranger", _ABSENT_FRANCE)
        else:
            r.absent(item.departement, p + "departement", _ABSENT_ABROAD)
            r.absent(item.commune, p + "commune", _ABSENT_ABROAD)
    return r.details


def check_stages(c: Stages, refs: Referentiels, today: date) -> list[ErrorDetail]:
    r = _Report()
    for i, item in enumerate(c.items):
        _check_year(r, item.annee, f"items.{i}.annee", today)
    return r.details


def check_experiences(c: ExperiencesProfessionnelles, refs: Referentiels, today: date) -> list[ErrorDetail]:
    r = _Report()
    for i, item in enumerate(c.items):
        _check_year(r, item.annee, f"items.{i}.annee", today)
    return r.details


Checker = Callable[..., list[ErrorDetail]]

CHECKS: dict[str, Checker] = {
    "informations_personnelles": check_informations_personnelles,
    "adresse": check_adresse,
    "cursus_externe": check_cursus_externe,
    "stages": check_stages,
    "experiences_professionnelles": check_experiences,
}


def check_section(
    section: str, content, refs: Referentiels, today: date, born: date | None = None
) -> list[ErrorDetail]:
    if section == "baccalaureat":
        return check_baccalaureat(content, refs, today, born)
    return CHECKS[section](content, refs, today)
