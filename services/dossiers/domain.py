"""The dossier and its rules (pure): who may read or write what, the order, the lock, the
read-only parts imported from the student records, completeness.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from ecandidat.contracts import access
from ecandidat.contracts.access import CandidatureScope
from ecandidat.contracts.auth import Principal
from ecandidat.contracts.dossiers import (
    REQUIRED_SECTIONS,
    SECTION_LABELS,
    SECTION_MODELS,
    Completeness,
    SectionView,
)
from ecandidat.contracts.errors import Conflict, ErrorDetail, Forbidden, NotFound
from ecandidat.runtime.validation import french_details

# Fields of informations personnelles that come from the student records when an INE matches;
# the telephones stay the candidate's.
IMPORTED_IDENTITY_FIELDS = (
    "civilite",
    "nom_naissance",
    "nom_usage",
    "prenoms",
    "date_naissance",
    "pays_naissance",
    "departement_naissance",
    "commune_naissance",
    "ville_naissance_etranger",
    "nationalite",
    "ine",
)
WHOLE_SECTION = "*"


@dataclass(frozen=True)
class StoredSection:
    section: str
    version: int = 0
    data: dict[str, Any] | None = None
    imported: tuple[str, ...] = ()  # field names, or ("*",) for the whole section
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Dossier:
    account_id: uuid.UUID
    locked: bool = False
    ine_importe: str | None = None
    sections: dict[str, StoredSection] = field(default_factory=dict)
    # The candidate's candidatures as the staff scope rules see them (from candidatures' events).
    scopes: tuple[CandidatureScope, ...] = ()

    def section(self, name: str) -> StoredSection:
        return self.sections.get(name) or StoredSection(name)

    def with_section(self, stored: StoredSection) -> "Dossier":
        return replace(self, sections={**self.sections, stored.section: stored})


def dossier_state(dossier: Dossier) -> tuple:
    """What a candidate's view of the dossier is made of, but the sections' contents: each write
    of a section changes its version and time; the lock, the imported INE and the candidatures'
    scopes are the rest."""
    return (
        dossier.account_id,
        dossier.locked,
        dossier.ine_importe,
        dossier.scopes,
        tuple(sorted((s.section, s.version, s.updated_at, s.imported) for s in dossier.sections.values())),
    )


# -- access ------------------------------------------------------------------------------------

_NOT_YOURS = "Ce dossier n'existe pas ou ne vous est pas accessible."


def check_can_read(principal: Principal, dossier: Dossier) -> None:
    if principal.realm == "candidate":
        if principal.account_id != dossier.account_id:
            raise NotFound(_NOT_YOURS)
        return
    if not access.may_read_candidate(principal, dossier.scopes):
        raise access.out_of_scope("Ce dossier")


def check_can_write(principal: Principal, dossier: Dossier, section: str) -> None:
    """Refuse a save the principal may not make; the content itself is checked elsewhere."""
    check_can_read(principal, dossier)
    if principal.realm == "candidate":
        _check_candidate_write(dossier, section)
        return
    if section != "informations_personnelles":
        raise Forbidden(
            "Le personnel ne peut corriger que les informations personnelles d'un candidat.",
            details=[ErrorDetail(field=section, message="Rubrique non modifiable par le personnel.")],
        )
    if not access.may_manage_candidate(principal, dossier.scopes):
        raise Forbidden("Votre profil permet de consulter ce dossier, pas de le modifier.", reason="lecture_seule")


def _check_candidate_write(dossier: Dossier, section: str) -> None:
    if section == "cursus_interne":
        raise Conflict(
            "Le cursus interne provient du dossier universitaire et ne peut pas être modifié.",
            details=[ErrorDetail(field="cursus_interne", message="Rubrique en lecture seule.")],
        )
    if section == "informations_personnelles":
        if dossier.locked:
            raise Conflict(
                "Vous avez déposé une candidature : vos informations personnelles ne peuvent plus être modifiées "
                "(seule votre adresse électronique reste modifiable, depuis votre compte). "
                "Contactez la scolarité pour une correction.",
                details=[
                    ErrorDetail(field="informations_personnelles", message="Rubrique verrouillée.", code="locked")
                ],
                motif="verrouillee",
            )
        return
    if dossier.section("informations_personnelles").data is None:
        raise Conflict(
            "Renseignez d'abord vos informations personnelles : les rubriques se remplissent dans l'ordre.",
            details=[
                ErrorDetail(
                    field="informations_personnelles", message="Rubrique à renseigner en premier.", code="order"
                )
            ],
            motif="ordre",
        )
    if WHOLE_SECTION in dossier.section(section).imported:
        raise Conflict(
            f"La rubrique « {SECTION_LABELS[section]} » provient de votre dossier universitaire et ne peut pas être "
            "modifiée. Contactez la scolarité pour la corriger.",
            details=[ErrorDetail(field=section, message="Rubrique importée, en lecture seule.", code="imported")],
            motif="importee",
        )


def check_imported_fields_unchanged(stored: StoredSection, new: dict[str, Any]) -> None:
    """A candidate may not change the imported identity fields (only the telephones)."""
    old = stored.data or {}
    changed = [f for f in stored.imported if f != WHOLE_SECTION and old.get(f) != new.get(f)]
    if changed:
        raise Conflict(
            "Ces informations proviennent de votre dossier universitaire et ne peuvent pas être modifiées. "
            "Contactez la scolarité pour les corriger.",
            details=[ErrorDetail(field=f, message="Champ importé, non modifiable.", code="imported") for f in changed],
            motif="importee",
        )


def stale(current_version: int) -> Conflict:
    return Conflict(
        "Cette rubrique a été modifiée depuis que vous l'avez ouverte (dans un autre onglet ou par la scolarité). "
        "Rechargez-la avant d'enregistrer.",
        code="precondition_failed",
        version=current_version,
    )


def check_version(stored: StoredSection, expected: int) -> None:
    if stored.version != expected:
        raise stale(stored.version)


# -- completeness ------------------------------------------------------------------------------


def missing_fields(section: str, data: dict[str, Any] | None) -> list[str]:
    """French descriptions of what is missing for the section to be complete."""
    label = SECTION_LABELS[section]
    if data is None:
        return [f"{label} : rubrique à renseigner"] if section in REQUIRED_SECTIONS else []
    try:
        SECTION_MODELS[section].model_validate(data)
    except ValidationError as exc:
        return [f"{label} : {d.field or 'rubrique'} — {d.message}" for d in french_details(exc)]
    return []


def completeness(dossier: Dossier, exigees: Sequence[str] = ()) -> Completeness:
    """Whether the dossier allows applying: the three sections every application needs, and the
    optional ones a formation requires (`exigees`: at least one line each)."""
    flags: dict[str, bool] = {}
    manquants: list[str] = []
    a_completer: list[str] = []
    for s in REQUIRED_SECTIONS:
        missing = missing_fields(s, dossier.section(s).data)
        flags[s] = not missing
        manquants += missing
        a_completer += [s] if missing else []
    for s in (s for s in SECTION_LABELS if s in exigees):  # in the dossier's order
        data = dossier.section(s).data
        if not data or not data.get("items"):
            manquants.append(f"{SECTION_LABELS[s]} : rubrique à renseigner, exigée par cette formation")
            a_completer.append(s)
    return Completeness(
        account_id=dossier.account_id,
        complet=not a_completer,
        manquants=manquants,
        a_completer=a_completer,
        **flags,
    )


def view(dossier: Dossier, section: str, principal: Principal) -> SectionView:
    stored = dossier.section(section)
    missing = missing_fields(section, stored.data)
    read_only, why = _read_only(dossier, section, principal)
    imported = [f for f in stored.imported if f != WHOLE_SECTION]
    if WHOLE_SECTION in stored.imported:
        imported = sorted((stored.data or {}).keys())
    return SectionView(
        section=section,
        libelle=SECTION_LABELS[section],
        version=stored.version,
        renseignee=stored.data is not None,
        complete=stored.data is not None and not missing,
        manquants=missing,
        lecture_seule=read_only,
        motif_lecture_seule=why,
        champs_importes=imported,
        modifiee_le=stored.updated_at,
        donnees=stored.data,
    )


def _read_only(dossier: Dossier, section: str, principal: Principal) -> tuple[bool, str | None]:
    if principal.realm == "staff":
        if section == "informations_personnelles" and access.may_manage_candidate(principal, dossier.scopes):
            return False, None
        return True, "Consultation seulement."
    try:
        _check_candidate_write(dossier, section)
    except Conflict as refusal:
        return True, refusal.message
    return False, None
