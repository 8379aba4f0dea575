"""The dossier's sections as the candidate's pages show them: their order, names, fields, and
which every application needs; shared by the dossier's pages and the offer's (a formation may
require an optional one)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .i18n import N_


@dataclass(frozen=True)
class Section:
    slug: str
    label: str
    required: bool
    fields: tuple[str, ...] = ()  # the body's fields (for a list section: one item's fields)
    listed: bool = False  # a list of items (cursus externe, stages, expériences)
    communes: tuple[tuple[str, str], ...] = ()  # (commune field, the département field that narrows the search)
    integers: tuple[str, ...] = ()
    decimals: tuple[str, ...] = ()


SECTIONS = (
    Section(
        "informations-personnelles",
        N_("Informations personnelles"),
        True,
        (
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
            "telephone",
            "portable",
        ),
        communes=(("commune_naissance", "departement_naissance"),),
    ),
    Section(
        "adresse",
        N_("Adresse"),
        True,
        ("pays", "ligne1", "ligne2", "ligne3", "code_postal", "commune", "ville_etranger", "cedex"),
        communes=(("commune", ""),),
    ),
    Section(
        "baccalaureat",
        N_("Baccalauréat"),
        True,
        (
            "situation",
            "annee",
            "serie",
            "mention",
            "pays",
            "departement",
            "commune",
            "etablissement",
            "uai_etablissement",
            "specialites",
        ),
        communes=(("commune", "departement"),),
        integers=("annee",),
    ),
    Section("cursus-interne", N_("Cursus interne"), False),
    Section(
        "cursus-externe",
        N_("Cursus externe"),
        False,
        (
            "annee_universitaire",
            "etablissement",
            "pays",
            "departement",
            "commune",
            "ville_etranger",
            "diplome",
            "libelle",
            "obtenu",
            "mention",
        ),
        listed=True,
        communes=(("commune", "departement"),),
    ),
    Section(
        "stages",
        N_("Stages"),
        False,
        ("annee", "duree", "heures_par_semaine", "organisme", "descriptif"),
        listed=True,
        integers=("annee",),
        decimals=("heures_par_semaine",),
    ),
    Section(
        "experiences-professionnelles",
        N_("Expériences professionnelles"),
        False,
        ("annee", "intitule", "duree", "organisme", "objectif"),
        listed=True,
        integers=("annee",),
    ),
)
BY_SLUG = {s.slug: s for s in SECTIONS}
BY_KEY = {s.slug.replace("-", "_"): s for s in SECTIONS}


def to_complete(refusal: Mapping[str, Any]) -> list[str]:
    """The sections an API refusal of an incomplete dossier names (its `rubriques`), in order,
    those the pages know."""
    return [r for r in refusal.get("rubriques") or [] if r in BY_KEY]
