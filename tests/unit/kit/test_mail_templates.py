"""Every mail template renders, in French, with what its composer and the directory provide."""

from __future__ import annotations

from datetime import date, datetime, time, timezone

import pytest

from services.mailer.render import Renderer

DIRECTORY = {"nom": "TEST2", "prenom": "Zoé", "numero_dossier": "22PB7Y36", "formation": "DAEU option A",
             "centre": "Diplôme d'Accès aux Etudes Universitaires (DAEU)", "date_limite_retour": date(2022, 6, 20)}
AT = datetime(2022, 6, 1, 10, 0, tzinfo=timezone.utc)
CONTEXTS = {
    "candidature_created": {"base_url": "https://ecandidat.example"},
    "candidature_cancelled": {"cancelled_at": AT},
    "candidature_transmitted": {"received_at": AT},
    "candidature_status": {"statut": "Incomplet", "commentaire": "Pièce manquante", "changed_at": AT},
    "piece_refused": {"piece": "Curriculum vitae détaillé", "commentaire": "Illisible", "base_url": "https://x"},
    "decision_liste_attente": {"commentaire": None, "rang": None},
    "decision_liste_complementaire": {"rang": 2, "commentaire": None},
    "decision_preselection": {"preselection_date": date(2022, 7, 1), "preselection_heure": time(14, 30),
                              "preselection_lieu": "Salle 12", "commentaire": None, "contact_libelle": "Formation Continue",
                              "contact_adresse": "5 Allées Antonio Machado\n31058 TOULOUSE Cedex9"},
    "decision_favorable": {"deadline": AT, "automatic": True, "commentaire": None, "motif": None, "base_url": "https://x"},
    "decision_defavorable": {"motif": "Prérequis non satisfaits", "commentaire": None, "deadline": None, "automatic": False,
                             "base_url": "https://x"},
    "candidature_confirmed": {"confirmed_at": AT},
    "candidature_withdrawn": {"withdrawn_at": AT, "automatic": True},
    "confirmation_reminder": {"deadline": AT},
}


@pytest.mark.parametrize("template", sorted(CONTEXTS))
def test_candidature_mails_render(template):
    rendered = Renderer().render(template, {**DIRECTORY, **CONTEXTS[template]})
    assert "Bonjour Zoé TEST2" in rendered.text and "22PB7Y36" in rendered.text
    assert "DAEU option A" in rendered.text or "DAEU option A" in rendered.subject
    assert "<p>Bonjour Zoé TEST2" in rendered.html
    assert "{{" not in rendered.text and "{%" not in rendered.html


def test_the_creation_mail_says_what_the_guide_says():
    text = Renderer().render("candidature_created", {**DIRECTORY, **CONTEXTS["candidature_created"]}).text
    assert "Vous venez de candidater à la formation DAEU option A." in text
    assert "Vous avez jusqu'au 20/06/2022 pour compléter votre dossier" in text
    assert "Le service de scolarité\nDiplôme d'Accès aux Etudes Universitaires (DAEU)" in text


def test_every_template_on_disk_is_covered():
    renderer = Renderer()
    account_templates = {t for t in renderer.templates() if t.startswith(("account_", "staff_", "mail_check"))}
    assert set(renderer.templates()) - account_templates == set(CONTEXTS)
