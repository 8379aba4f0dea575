"""The student-records registry: parsing and checking the CSV export an administrator loads (pure).

The CSV is UTF-8 (a BOM is allowed), `;`- or `,`-separated, with a header line naming exactly the
columns of `COLUMNS` (any order) — see `services/dossiers/README.md`. Every line is checked (INE
and its check character, état civil, places against the reference data, adresse, baccalauréat,
cursus interne); one refused line refuses the whole file, with a line-by-line report, so that an
import never lands half-way.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import BaseModel, ValidationError

from ecandidat.contracts.dossiers import Adresse, Baccalaureat, CursusInterne, InformationsPersonnelles
from ecandidat.contracts.errors import ErrorDetail
from ecandidat.runtime.validation import french_details

from .ine import check_ine
from .referentiels import Referentiels
from .validation import check_adresse, check_baccalaureat, check_informations_personnelles

IDENTITY = {
    "ine": "ine",
    "civilite": "civilite",
    "nom_naissance": "nom_naissance",
    "nom_usage": "nom_usage",
    "prenoms": "prenoms",
    "date_naissance": "date_naissance",
    "pays_naissance": "pays_naissance",
    "departement_naissance": "departement_naissance",
    "commune_naissance": "commune_naissance",
    "ville_naissance_etranger": "ville_naissance_etranger",
    "nationalite": "nationalite",
}
ADRESSE = {
    "adresse_pays": "pays",
    "adresse_ligne1": "ligne1",
    "adresse_ligne2": "ligne2",
    "adresse_ligne3": "ligne3",
    "adresse_code_postal": "code_postal",
    "adresse_commune": "commune",
    "adresse_ville_etranger": "ville_etranger",
}
BAC = {
    "bac_situation": "situation",
    "bac_annee": "annee",
    "bac_serie": "serie",
    "bac_mention": "mention",
    "bac_pays": "pays",
    "bac_departement": "departement",
    "bac_commune": "commune",
    "bac_etablissement": "etablissement",
    "bac_uai": "uai_etablissement",
}
COLUMNS = (*IDENTITY, *ADRESSE, *BAC, "cursus_interne")

MAX_ERRORS = 100
_FRENCH_DATE = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")
_FORMULA = ("=", "@")


@dataclass
class ParsedRegistry:
    records: list[dict[str, Any]] = field(default_factory=list)
    errors: list[ErrorDetail] = field(default_factory=list)
    lines: int = 0
    refused_lines: set[int] = field(default_factory=set)

    def refuse(self, line: int, column: str | None, message: str, code: str = "invalid") -> None:
        self.refused_lines.add(line)
        if len(self.errors) < MAX_ERRORS:
            where = f"Ligne {line}" + (f", colonne {column}" if column else "")
            self.errors.append(ErrorDetail(field=column, message=f"{where} : {message}", code=code))


def decode(raw: bytes, report: ParsedRegistry) -> str | None:
    """UTF-8 text of the file, or None after reporting every line that is not valid UTF-8."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    lines = raw.split(b"\n")
    for number, line in enumerate(lines, start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            report.refuse(
                number,
                None,
                "caractères illisibles : le fichier doit être encodé en UTF-8 (enregistrez-le en « CSV UTF-8 »).",
                "encoding",
            )
        if b"\x00" in line:
            report.refuse(number, None, "caractère nul interdit (fichier binaire ?).", "encoding")
    if report.errors:
        return None
    return raw.decode("utf-8")


def parse(raw: bytes, refs: Referentiels, today: date) -> ParsedRegistry:
    report = ParsedRegistry()
    text = decode(raw, report)
    if text is None:
        return report
    first = text.split("\n", 1)[0]
    delimiter = ";" if ";" in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        report.refuse(1, None, "le fichier est vide.", "empty")
        return report
    except csv.Error as exc:
        report.refuse(1, None, f"ligne d'en-tête illisible ({exc}).", "csv")
        return report
    if not _check_header(header, report):
        return report
    seen: dict[str, int] = {}
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            report.lines += 1
            if len(row) != len(header):
                report.refuse(line, None, f"{len(row)} valeurs au lieu de {len(header)}.", "columns")
                continue
            record = _record(dict(zip(header, (c.strip() for c in row))), line, refs, today, report)
            if record is None:
                continue
            if record["ine"] in seen:
                report.refuse(
                    line, "ine", f"INE {record['ine']} déjà présent ligne {seen[record['ine']]}.", "duplicate"
                )
                continue
            seen[record["ine"]] = line
            report.records.append(record)
    except csv.Error as exc:
        report.refuse(reader.line_num, None, f"ligne CSV mal formée ({exc}).", "csv")
    if report.lines == 0 and not report.errors:
        report.refuse(2, None, "le fichier ne contient aucun étudiant.", "empty")
    return report


def _check_header(header: list[str], report: ParsedRegistry) -> bool:
    missing = [c for c in COLUMNS if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if missing:
        report.refuse(1, None, f"colonnes manquantes : {', '.join(missing)}.", "columns")
    if unknown:
        report.refuse(1, None, f"colonnes inconnues : {', '.join(unknown)}.", "columns")
    if duplicated:
        report.refuse(1, None, f"colonnes en double : {', '.join(duplicated)}.", "columns")
    return not (missing or unknown or duplicated)


def _record(cells: dict[str, str], line: int, refs: Referentiels, today: date, report: ParsedRegistry) -> dict | None:
    formulas = [column for column, value in cells.items() if value.startswith(_FORMULA)]
    for column in formulas:
        report.refuse(
            line, column, "une valeur ne peut pas commencer par « = » ou « @ » (formule de tableur).", "formula"
        )
    if formulas:
        return None
    check = check_ine(cells["ine"])
    if not check.valid:
        report.refuse(line, "ine", check.message or "INE invalide.", "ine")
        return None
    identity = _model(InformationsPersonnelles, _values(cells, IDENTITY), line, "", report)
    if identity is not None:
        _semantic(check_informations_personnelles(identity, refs, today), line, "", report)
    adresse = None
    if any(cells[c] for c in ADRESSE):
        adresse = _model(Adresse, _values(cells, ADRESSE), line, "adresse_", report)
        if adresse is not None:
            _semantic(check_adresse(adresse, refs, today), line, "adresse_", report)
    bac = None
    if any(cells[c] for c in BAC):
        bac = _model(Baccalaureat, _values(cells, BAC), line, "bac_", report)
        if bac is not None:
            born = identity.date_naissance if identity else None
            _semantic(check_baccalaureat(bac, refs, today, born), line, "bac_", report)
    cursus = _cursus(cells["cursus_interne"], line, report)
    if line in report.refused_lines or identity is None:
        return None
    return {
        "ine": check.ine,
        "informations_personnelles": identity.model_dump(mode="json") | {"ine": check.ine},
        "adresse": adresse.model_dump(mode="json") if adresse else None,
        "baccalaureat": bac.model_dump(mode="json") if bac else None,
        "cursus_interne": cursus.model_dump(mode="json") if cursus and cursus.items else None,
    }


def _values(cells: dict[str, str], mapping: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column, name in mapping.items():
        value = cells[column]
        if not value:
            continue
        match = _FRENCH_DATE.match(value)
        if name == "date_naissance" and match:
            value = f"{match[3]}-{match[2]}-{match[1]}"
        values[name] = value
    return values


def _model(model: type[BaseModel], values: dict[str, Any], line: int, prefix: str, report: ParsedRegistry):
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        for d in french_details(exc):
            report.refuse(line, prefix + (d.field or ""), d.message, d.code or "invalid")
        return None


def _semantic(details: list[ErrorDetail], line: int, prefix: str, report: ParsedRegistry) -> None:
    for d in details:
        report.refuse(line, prefix + (d.field or ""), d.message, d.code or "invalid")


def _cursus(cell: str, line: int, report: ParsedRegistry) -> CursusInterne | None:
    if not cell:
        return None
    try:
        items = json.loads(cell)
    except ValueError:
        report.refuse(line, "cursus_interne", "JSON invalide (une liste d'objets est attendue).", "json")
        return None
    if not isinstance(items, list):
        report.refuse(line, "cursus_interne", "une liste d'objets est attendue.", "json")
        return None
    return _model(CursusInterne, {"items": items}, line, "cursus_interne.", report)
