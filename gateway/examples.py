"""Examples for the OpenAPI document: one request and one response example per operation.

An example is built from the JSON Schema of the operation's model, field by field: a field whose
name is in `FIELD_VALUES` takes that value (a realistic one, the same across the document), other
fields an example of their type, format, pattern or enum. A few bodies whose fields depend on one
another (the dossier sections) have a whole example in `MODEL_EXAMPLES`. Optional fields without
a known value are left out of request examples, so that each example is also a valid request.

`tests/unit/kit/test_openapi_examples.py` validates every example against its pydantic model:
a new model whose generated example is not valid fails there (add the field to `FIELD_VALUES`).
"""

from __future__ import annotations

import re
from typing import Any

UUID = "3f2c1a9e-6b7d-4e21-9c0a-5d8e7f6a1b2c"
NOW = "2026-03-14T09:30:00+01:00"
EMAIL = "zoe.martin@example.org"
PASSWORD = "une phrase de passe assez longue"
TOKEN = "kR3v8Jx0pQ2mZt7yWc5nLb9sHd4gFa1eUo6iYq8rTw0"

FIELD_VALUES: dict[str, Any] = {
    "email": EMAIL,
    "email_confirmation": EMAIL,
    "new_email": "zoe.martin@univ-exemple.fr",
    "new_email_confirmation": "zoe.martin@univ-exemple.fr",
    "to": "exploitation@univ-exemple.fr",
    "password": PASSWORD,
    "password_confirmation": PASSWORD,
    "login": "26AB12CD",
    "numero_dossier": "26AB12CD",
    "token": TOKEN,
    "code": "492817",
    "nom": "Martin",
    "prenom": "Zoé",
    "nom_usage": "Martin",
    "ine": "1234567890A",
    "formation_code": "DAEU-A",
    "centre_code": "SFC",
    "commission_code": "COM-DAEU",
    "type_diplome_code": "DAEU",
    "campagne_code": "CAMP2026",
    "piece_code": "CV",
    "libelle": "DAEU option A",
    "formation_libelle": "DAEU option A",
    "statut": "receptionne",
    "decision": "favorable",
    "type_traitement": "acces_controle",
    "body": "Dossier à revoir avec la commission.",
    "commentaire": "Le relevé de notes est illisible : déposez un scan en 300 dpi.",
    "comment": "Le relevé de notes est illisible : déposez un scan en 300 dpi.",
    "motif": "Le nombre de places est atteint.",
    "rang": 2,
    "file_name": "CV.pdf",
    "content_type": "application/pdf",
    "size": 183421,
    "message": "Votre compte a été créé avec succès, veuillez consulter vos courriels pour le valider.",
    "detail": "Les données envoyées sont invalides.",
    "roles": ["gestionnaire"],
    "centres": ["SFC"],
    "commissions": ["COM-DAEU"],
    "recipient": EMAIL,
    "subject": "Votre candidature à la formation DAEU option A",
    "idle_timeout": 1800,
    "expires_at": NOW,
    "session_cookie": False,
    "concerne": False,
    "disabled": False,
    "ids": [UUID],
    "candidature_ids": [UUID],
    "updated": [UUID],
    "otpauth_uri": "otpauth://totp/eCandidat:zoe.martin%40example.org?secret=JBSWY3DPEHPK3PXP&issuer=eCandidat",
    "totp_secret": "JBSWY3DPEHPK3PXP",
    "recovery_codes": ["7f3k-9q2m", "x8c4-2v7n"],
    "realm": "candidate",
    "statut_libelle": "Réceptionné",
    "decision_libelle": "Favorable",
    "type_traitement_libelle": "Accès contrôlé",
    "type_diplome": "DAEU",
    "centre_libelle": "Service de la Formation continue",
    "campagne_libelle": "Campagne 2026",
    "mail": "formation.continue@univ-exemple.fr",
    "adresse": "5 allées Antonio Machado, 31058 Toulouse",
    "contact_libelle": "Service de la Formation continue",
    "contact_mail": "formation.continue@univ-exemple.fr",
    "contact_adresse": "5 allées Antonio Machado, 31058 Toulouse",
    "nom_naissance": "Martin",
    "prenoms": "Zoé Marie",
    "telephone": "05 61 00 00 00",
    "portable": "06 12 34 56 78",
    "code_postal": "31100",
    "pays": "FR",
    "departement": "31",
    "commune": "31555",
    "nationalite": "FR",
    "civilite": "Mme",
    "lieu": "Bâtiment 3, salle 12",
    "url": "https://scolarite.univ-exemple.fr/ecandidat/webhooks",
    "event_types": ["candidatures.candidature.confirmed"],
    "description": "Inscriptions administratives (Pégase)",
    "since": "2026-03-14T00:00:00+01:00",
    "until": NOW,
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "created_by": "admin@univ-exemple.fr",
}
SECTION_CONTENT: dict[str, dict[str, Any]] = {
    "InformationsPersonnelles": {
        "civilite": "Mme",
        "nom_naissance": "Martin",
        "prenoms": "Zoé Marie",
        "date_naissance": "1990-04-12",
        "pays_naissance": "FR",
        "departement_naissance": "31",
        "commune_naissance": "31555",
        "nationalite": "FR",
        "portable": "06 12 34 56 78",
    },
    "Adresse": {"pays": "FR", "ligne1": "5 allées Antonio Machado", "code_postal": "31100", "commune": "31555"},
    "Baccalaureat": {
        "situation": "bac",
        "annee": 2008,
        "serie": "Générale",
        "mention": "bien",
        "pays": "FR",
        "departement": "31",
        "commune": "31555",
        "etablissement": "Lycée Pierre-de-Fermat",
    },
    "CursusExterne": {
        "items": [
            {
                "annee_universitaire": "2019-2020",
                "etablissement": "Université de Bordeaux",
                "pays": "FR",
                "departement": "33",
                "commune": "33063",
                "diplome": "Licence",
                "libelle": "Licence 1 Psychologie",
                "obtenu": "oui",
            }
        ]
    },
    "Stages": {
        "items": [
            {
                "annee": 2021,
                "duree": "8 semaines",
                "heures_par_semaine": 35,
                "organisme": "CHU de Toulouse",
                "descriptif": "Observation en service de gériatrie.",
            }
        ]
    },
    "ExperiencesProfessionnelles": {
        "items": [{"annee": 2022, "intitule": "Aide-soignante", "duree": "2 ans", "organisme": "EHPAD Les Tilleuls"}]
    },
}
MODEL_EXAMPLES: dict[str, Any] = dict(SECTION_CONTENT)

