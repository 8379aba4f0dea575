"""What the candidate reads of a candidature's history ("Suivi de ma candidature"), without I/O.

The history (`candidature_history`) records every change with its actor. The candidate sees
the steps of the guide in its words; the staff's notes, a decision entered but not validated,
the type de traitement and who in the staff acted stay in the back-office.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ecandidat.contracts.candidatures import EtapeSuivi
from ecandidat.runtime.french import dernier_jour, limite_courte, limite_longue

from .domain import DECISIONS, STATUTS


def etapes(history: Iterable[Mapping[str, Any]]) -> list[EtapeSuivi]:
    """The candidate's steps, oldest first, from the history's rows (at, action, details)."""
    steps = (etape(row["at"], row["action"], row["details"] or {}) for row in history)
    return [s for s in steps if s is not None]


def etape(at: datetime, action: str, details: Mapping[str, Any]) -> EtapeSuivi | None:
    match action:
        case "created":
            return EtapeSuivi(at=at, etape="creee", libelle="Candidature créée")
        case "transmitted":
            return EtapeSuivi(at=at, etape="transmise", libelle="Candidature transmise")
        case "statut":
            new = details.get("new")
            label = STATUTS.get(str(new), new)
            return EtapeSuivi(
                at=at,
                etape="statut",
                statut=new,
                libelle=f"Statut du dossier : {label}",
                piece=details.get("piece"),
                commentaire=details.get("commentaire"),
            )
        case "piece_validee":
            piece = details.get("piece")
            return EtapeSuivi(at=at, etape="piece_validee", piece=piece, libelle=f"Pièce validée : {piece}")
        case "piece_refusee":
            piece = details.get("piece")
            return EtapeSuivi(
                at=at,
                etape="piece_refusee",
                piece=piece,
                commentaire=details.get("commentaire"),
                libelle=f"Pièce refusée : {piece}",
            )
        case "decision_validee":
            kind = details.get("kind")
            return EtapeSuivi(
                at=at, etape="decision", decision=kind, libelle=f"Décision : {DECISIONS.get(str(kind), kind)}"
            )
        case "rang_liste_complementaire":
            rang = details.get("new")
            return EtapeSuivi(
                at=at,
                etape="rang_liste_complementaire",
                rang=rang,
                libelle=f"Liste complémentaire : vous êtes au rang {rang}",
            )
        case "confirmation":
            return EtapeSuivi(at=at, etape="confirmee", libelle="Candidature confirmée")
        case "desistement":
            return EtapeSuivi(at=at, etape="desistement", libelle="Désistement")
        case "cancelled":
            return EtapeSuivi(at=at, etape="annulee", libelle="Candidature annulée")
        case "date_limite_retour" if details.get("nouvelle"):
            limite = datetime.fromisoformat(str(details["nouvelle"]))
            whole_day = "à" not in limite_courte(limite)
            words = f"jusqu'au {limite_longue(limite)}{' inclus' if whole_day else ''}"
            return EtapeSuivi(
                at=at,
                etape="date_limite_retour",
                date_limite_retour=dernier_jour(limite),
                commentaire=details.get("motif"),
                libelle=f"Date limite de retour : {words}",
            )
    return None
