"""Valid dossier contents and registry CSV lines, shared by the dossiers tests at every level."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from services.dossiers.ine import bea_key
from services.dossiers.registry import COLUMNS


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


def registry_row(ine: str, **overrides: Any) -> dict[str, str]:
    row = {c: "" for c in COLUMNS}
    row.update(
        ine=ine,
        civilite="M.",
        nom_naissance="Dupont",
        prenoms="Jean Paul",
        date_naissance="21/06/2000",
        pays_naissance="FR",
        departement_naissance="2A",
        commune_naissance="2A004",
        nationalite="FR",
        adresse_pays="FR",
        adresse_ligne1="1 rue du Taur",
        adresse_code_postal="31000",
        adresse_commune="31555",
        bac_situation="bac",
        bac_annee="2018",
        bac_serie="S",
        bac_mention="assez_bien",
        bac_pays="FR",
        bac_departement="75",
        bac_etablissement="Lycée Henri-IV",
        bac_uai="0750654D",
        cursus_interne=json.dumps(
            [
                {
                    "annee_universitaire": "2018-2019",
                    "code_formation": "L1PSY",
                    "libelle": "Licence 1 Psychologie",
                    "resultat": "ADM",
                }
            ],
            ensure_ascii=False,
        ),
    )
    row.update(overrides)
    return row


def registry_csv(rows: list[dict[str, str]], delimiter: str = ";", columns: tuple[str, ...] = COLUMNS) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=list(columns), delimiter=delimiter, lineterminator="\n", extrasaction="ignore"
    )
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")
