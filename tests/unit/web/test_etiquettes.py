"""The espace gestion's words for what the API gives as codes: the étiquettes' colours (the web
imports no contract), the candidature's history."""

from ecandidat.contracts.candidatures import COULEURS_ETIQUETTE
from web.gestion.offre import COULEURS


def test_the_colours_an_etiquette_may_take_are_the_api_s():
    assert [code for code, _label in COULEURS] == list(COULEURS_ETIQUETTE)


def test_a_history_entry_is_told_in_words_in_its_order_whatever_the_order_jsonb_kept():
    from web.gestion.candidatures import history_line

    line = history_line("statut", {"new": "incomplet", "old": "receptionne", "cause": "piece_refusee", "piece": "CV"})
    assert line == {
        "action": "Statut du dossier",
        "details": ["Avant\xa0: Réceptionné", "Après\xa0: Incomplet", "Pièce\xa0: CV", "Cause\xa0: une pièce refusée"],
    }
    assert history_line("type_traitement", {"new": "acces_direct", "old": "en_attente", "valide": True})["details"] == [
        "Avant\xa0: En attente",
        "Après\xa0: Accès direct",
        "Validé\xa0: Oui",
    ]
    assert history_line("inconnue", {"x": 1, "vide": None}) == {"action": "inconnue", "details": ["x\xa0: 1"]}
