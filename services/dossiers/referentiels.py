"""Reference data: countries (pycountry, ISO 3166-1, French names), départements and communes
(INSEE Code officiel géographique with La Poste postal codes, shipped in `refdata/`).

Loaded once per process, on first use; lookups are dictionary reads.
"""

from __future__ import annotations

import csv
import gettext
import gzip
import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pycountry

REFDATA = Path(__file__).with_name("refdata")
FRANCE = "FR"


@dataclass(frozen=True)
class Commune:
    code: str
    nom: str
    departement: str
    type: str
    codes_postaux: tuple[str, ...]


@dataclass(frozen=True)
class Referentiels:
    pays: dict[str, str]  # ISO alpha-2 → French name
    departements: dict[str, str]  # code → nom
    communes: dict[str, Commune]  # INSEE code → commune
    communes_par_code_postal: dict[str, tuple[str, ...]]  # postal code → INSEE codes

    def commune(self, code: str | None) -> Commune | None:
        return self.communes.get(code or "")


def _rows(name: str) -> list[dict[str, str]]:
    with gzip.open(REFDATA / name, "rb") as handle:
        return list(csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8"), delimiter=";"))


def _pays() -> dict[str, str]:
    try:
        french = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["fr"]).gettext
    except OSError:  # pragma: no cover - pycountry always ships the French catalogue
        french = str
    return {c.alpha_2: french(c.name) for c in pycountry.countries}


@cache
def load() -> Referentiels:
    communes = {
        r["code"]: Commune(r["code"], r["nom"], r["departement"], r["type"], tuple(r["codes_postaux"].split()))
        for r in _rows("communes.csv.gz")
    }
    by_postal: dict[str, list[str]] = {}
    for c in communes.values():
        for cp in c.codes_postaux:
            by_postal.setdefault(cp, []).append(c.code)
    return Referentiels(
        pays=_pays(),
        departements={r["code"]: r["nom"] for r in _rows("departements.csv.gz")},
        communes=communes,
        communes_par_code_postal={k: tuple(sorted(v)) for k, v in by_postal.items()},
    )
