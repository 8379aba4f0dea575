"""Every mail template renders, in French, with what its composer and the directory provide."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timezone

import pytest

from services.mailer.render import Renderer
from tests.french import as_read

DIRECTORY = {
    "nom": "TEST2",
    "prenom": "Zoé",
    "numero_dossier": "22PB7Y36",
    "formation": "DAEU option A",
    "centre": "Diplôme d'Accès aux Etudes Universitaires (DAEU)",
    "date_limite_retour": date(2022, 6, 20),
}
AT = datetime(2022, 6, 1, 10, 0, tzinfo=timezone.utc)
CONTEXTS = {
    "candidature_created": {"base_url": "https://ecandidat.example"},
    "candidature_cancelled": {"cancelled_at": AT},
    "candidature_transmitted": {"received_at": AT},
    "candidature_status": {"statut": "Incomplet", "commentaire": "Pièce manquante", "changed_at": AT},
    "piece_refused": {
        "piece": "Curriculum vitae détaillé",
        "commentaire": "Illisible",
        "base_url": "https://x",
        "transmise": True,
    },
    "decision_liste_attente": {"commentaire": None, "rang": None},
    "decision_liste_complementaire": {"rang": 2, "commentaire": None},
    "decision_preselection": {
        "preselection_date": date(2022, 7, 1),
        "preselection_heure": time(14, 30),
        "preselection_lieu": "Salle 12",
        "commentaire": None,
        "contact_libelle": "Formation Continue",
        "contact_adresse": "5 Allées Antonio Machado\n31058 TOULOUSE Cedex9",
    },
    "decision_favorable": {
        "deadline": AT,
        "promotion": True,
        "commentaire": None,
        "motif": None,
        "base_url": "https://x",
        "signataire_nom": "Claire Moulin",
        "signataire_qualite": "Responsable du DAEU",
    },
    "decision_defavorable": {
        "motif": "Prérequis non satisfaits",
        "commentaire": None,
        "deadline": None,
        "promotion": False,
        "base_url": "https://x",
        "signataire_nom": None,
        "signataire_qualite": None,
    },
    "candidature_confirmed": {
        "confirmed_at": AT,
        "modalites": "Prenez rendez-vous avec le secrétariat.",
        "base_url": "https://x",
        "signataire_nom": "Claire Moulin",
        "signataire_qualite": "Responsable du DAEU",
    },
    "candidature_withdrawn": {"withdrawn_at": AT, "automatic": True},
    "confirmation_reminder": {"deadline": AT},
    "candidature_deadline": {
        "limite": "22/06/2022 à 06:00",
        "ancienne": "20/06/2022",
        "prolongee": True,
        "incident": True,
        "motif": "Panne du 19/06 entre 8 h et 20 h.",
        "base_url": "https://x",
    },
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


def test_the_letters_mails_say_what_the_letter_says():
    """The favourable mail sends the letter and points to it for the modalities; the confirmation
    mail repeats them; both are signed by the letter's signatory."""
    favorable = Renderer().render("decision_favorable", {**DIRECTORY, **CONTEXTS["decision_favorable"]}).text
    assert favorable.count("Une place s'est libérée") == 1
    assert "selon les modalités indiquées dans votre lettre d'admission" in favorable
    assert "vous seront précisées" not in favorable
    assert "Claire Moulin\nResponsable du DAEU\nDiplôme d'Accès aux Etudes Universitaires (DAEU)" in favorable
    confirmed = Renderer().render("candidature_confirmed", {**DIRECTORY, **CONTEXTS["candidature_confirmed"]}).text
    assert "selon les modalités indiquées dans votre lettre d'admission" in confirmed
    assert "Prenez rendez-vous avec le secrétariat." in confirmed and "Claire Moulin\nResponsable du DAEU" in confirmed
    unsigned = Renderer().render("decision_defavorable", {**DIRECTORY, **CONTEXTS["decision_defavorable"]}).text
    assert "Le service de scolarité\nDiplôme d'Accès aux Etudes Universitaires (DAEU)" in unsigned


def test_every_template_on_disk_is_covered():
    renderer = Renderer()
    account_templates = {
        t for t in renderer.templates() if t.startswith(("account_", "staff_", "mail_check", "webhook_", "commission_"))
    }
    assert set(renderer.templates()) - account_templates == set(CONTEXTS)


