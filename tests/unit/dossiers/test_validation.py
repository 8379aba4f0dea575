"""Section contents checked against the reference data and the date: French, field-named refusals."""

from __future__ import annotations

from datetime import date

import pytest

from ecandidat.contracts.dossiers import Adresse, Baccalaureat, CursusExterne, InformationsPersonnelles, Stages
from services.dossiers.referentiels import load
from services.dossiers.validation import check_section

from .samples import adresse, baccalaureat, bea, cursus_externe, infos_perso, stages

TODAY = date(2026, 5, 1)
REFS = load()


def fields(section, model, data, born=None):
    return {d.field: d.message for d in check_section(section, model.model_validate(data), REFS, TODAY, born)}


def test_reference_data_is_real_and_complete():
    assert len(REFS.departements) == 109 and REFS.departements["2A"] == "Corse-du-Sud"
    assert len(REFS.communes) > 34_000
    assert REFS.commune("31555").nom == "Toulouse" and "31100" in REFS.commune("31555").codes_postaux
    assert REFS.pays["DE"] == "Allemagne" and len(REFS.pays) == 249


def test_communes_are_found_by_postal_code_and_name_without_accents():
    assert [c.nom for c in REFS.search(code_postal="31000", departement=None, nom=None, limit=5)] == ["Toulouse"]
    first = REFS.search(code_postal=None, departement=None, nom="SAINT etienne", limit=5)[0]
    assert (first.nom, first.code) == ("Saint-Étienne", "42218")
    assert [c.code for c in REFS.search(code_postal=None, departement="2A", nom="ajac", limit=5)] == ["2A004"]


def test_valid_contents_pass():
    assert fields("informations_personnelles", InformationsPersonnelles, infos_perso(ine=bea("0612345678"))) == {}
    assert fields("adresse", Adresse, adresse()) == {}
    assert fields("baccalaureat", Baccalaureat, baccalaureat(uai_etablissement="0750654D"), date(2001, 3, 14)) == {}
    assert fields("cursus_externe", CursusExterne, cursus_externe()) == {}
    assert fields("stages", Stages, stages()) == {}


@pytest.mark.parametrize(
    "overrides,field,words",
    [
        (dict(commune_naissance="31999"), "commune_naissance", "inconnue"),
        (dict(commune_naissance="33063"), "commune_naissance", "n'est pas dans le département 31"),
        (dict(departement_naissance="96"), "departement_naissance", "inconnu"),
        (dict(date_naissance="2031-01-01"), "date_naissance", "futur"),
        (dict(date_naissance="2020-01-01"), "date_naissance", "plausible"),
        (dict(date_naissance="1900-01-01"), "date_naissance", "plausible"),
        (dict(ine="1234567890W"), "ine", "clé"),
        (dict(nationalite="XX"), "nationalite", "pays est inconnu"),
        (dict(pays_naissance="MA"), "ville_naissance_etranger", "obligatoire"),
        (dict(ville_naissance_etranger="Rabat"), "ville_naissance_etranger", "laissez-le vide"),
    ],
)
def test_informations_personnelles_refusals_name_the_field(overrides, field, words):
    refused = fields("informations_personnelles", InformationsPersonnelles, infos_perso(**overrides))
    assert words in refused[field]


def test_born_abroad_needs_a_city_and_no_french_place():
    data = infos_perso(pays_naissance="MA", ville_naissance_etranger="Rabat")
    assert "departement_naissance" in fields("informations_personnelles", InformationsPersonnelles, data)
    data.update(departement_naissance=None, commune_naissance=None)
    assert fields("informations_personnelles", InformationsPersonnelles, data) == {}


@pytest.mark.parametrize(
    "overrides,field,words",
    [
        (dict(code_postal="75001"), "code_postal", "ne correspond pas à la commune Toulouse"),
        (dict(commune="99999"), "commune", "inconnue"),
        (dict(code_postal=None), "code_postal", "obligatoire"),
        (dict(code_postal="3100"), "code_postal", "5 chiffres"),
        (dict(pays="DE", commune=None), "ville_etranger", "obligatoire"),
        (dict(code_postal="75058", cedex="CEDEX 9"), "code_postal", "CEDEX"),
    ],
)
def test_adresse_refusals(overrides, field, words):
    assert words in fields("adresse", Adresse, adresse(**overrides))[field]


def test_cedex_and_foreign_addresses_are_accepted():
    assert fields("adresse", Adresse, adresse(code_postal="31058", cedex="cedex 9")) == {}
    assert (
        fields(
            "adresse", Adresse, dict(pays="GB", ligne1="10 Downing St", code_postal="SW1A 2AA", ville_etranger="London")
        )
        == {}
    )


def test_baccalaureat_rules():
    born = date(2001, 3, 14)
    assert "plausible" in fields("baccalaureat", Baccalaureat, baccalaureat(annee=2005), born)["annee"]
    assert "futur" in fields("baccalaureat", Baccalaureat, baccalaureat(annee=2030), born)["annee"]
    assert (
        "UAI"
        in fields("baccalaureat", Baccalaureat, baccalaureat(uai_etablissement="0750654E"), born)["uai_etablissement"]
    )
    sans = fields("baccalaureat", Baccalaureat, dict(situation="sans_bac", annee=2019), born)
    assert "sans baccalauréat" in sans["annee"]
    assert fields("baccalaureat", Baccalaureat, dict(situation="sans_bac"), born) == {}


def test_list_sections_name_the_item():
    data = cursus_externe()
    data["items"][0]["annee_universitaire"] = "2019-2021"
    assert "consécutives" in fields("cursus_externe", CursusExterne, data)["items.0.annee_universitaire"]
    data = stages()
    data["items"][0]["annee"] = 2030
    assert "futur" in fields("stages", Stages, data)["items.0.annee"]
