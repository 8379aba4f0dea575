"""The dossier as people read it (the candidature PDF): French labels, values in words."""

from __future__ import annotations

import pytest

from ecandidat.contracts.dossiers import SECTION_MODELS
from services.dossiers.lisible import FIELDS, blocs
from services.dossiers.referentiels import load

from .samples import adresse, baccalaureat, experiences, infos_perso, stages


@pytest.mark.parametrize("section", sorted(SECTION_MODELS))
def test_every_field_of_every_form_has_a_french_label(section):
    model = SECTION_MODELS[section]
    if "items" in model.model_fields:  # a list section: the fields of one entry
        model = model.model_fields["items"].annotation.__args__[0]
    assert sorted(name for name, _, _ in FIELDS[section]) == sorted(model.model_fields)


def lines(section, data) -> dict[str, str]:
    [bloc] = blocs(section, data, load())
    return {c.libelle: c.valeur for c in bloc.champs}


def test_codes_and_dates_read_in_words():
    identity = lines("informations_personnelles", infos_perso(date_naissance="1990-04-12", nom_usage=None))
    assert identity["Date de naissance"] == "12 avril 1990"
    assert identity["Commune de naissance"] == "Toulouse" and identity["Pays de naissance"] == "France"
    assert identity["Civilité"] == "Madame" and "Nom d'usage" not in identity, "an empty field is left out"
    bac = lines("baccalaureat", baccalaureat(mention="tres_bien", departement="2A", commune="2A004"))
    assert bac["Mention"] == "Très bien" and bac["Commune"] == "Ajaccio" and bac["Département"] == "Corse-du-Sud (2A)"
    assert bac["Spécialités"] == "Mathématiques, Physique-chimie"
    assert lines("adresse", adresse())["Commune"] == "Toulouse"


def test_a_list_section_reads_entry_by_entry():
    [stage] = blocs("stages", stages(), load())
    assert stage.titre == "Stage 1" and stage.champs[0].libelle == "Année"
    [experience] = blocs("experiences_professionnelles", experiences(), load())
    assert experience.titre == "Expérience professionnelle 1"
    assert blocs("stages", None, load()) == [] and blocs("stages", {"items": []}, load()) == []