def test_a_confirmation_deadline_is_written_as_people_read_it():
    """A deadline at midnight is the end of the day before: « jusqu'au 08/12/2026 inclus », never
    « avant le 09/12/2026 à 00:00 » (read as one day too many)."""
    renderer = Renderer()
    midnight = datetime(2026, 12, 8, 23, 0, tzinfo=timezone.utc)  # 09/12/2026 00:00 in Paris
    context = {**DIRECTORY, **CONTEXTS["decision_favorable"], "deadline": midnight}
    favorable = renderer.render("decision_favorable", context)
    assert "vous désister si vous renoncez à l'admission, jusqu'au 08/12/2026 inclus," in favorable.text
    assert "00:00" not in favorable.text + favorable.html
    reminder = renderer.render("confirmation_reminder", {**DIRECTORY, "deadline": midnight})
    assert reminder.subject.endswith("jusqu'au 08/12/2026 inclus")
    afternoon = datetime(2026, 12, 8, 13, 30, tzinfo=timezone.utc)
    assert (
        "avant le 08/12/2026 à 14:30"
        in renderer.render("confirmation_reminder", {**DIRECTORY, "deadline": afternoon}).text
    )


def test_the_disabled_webhook_mail_says_what_to_do():
    context = {
        "url": "https://scolarite.univ-exemple.fr/hook",
        "endpoint_id": "3f2c1a9e-6b7d-4e21-9c0a-5d8e7f6a1b2c",
        "failing_since": AT,
        "disabled_at": AT,
        "last_error": "HTTP 500",
        "base_url": "https://x",
    }
    rendered = Renderer().render("webhook_disabled", context)
    assert "https://scolarite.univ-exemple.fr/hook" in rendered.text and "HTTP 500" in rendered.text
    assert "/api/v1/staff/webhooks/3f2c1a9e-6b7d-4e21-9c0a-5d8e7f6a1b2c/resume" in rendered.text
    assert "{{" not in rendered.text and "<code>https://scolarite.univ-exemple.fr/hook</code>" in rendered.html


@pytest.mark.parametrize("alerte", ["transmission", "annulation", "desistement", "promotion"])
def test_a_commission_alert_says_what_happened_to_which_candidature_and_leads_to_it(alerte):
    from ecandidat.contracts.candidatures import CommissionAlerted
    from ecandidat.contracts.envelope import envelope
    from services.mailer.catalogue import MailContext, load

    event = CommissionAlerted(
        candidature_id="5c0e0d4a-1f7b-4d8e-9a51-2b3c4d5e6f70",
        account_id="0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9",
        numero_dossier="22PB7Y36",
        formation_code="DAEU-A",
        formation_libelle="DAEU option A",
        centre_code="DAEU",
        commission_code="COM-DAEU",
        commission_libelle="Commission du DAEU",
        email="commission.daeu@univ-exemple.fr",
        alerte=alerte,
        nom="TEST2",
        prenom="Zoé",
        automatic=alerte == "desistement",
    )
    meta = envelope(event, event_id=uuid.uuid4(), time=AT, subject=str(event.candidature_id))
    [mail] = load()[CommissionAlerted](event, meta, MailContext(public_base_url="https://ecandidat.example"))
    assert mail.recipient == "commission.daeu@univ-exemple.fr" and mail.account_id is None
    rendered = Renderer().render(mail.template, mail.context)
    said = {
        "transmission": "a été transmise le 01/06/2022 à 12:00 : le dossier est réceptionné et attend son examen.",
        "annulation": "a été annulée par le candidat le 01/06/2022 à 12:00.",
        "desistement": "a fait l'objet d'un désistement le 01/06/2022 à 12:00.\nDésistement automatique : la date "
        "limite de confirmation est passée sans réponse du candidat.",
        "promotion": "a reçu un avis favorable depuis la liste complémentaire le 01/06/2022 à 12:00 : une place "
        "s'est libérée ; le candidat doit confirmer son inscription.",
    }[alerte]
    text = as_read(rendered.text)
    assert f"La candidature n° 22PB7Y36 de Zoé TEST2 à la formation « DAEU option A » {said}" in text, text
    assert "https://ecandidat.example/personnel/candidatures/5c0e0d4a-1f7b-4d8e-9a51-2b3c4d5e6f70" in rendered.text
    assert "22PB7Y36" in rendered.subject and "DAEU option A" in rendered.subject
    assert 'href="https://ecandidat.example/personnel/candidatures/5c0e0d4a-' in rendered.html
    assert "{{" not in rendered.text and "{%" not in rendered.html


