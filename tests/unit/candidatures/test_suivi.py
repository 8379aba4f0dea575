"""The candidate's "suivi": what of the history they read, and in which words."""

from __future__ import annotations

from datetime import date, datetime, timezone

from services.candidatures.suivi import etapes

AT = datetime(2026, 3, 14, 9, 30, tzinfo=timezone.utc)


def row(action: str, **details) -> dict:
    return {"at": AT, "action": action, "details": details}


def test_the_steps_a_candidate_reads_in_the_guides_words() -> None:
    steps = etapes(
        [
            row("created"),
            row("transmitted", previous="en_attente"),
            row("piece_refusee", piece="CV", commentaire="Document illisible."),
            row("statut", old="receptionne", new="incomplet", cause="piece_refusee", piece="CV"),
            row("piece_validee", piece="CV"),
            row("decision_validee", kind="liste_complementaire", automatic=False),
            row("rang_liste_complementaire", old=3, new=2),
            row("confirmation"),
        ]
    )
    assert [(s.etape, s.libelle) for s in steps] == [
        ("creee", "Candidature créée"),
        ("transmise", "Candidature transmise"),
        ("piece_refusee", "Pièce refusée : CV"),
        ("statut", "Statut du dossier : Incomplet"),
        ("piece_validee", "Pièce validée : CV"),
        ("decision", "Décision : Liste complémentaire"),
        ("rang_liste_complementaire", "Liste complémentaire : vous êtes au rang 2"),
        ("confirmee", "Candidature confirmée"),
    ]
    assert steps[2].commentaire == "Document illisible." and steps[3].statut == "incomplet"
    assert steps[5].decision == "liste_complementaire" and steps[6].rang == 2


def test_the_back_office_stays_in_the_back_office() -> None:
    hidden = [
        row("note"),
        row("decision_saisie", kind="defavorable"),
        row("type_traitement", new="acces_direct"),
        row("date_limite_retour", ancienne="2026-06-21T00:00:00+02:00"),
    ]
    assert etapes(hidden) == []


def test_a_deadline_change_is_written_as_french_people_write_it() -> None:
    whole_day = etapes([row("date_limite_retour", nouvelle="2026-12-11T00:00:00+01:00", motif="Panne du serveur")])
    [step] = whole_day
    assert step.date_limite_retour == date(2026, 12, 10) and step.commentaire == "Panne du serveur"
    assert step.libelle == "Date limite de retour : jusqu'au 10 décembre 2026 inclus"
    [hour] = etapes([row("date_limite_retour", nouvelle="2026-12-11T06:00:00+01:00")])
    assert hour.libelle == "Date limite de retour : jusqu'au 11 décembre 2026 à 6 h 00"
