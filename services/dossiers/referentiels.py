"""Reference data: countries (pycountry, ISO 3166-1, French names), départements and communes
(INSEE Code officiel géographique with La Poste postal codes, shipped in `refdata/`).

Loaded once per process, on first use; lookups are dictionary reads.
"""

from __future__ import annotations

import csv
import gettext
import gzip
import io
import unicodedata
from bisect import bisect_left
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
    cle: str = ""  # the name folded for searching (see `fold`)


@dataclass(frozen=True)
class Referentiels:
    pays: dict[str, str]  # ISO alpha-2 → French name
    departements: dict[str, str]  # code → nom
    communes: dict[str, Commune]  # INSEE code → commune
    communes_par_code_postal: dict[str, tuple[str, ...]]  # postal code → INSEE codes
    index: tuple[tuple[str, str], ...] = ()  # (folded name, INSEE code), sorted: prefix search

    def commune(self, code: str | None) -> Commune | None:
        return self.communes.get(code or "")

    def search(
        self,
        *,
        limit: int,
        code: str | None = None,
        code_postal: str | None = None,
        departement: str | None = None,
        nom: str | None = None,
    ) -> list[Commune]:
        """Communes matching every criterion given; current communes first, then by name."""
        if code:
            found = [known] if (known := self.commune(code)) else []
            if code_postal:
                found = [c for c in found if code_postal in c.codes_postaux]
        elif code_postal:
            found = [self.communes[c] for c in self.communes_par_code_postal.get(code_postal, ())]
        elif nom:
            found = self._by_prefix(fold(nom))
        else:
            found = list(self.communes.values())
        if departement:
            found = [c for c in found if c.departement == departement]
        if nom:
            found = [c for c in found if c.cle.startswith(fold(nom))]
        found.sort(key=lambda c: (c.type != "commune-actuelle", c.cle, c.code))
        return found[:limit]

    def _by_prefix(self, prefix: str) -> list[Commune]:
        found = []
        for key, code in self.index[bisect_left(self.index, (prefix, "")) :]:
            if not key.startswith(prefix):
                break
            found.append(self.communes[code])
        return found


def fold(text: str) -> str:
    """Lower case without accents, hyphens or apostrophes: « Saint-Étienne » ~ « saint etienne »."""
    decomposed = unicodedata.normalize("NFKD", text)
    return " ".join(
        "".join(c if c.isalnum() else " " for c in decomposed if not unicodedata.combining(c)).casefold().split()
    )


def _rows(name: str) -> list[dict[str, str]]:
    with gzip.open(REFDATA / name, "rb") as handle:
        return list(csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8"), delimiter=";"))


def _pays() -> dict[str, str]:
    catalogue: gettext.NullTranslations
    try:
        catalogue = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["fr"])
    except OSError:  # pragma: no cover - pycountry always ships the French catalogue
        catalogue = gettext.NullTranslations()
    return {c.alpha_2: catalogue.gettext(c.name) for c in pycountry.countries}


@cache
def load() -> Referentiels:
    communes = {
        r["code"]: Commune(
            r["code"], r["nom"], r["departement"], r["type"], tuple(r["codes_postaux"].split()), fold(r["nom"])
        )
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
        index=tuple(sorted((c.cle, c.code) for c in communes.values())),
    )