def test_a_piece_refused_before_the_transmission_does_not_say_the_dossier_is_incomplete():
    context = {**DIRECTORY, **CONTEXTS["piece_refused"]}
    after = Renderer().render("piece_refused", context)
    assert after.subject == "Pièce refusée : votre dossier pour la formation DAEU option A est incomplet"
    assert "cliquez à nouveau sur « Transmettre ma candidature »" in as_read(after.text)
    # the templates' own colons and guillemets hold to their words, in both parts; the subject is a
    # line of plain spaces (checked above)
    for part in (after.text, after.html):
        assert "Numéro de dossier eCandidat\u00a0: 22PB7Y36" in part and "«\u00a0Transmettre" in part, part
    # and so do the values written into them: a gestionnaire's comment
    commented = Renderer().render("piece_refused", {**context, "commentaire": "Illisible : rescannez-le !"})
    for part in (commented.text, commented.html):
        assert "Illisible\u00a0: rescannez-le\u00a0!" in part, part
    before = Renderer().render("piece_refused", {**context, "transmise": False})
    assert "incomplet" not in before.subject and "Pièce refusée" in before.subject, before.subject
    assert "n'est pas encore transmise" in before.text and "à nouveau sur" not in before.text
    assert "n'est pas encore transmise" in before.html and "placé en attente" not in before.html


def test_a_commissions_daily_summary_tells_each_change_under_its_commission():
    """Two commissions sharing a mailbox: one summary, each change under its commission, with its link."""
    import json

    from services.mailer.store import _iso

    def item(commission: str, numero: str, evenement: str, suite: str | None = None) -> dict:
        context = {
            "commission": commission,
            "formation": "DAEU option A",
            "numero_dossier": numero,
            "candidat": "Zoé TEST2",
            "objet": "candidature transmise",
            "evenement": evenement,
            "suite": suite,
            "automatique": False,
            "at": AT,
            "lien": f"https://ecandidat.example/personnel/candidatures/{numero}",
        }
        return json.loads(json.dumps({key: _iso(value) for key, value in context.items()}))  # as the mailer holds it

    items = [
        item("Commission du DAEU", "22PB7Y36", "a été transmise", "le dossier est réceptionné et attend son examen."),
        item("Commission du DAEU", "22PB7Y37", "a été annulée par le candidat"),
        item("Commission FC", "22PB7Y38", "a fait l'objet d'un désistement"),
    ]
    rendered = Renderer().render("commission_summary", {"items": items, "since": AT})
    assert rendered.subject == "eCandidat — récapitulatif des alertes : 3 changements"
    text = as_read(rendered.text)
    assert "dont vos commissions ont demandé à être alertées, depuis le 01/06/2022 à 12:00." in text, text
    assert "Commission « Commission du DAEU » (2) :" in text and "Commission « Commission FC » (1) :" in text
    assert (
        "- La candidature n° 22PB7Y37 de Zoé TEST2 à la formation « DAEU option A » a été annulée par le "
        "candidat le 01/06/2022 à 12:00." in text
    )
    assert "Consulter la candidature : https://ecandidat.example/personnel/candidatures/22PB7Y38" in text
    assert rendered.html.count('href="https://ecandidat.example/personnel/candidatures/') == 3
    one = Renderer().render("commission_summary", {"items": items[:1], "since": AT})
    assert one.subject == "eCandidat — récapitulatif des alertes de la commission « Commission du DAEU » : 1 changement"


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 12, 4, 5, 59, tzinfo=timezone.utc), datetime(2026, 12, 3, 6, 0, tzinfo=timezone.utc)),
        (datetime(2026, 12, 4, 6, 0, tzinfo=timezone.utc), datetime(2026, 12, 4, 6, 0, tzinfo=timezone.utc)),
        (
            datetime(2026, 7, 1, 5, 30, tzinfo=timezone.utc),
            datetime(2026, 7, 1, 5, 0, tzinfo=timezone.utc),
        ),  # summer time
    ],
)
def test_the_summaries_go_at_their_hour_in_paris(now, expected):
    from services.mailer.jobs import last_summary_time

    assert last_summary_time(now, 7) == expected