_CANDIDATES = [
    "FR",
    "31",
    "31555",
    "31100",
    "DAEU-A",
    "2019-2020",
    "0310036W",
    "CEDEX 9",
    "Martin",
    "1234567890A",
    "05 61 00 00 00",
    "14:30:00",
    "exemple",
]


def _string(schema: dict[str, Any], name: str) -> str:
    fmt = schema.get("format")
    if fmt == "date":
        return "2026-03-14"
    if fmt == "date-time":
        return NOW
    if fmt == "time":
        return "14:30:00"
    if fmt == "uuid":
        return UUID
    if fmt == "email":
        return EMAIL
    if fmt == "uri":
        return "https://candidatures.univ-exemple.fr/"
    pattern = schema.get("pattern")
    if pattern:
        choice = re.fullmatch(r"\^\(([\w|]+)\)\$", pattern)
        if choice:
            return choice.group(1).split("|")[0]
        for candidate in [name.upper()[:40], *_CANDIDATES]:
            if re.search(pattern, candidate) and _fits(candidate, schema):
                return candidate
    text = "Exemple" if name != "libelle" else "Libellé"
    return (text * 4)[: max(schema.get("minLength", 1), min(len(text), schema.get("maxLength", 64)))]


def _accepts(schema: dict[str, Any], value: Any, defs: dict[str, Any]) -> bool:
    """Whether `value` is of the shape `schema` asks for (types, enums, patterns; not every rule)."""
    schema = _resolve(schema, defs)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return any(_accepts(s, value, defs) for s in schema[key])
    if "enum" in schema or "const" in schema:
        return value in schema.get("enum", [schema.get("const")])
    kind = schema.get("type")
    if kind == "null":
        return value is None
    if kind == "array":
        return isinstance(value, list) and all(_accepts(schema.get("items", {}), v, defs) for v in value)
    if kind == "object" or "properties" in schema:
        return False  # a whole object comes from its own fields
    if kind == "string":
        return (
            isinstance(value, str)
            and _fits(value, schema)
            and ("pattern" not in schema or re.search(schema["pattern"], value) is not None)
        )
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    return True


def _fits(value: str, schema: dict[str, Any]) -> bool:
    return schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", 10**6)


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def example(
    schema: dict[str, Any], defs: dict[str, Any], *, name: str = "", request: bool = False, depth: int = 0
) -> Any:
    """An example value of `schema` (JSON Schema as pydantic writes it; `$ref`s resolved in `defs`)."""
    if "$ref" in schema:
        ref = schema["$ref"].rsplit("/", 1)[-1]
        if ref in MODEL_EXAMPLES:
            return MODEL_EXAMPLES[ref]
        schema = _resolve(schema, defs)
    if name in FIELD_VALUES and depth > 0 and _accepts(schema, FIELD_VALUES[name], defs):
        return FIELD_VALUES[name]
    if "examples" in schema:
        return schema["examples"][0]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return example(options[0], defs, name=name, request=request, depth=depth) if options else None
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        required = set(schema.get("required", []))
        out = {}
        for prop, sub in schema.get("properties", {}).items():
            if request and prop not in required and prop not in FIELD_VALUES:
                continue
            if depth > 6 and prop not in required:
                continue
            out[prop] = example(sub, defs, name=prop, request=request, depth=depth + 1)
        return out
    if kind == "array":
        items = schema.get("items", {})
        count = max(schema.get("minItems", 0), 1 if depth < 6 else 0)
        return [example(items, defs, name=name.rstrip("s"), request=request, depth=depth + 1) for _ in range(count)]
    if kind == "string":
        return _string(schema, name)
    if kind == "integer":
        low = schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1)
        return max(low, 1) if "maximum" not in schema or schema["maximum"] >= 1 else low
    if kind == "number":
        return max(float(schema.get("minimum", 1)), 1.0)
    if kind == "boolean":
        return True
    return None
