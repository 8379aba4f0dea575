"""The dossier as the candidate filled it, for people to read (the candidature PDF): each section's
fields under their French labels, in the form's order, values in words (the commune's name for its
INSEE code, « Bien » for `bien`, « 12 avril 1990 » for a date). Empty fields are left out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from ecandidat.contracts.dossiers import Bloc, Champ
from ecandidat.runtime.french import date_longue

from .referentiels import Referentiels

Valeur = Callable[[Any, dict[str, Any], Referentiels], str]


def _texte(value: Any, data: dict[str, Any], refs: Referentiels) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}".replace(".", ",")
    return str(value)


def _choix(labels: dict[str, str]) -> Valeur:
    return lambda value, data, refs: labels.get(value, str(value))


def _date(value: Any, data: dict[str, Any], refs: Referentiels) -> str:
    return date_longue(date.fromisoformat(value)) if isinstance(value, str) else date_longue(value)


def _pays(value: Any, data: dict[str, Any], refs: Referentiels) -> str:
    return refs.pays.get(value, value)


def _departement(value: Any, data: dict[str, Any], refs: Referentiels) -> str:
    nom = refs.departements.get(value)
    return f"{nom} ({value})" if nom else value


def _commune(value: Any, data: dict[str, Any], refs: Referentiels) -> str:
    commune = refs.commune(value)
    return commune.nom if commune else value


CIVILITES = {"M.": "Monsieur", "Mme": "Madame"}
SITUATIONS = {
    "bac": "Titulaire du baccalauréat",
    "equivalence": "Titulaire d'un titre admis en équivalence",
    "sans_bac": "Sans baccalauréat",
}
MENTIONS = {
    "passable": "Passable",
    "assez_bien": "Assez bien",
    "bien": "Bien",
    "tres_bien": "Très bien",
    "tres_bien_felicitations": "Très bien avec les félicitations du jury",
}
OBTENU = {"oui": "Oui", "non": "Non", "en_cours": "En cours"}

# section → [(field, label, how the value reads)], in the form's order.
FIELDS: dict[str, list[tuple[str, str, Valeur]]] = {
    "informations_personnelles": [
        ("civilite", "Civilité", _choix(CIVILITES)),
        ("nom_naissance", "Nom de naissance", _texte),
        ("nom_usage", "Nom d'usage", _texte),
        ("prenoms", "Prénoms", _texte),
        ("date_naissance", "Date de naissance", _date),
        ("pays_naissance", "Pays de naissance", _pays),
        ("departement_naissance", "Département de naissance", _departement),
        ("commune_naissance", "Commune de naissance", _commune),
        ("ville_naissance_etranger", "Ville de naissance", _texte),
        ("nationalite", "Nationalité", _pays),
        ("ine", "INE / BEA", _texte),
        ("telephone", "Téléphone", _texte),
        ("portable", "Téléphone portable", _texte),
    ],
    "adresse": [
        ("pays", "Pays", _pays),
        ("ligne1", "Adresse", _texte),
        ("ligne2", "Complément d'adresse", _texte),
        ("ligne3", "Complément d'adresse (suite)", _texte),
        ("code_postal", "Code postal", _texte),
        ("commune", "Commune", _commune),
        ("ville_etranger", "Ville", _texte),
        ("cedex", "Cedex", _texte),
    ],
    "baccalaureat": [
        ("situation", "Situation", _choix(SITUATIONS)),
        ("annee", "Année d'obtention", _texte),
        ("serie", "Série", _texte),
        ("mention", "Mention", _choix(MENTIONS)),
        ("specialites", "Spécialités", _texte),
        ("options", "Options", _texte),
        ("pays", "Pays d'obtention", _pays),
        ("departement", "Département", _departement),
        ("commune", "Commune", _commune),
        ("etablissement", "Établissement", _texte),
        ("uai_etablissement", "Code UAI de l'établissement", _texte),
    ],
    "cursus_interne": [
        ("annee_universitaire", "Année universitaire", _texte),
        ("code_formation", "Code de la formation", _texte),
        ("libelle", "Formation", _texte),
        ("resultat", "Résultat", _texte),
        ("mention", "Mention", _texte),
    ],
    "cursus_externe": [
        ("annee_universitaire", "Année universitaire", _texte),
        ("etablissement", "Établissement", _texte),
        ("pays", "Pays", _pays),
        ("departement", "Département", _departement),
        ("commune", "Commune", _commune),
        ("ville_etranger", "Ville", _texte),
        ("diplome", "Diplôme", _texte),
        ("libelle", "Intitulé de la formation", _texte),
        ("obtenu", "Diplôme obtenu", _choix(OBTENU)),
        ("mention", "Mention", _texte),
    ],
    "stages": [
        ("annee", "Année", _texte),
        ("duree", "Durée", _texte),
        ("heures_par_semaine", "Heures par semaine", _texte),
        ("organisme", "Organisme d'accueil", _texte),
        ("descriptif", "Descriptif", _texte),
    ],
    "experiences_professionnelles": [
        ("annee", "Année", _texte),
        ("intitule", "Intitulé du poste", _texte),
        ("duree", "Durée", _texte),
        ("organisme", "Employeur", _texte),
        ("objectif", "Missions", _texte),
    ],
}
# The title of each entry of a list section.
ENTRIES = {
    "cursus_interne": "Inscription",
    "cursus_externe": "Formation",
    "stages": "Stage",
    "experiences_professionnelles": "Expérience professionnelle",
}


def _champs(section: str, data: dict[str, Any], refs: Referentiels) -> list[Champ]:
    return [
        Champ(libelle=label, valeur=read(data[name], data, refs))
        for name, label, read in FIELDS[section]
        if data.get(name) not in (None, "", [])
    ]


def blocs(section: str, data: dict[str, Any] | None, refs: Referentiels) -> list[Bloc]:
    """The section as blocks of labelled values: one for a form, one per entry for a list."""
    if not data:
        return []
    if section not in ENTRIES:
        return [Bloc(champs=_champs(section, data, refs))]
    return [
        Bloc(titre=f"{ENTRIES[section]} {i}", champs=_champs(section, item, refs))
        for i, item in enumerate(data.get("items") or [], 1)
    ]
