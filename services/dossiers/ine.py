"""The INE (identifiant national étudiant) and its check character; the UAI of an établissement.

An INE is 11 characters once spaces are removed and letters upper-cased. Four kinds are in use;
their shapes do not overlap, so the shape tells which check applies:

| kind | shape | check character |
|---|---|---|
| INE-BEA (Base élèves académique, secondary school, bac since 1995) | 10 digits + 1 letter | the 10-digit number modulo 23 indexes the 23-letter alphabet `ABCDEFGHJKLMNPRSTUVWXYZ` (no I, O, Q) |
| INE-Base 36 (given by a higher-education establishment, "INE université") | 10 characters of `[0-9A-Z]` + 1 digit | 6 × (sum of the base-36 values of characters 1–9) + base-36 value of character 10; the check digit is the last decimal digit of that sum |
| INE-RNIE (Répertoire national des identifiants élèves, since 2018) | 9 digits + 2 letters among A–H, J, K | shape only (see below) |
| INE-SIFA (apprentices) | 4 digits + `A` + 5 digits + 1 letter of the 23-letter alphabet | shape only (see below) |

Sources:
- INE-BEA: EsupPortail's *esup-transferts* (`esup-transferts-utils/.../utils/CheckBEA23.java`,
  Université d'Artois, used by French universities to check the BEA typed by students asking a
  transfer). The same modulo-23 letter table is the published check letter of the UAI (ex-RNE)
  code of establishments (e.g. Lycée Henri-IV `0750654D`, 0750654 mod 23 = 3 → D), which
  `uai_valide` implements and the tests check against real UAI codes.
- INE-Base 36: the same project, `CheckNNE36.java` ("NNE en provenance des établissements"),
  and its dispatch in `verifieBeaOrIne()` (10 digits + letter → BEA, otherwise base 36).
- Shapes of INE-RNIE and INE-SIFA: the validators of public-sector services that receive INEs
  (betagouv/sante-psy `inePatterns`, mission-apprentissage/flux-retour-cfas `ineApprenant.js`).
  No public description of the RNIE and SIFA check characters could be found; an INE of these
  kinds is accepted on its shape alone, and the registry import still matches it exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ALPHABET_23 = "ABCDEFGHJKLMNPRSTUVWXYZ"
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

_BEA = re.compile(r"^\d{10}[A-Z]$")
_BASE = re.compile(r"^[0-9A-Z]{10}\d$")
_RNIE = re.compile(r"^\d{9}[A-HJK]{2}$")
_SIFA = re.compile(r"^\d{4}A\d{5}[A-HJ-NPR-Z]$")


@dataclass(frozen=True)
class IneCheck:
    ine: str  # normalised: upper case, no spaces
    kind: str | None  # "bea", "base36", "rnie", "sifa" or None when no shape matches
    valid: bool
    message: str | None = None  # French, for the candidate, when not valid


def normalise(raw: str) -> str:
    return re.sub(r"\s+", "", raw).upper()


def bea_key(digits: str) -> str:
    """Check letter of the 10 digits of an INE-BEA."""
    return ALPHABET_23[int(digits) % 23]


def base36_key(body: str) -> str:
    """Check digit of the 10 base-36 characters of an INE-Base 36."""
    values = [_BASE36.index(c) for c in body]
    return str(6 * sum(values[:9]) + values[9])[-1]


def check_ine(raw: str) -> IneCheck:
    ine = normalise(raw)
    if len(ine) != 11:
        return IneCheck(ine, None, False, "L'INE/BEA doit comporter 11 caractères, clé comprise.")
    if _BEA.match(ine):
        if ine[10] in "IOQ":
            return IneCheck(ine, "bea", False, "La clé d'un BEA ne peut pas être I, O ou Q.")
        ok = bea_key(ine[:10]) == ine[10]
        return IneCheck(
            ine,
            "bea",
            ok,
            None if ok else "La clé de l'INE/BEA est incorrecte : vérifiez le numéro et sa dernière lettre.",
        )
    if _BASE.match(ine):
        ok = base36_key(ine[:10]) == ine[10]
        return IneCheck(
            ine,
            "base36",
            ok,
            None if ok else "La clé de l'INE est incorrecte : vérifiez le numéro et son dernier chiffre.",
        )
    if _RNIE.match(ine):
        return IneCheck(ine, "rnie", True)
    if _SIFA.match(ine):
        return IneCheck(ine, "sifa", True)
    return IneCheck(
        ine,
        None,
        False,
        "Ce numéro n'a pas la forme d'un INE/BEA (10 chiffres et une lettre, ou 9 chiffres et deux lettres, "
        "ou 10 caractères et un chiffre).",
    )


def uai_valide(code: str) -> bool:
    """UAI (ex-RNE) of an establishment: 7 digits, then the letter of (number mod 23)."""
    code = normalise(code)
    return bool(re.match(r"^\d{7}[A-Z]$", code)) and ALPHABET_23[int(code[:7]) % 23] == code[7]
