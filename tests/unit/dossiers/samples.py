"""Valid dossier contents and registry CSV lines (those of the demo seed's), shared by the dossiers tests
at every level."""

from __future__ import annotations

from typing import Any

from services.dossiers.ine import bea_key
from services.dossiers.seed import registry_csv as registry_csv
from services.dossiers.seed import registry_row as registry_row


def bea(body: str) -> str:
    """A valid INE-BEA for 10 digits (check letter by the published modulo-23 rule)."""
    return body + bea_key(body)


def infos_perso(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = dict(
        civilite="Mme",
        nom_naissance="Garonne",
        prenoms="Lucie Marie",
        date_naissance="2001-03-14",
        pays_naissance="FR",
        departement_naissance="31",
        commune_naissance="31555",  # Toulouse
        nationalite="FR",
        telephone="05 61 00 00 00",
        portable="+33 6 12 34 56 78",
    )
    values.update(overrides)
    return values


def adresse(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = dict(pays="FR", ligne1="5 allées Antonio Machado", code_postal="31100", commune="31555")
    values.update(overrides)
    return values


def baccalaureat(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = dict(
        situation="bac",
        annee=2019,
        serie="Générale",
        mention="bien",
        pays="FR",
        departement="31",
        commune="31555",
        etablissement="Lycée Pierre-de-Fermat",
        specialites=["Mathématiques", "Physique-chimie"],
    )
    values.update(overrides)
    return values


def cursus_externe() -> dict[str, Any]:
    return {
        "items": [
            dict(
                annee_universitaire="2019-2020",
                etablissement="Université de Bordeaux",
                pays="FR",
                departement="33",
                commune="33063",
                diplome="Licence",
                libelle="Licence 1 Psychologie",
                obtenu="oui",
                mention="AB",
            )
        ]
    }


def stages() -> dict[str, Any]:
    return {
        "items": [
            dict(
                annee=2021,
                duree="8 semaines",
                heures_par_semaine=35,
                organisme="CHU de Toulouse",
                descriptif="Observation en service de gériatrie.",
            )
        ]
    }


def experiences() -> dict[str, Any]:
    return {
        "items": [
            dict(
                annee=2022,
                intitule="Animateur",
                duree="2 mois",
                organisme="Centre de loisirs",
                objectif="Encadrement d'enfants de 6 à 10 ans.",
            )
        ]
    }
