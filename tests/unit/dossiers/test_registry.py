"""The registry CSV: a hostile or malformed file is refused line by line, nothing partial."""

from __future__ import annotations

from datetime import date

from services.dossiers.referentiels import load
from services.dossiers.registry import ADRESSE, COLUMNS, parse

from .samples import bea, registry_csv, registry_row

TODAY = date(2026, 5, 1)
REFS = load()
NO_ADRESSE = {c: "" for c in ADRESSE}


def messages(report):
    return [d.message for d in report.errors]


def test_a_good_file_gives_one_record_per_student():
    raw = registry_csv([registry_row(bea("0612345678")), registry_row(bea("0612345679"), **NO_ADRESSE)])
    report = parse(b"\xef\xbb\xbf" + raw, REFS, TODAY)
    assert report.errors == [] and report.lines == 2
    first = report.records[0]
    assert first["informations_personnelles"]["date_naissance"] == "2000-06-21"
    assert first["adresse"]["commune"] == "31555" and first["baccalaureat"]["uai_etablissement"] == "0750654D"
    assert first["cursus_interne"]["items"][0]["libelle"] == "Licence 1 Psychologie"
    assert report.records[1]["ine"] == bea("0612345679") and report.records[1]["adresse"] is None


def test_comma_separated_files_are_accepted_too():
    assert parse(registry_csv([registry_row(bea("0612345678"))], delimiter=","), REFS, TODAY).errors == []


def test_wrong_columns_are_named():
    columns = tuple(c for c in COLUMNS if c != "prenoms") + ("mot_de_passe",)
    report = parse(registry_csv([registry_row(bea("0612345678"))], columns=columns), REFS, TODAY)
    assert report.records == [] or report.errors
    assert messages(report) == [
        "Ligne 1 : colonnes manquantes : prenoms.",
        "Ligne 1 : colonnes inconnues : mot_de_passe.",
    ]


def test_bad_encoding_is_reported_per_line():
    raw = registry_csv([registry_row(bea("0612345678")), registry_row(bea("0612345679"))])
    latin1 = raw.replace("Lycée".encode(), "Lycée".encode("latin-1"))
    report = parse(latin1, REFS, TODAY)
    assert [d.message.split(" :")[0] for d in report.errors] == ["Ligne 2", "Ligne 3"]
    assert "UTF-8" in report.errors[0].message


def test_every_bad_line_is_reported_with_its_column():
    rows = [
        registry_row(bea("0612345678")),
        registry_row("1234567890W"),  # wrong check letter
        registry_row(bea("0612345678")),  # duplicate INE
        registry_row(bea("0612345670"), date_naissance="31/02/2001"),  # impossible date
        registry_row(bea("0612345671"), commune_naissance="99999"),
        registry_row(bea("0612345672"), nom_naissance='=HYPERLINK("http://x")'),
        registry_row(bea("0612345673"), cursus_interne='[{"libelle": 3}'),
    ]
    report = parse(registry_csv(rows), REFS, TODAY)
    found = {(d.message.split(",")[0], d.field) for d in report.errors}
    assert found == {
        ("Ligne 3", "ine"),
        ("Ligne 4", "ine"),
        ("Ligne 5", "date_naissance"),
        ("Ligne 6", "commune_naissance"),
        ("Ligne 7", "nom_naissance"),
        ("Ligne 8", "cursus_interne"),
    }
    assert "déjà présent ligne 2" in next(d.message for d in report.errors if d.message.startswith("Ligne 4"))
    assert report.refused_lines == {3, 4, 5, 6, 7, 8}


def test_ragged_lines_empty_files_and_binary_are_refused():
    raw = registry_csv([registry_row(bea("0612345678"))]) + b"0612345679X;Dupont\n"
    assert "valeurs au lieu de" in messages(parse(raw, REFS, TODAY))[0]
    assert "vide" in messages(parse(b"", REFS, TODAY))[0]
    assert "aucun étudiant" in messages(parse(registry_csv([]), REFS, TODAY))[0]
    assert "caractère nul" in " ".join(messages(parse(b"\x00\x01PK\x03\x04", REFS, TODAY)))
