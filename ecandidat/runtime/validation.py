"""Pydantic validation errors as French, field-named details."""

from __future__ import annotations

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from ..contracts.errors import ErrorDetail, InvalidInput

_MESSAGES = {
    "missing": "Ce champ est obligatoire.",
    "extra_forbidden": "Ce champ n'est pas attendu.",
    "string_too_short": "Ce champ est trop court (au moins {min_length} caractères).",
    "string_too_long": "Ce champ est trop long (au plus {max_length} caractères).",
    "string_type": "Ce champ doit être une chaîne de caractères.",
    "string_pattern_mismatch": "Ce champ n'a pas le format attendu.",
    "int_type": "Ce champ doit être un nombre entier.",
    "int_parsing": "Ce champ doit être un nombre entier.",
    "float_type": "Ce champ doit être un nombre.",
    "float_parsing": "Ce champ doit être un nombre.",
    "bool_type": "Ce champ doit valoir vrai ou faux.",
    "bool_parsing": "Ce champ doit valoir vrai ou faux.",
    "date_type": "Ce champ doit être une date (AAAA-MM-JJ).",
    "date_parsing": "Ce champ doit être une date (AAAA-MM-JJ).",
    "date_from_datetime_parsing": "Ce champ doit être une date (AAAA-MM-JJ).",
    "datetime_type": "Ce champ doit être une date et une heure.",
    "datetime_parsing": "Ce champ doit être une date et une heure.",
    "datetime_from_date_parsing": "Ce champ doit être une date et une heure.",
    "timezone_aware": "Ce champ doit être une date et une heure avec son décalage horaire (par exemple 2026-03-02T09:30:00+01:00).",
    "uuid_type": "Ce champ doit être un identifiant valide.",
    "uuid_parsing": "Ce champ doit être un identifiant valide.",
    "greater_than": "Ce champ doit être supérieur à {gt}.",
    "greater_than_equal": "Ce champ doit être supérieur ou égal à {ge}.",
    "less_than": "Ce champ doit être inférieur à {lt}.",
    "less_than_equal": "Ce champ doit être inférieur ou égal à {le}.",
    "literal_error": "Valeur non autorisée (valeurs possibles : {expected}).",
    "enum": "Valeur non autorisée (valeurs possibles : {expected}).",
    "list_type": "Ce champ doit être une liste.",
    "too_long": "Trop d'éléments (au plus {max_length}).",
    "too_short": "Pas assez d'éléments (au moins {min_length}).",
    "dict_type": "Ce champ doit être un objet.",
    "model_type": "Ce champ doit être un objet.",
    "json_invalid": "Le corps de la requête n'est pas un JSON valide.",
    "value_error": "{msg}",
}


def _message(err: ErrorDetails) -> str:
    template = _MESSAGES.get(err["type"])
    ctx = dict(err.get("ctx") or {})
    if err["type"] == "value_error":
        msg = err.get("msg", "")
        return msg.removeprefix("Value error, ")
    if template is None:
        return "Valeur invalide."
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return "Valeur invalide."


def french_details(exc: ValidationError, prefix: str = "") -> list[ErrorDetail]:
    details = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"] if p != "__root__")
        field = f"{prefix}{loc}" if loc else (prefix.rstrip(".") or None)
        details.append(ErrorDetail(field=field, message=_message(err), code=err["type"]))
    return details


def invalid_input(exc: ValidationError, message: str = "Les données envoyées sont invalides.") -> InvalidInput:
    return InvalidInput(message, details=french_details(exc))
