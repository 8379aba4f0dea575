"""The espace gestion's names of the étiquettes' colours (the web imports no contract)."""

from ecandidat.contracts.candidatures import COULEURS_ETIQUETTE
from web.gestion.offre import COULEURS


def test_the_colours_an_etiquette_may_take_are_the_api_s():
    assert [code for code, _label in COULEURS] == list(COULEURS_ETIQUETTE)
