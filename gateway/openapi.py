"""The OpenAPI 3.1 document, generated from the route declarations and their pydantic models.

Each operation lists every status it can answer — its own (`responses=` in the declaration,
success statuses included) and those the edge adds for every route of its kind:

| kind of operation | statuses |
|---|---|
| every one | 400 (malformed request), 422 (invalid parameter, e.g. a control character), 503, 504 |
| authenticated (`realm`) | 401, 403 |
| with path parameters | 404 (an identifier that names nothing) |
| with a JSON body | 413 (over GATEWAY_MAX_BODY), 415 (not `application/json`) |
| file upload | 408 (the client stopped sending), 413, 415 |
| versioned save (`versioned=True`, PUT) | 412 (stale `If-Match`), 428 (no `If-Match`) |

`tests/e2e/contract.py` checks every response of the e2e suite against this document. Each
operation carries a request example (body or parameters) and a response example
(`gateway.examples`).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from ecandidat.contracts.dossiers import SECTIONS

from ecandidat.contracts.errors import HTTP_STATUS

from . import examples
from .api import Api, Operation
from .problems import PROBLEM_BASE, TITLES

PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": ["string", "null"]},
                    "message": {"type": "string"},
                    "code": {"type": ["string", "null"]},
                },
            },
        },
    },
}
STATUS_CODES = {status: code for code, status in HTTP_STATUS.items()}


def problem_example(status: int, description: str) -> dict[str, Any]:
    code = STATUS_CODES.get(status, "bad_request")
    sample = {
        "type": PROBLEM_BASE + code,
        "title": TITLES.get(status, "Erreur"),
        "status": status,
        "detail": description + ".",
        "code": code,
        "request_id": "9f1c2e7a5b3d4c6e8f0a1b2c3d4e5f6a",
    }
    if status == 422:
        sample["errors"] = [
            {"field": "date_naissance", "message": "Ce champ doit être une date (AAAA-MM-JJ).", "code": "date_parsing"}
        ]
    return sample


_CODE = {"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,40}$"}
PATH_PARAMETERS: dict[str, tuple[dict[str, Any], Any]] = {
    "code": (_CODE, "DAEU-A"),
    "centre": ({"type": "string", "minLength": 1, "maxLength": 40}, "SFC"),
    "section": ({"type": "string", "enum": [s.replace("_", "-") for s in SECTIONS]}, "adresse"),
}
MULTIPART_FILE = {
    "type": "object",
    "required": ["fichier"],
    "properties": {"fichier": {"type": "string", "format": "binary"}},
}
ALWAYS = {
    400: "Requête mal formée",
    422: "Paramètre ou donnée invalide",
    503: "Service indisponible",
    504: "Délai dépassé",
}


def _path_parameter(name: str) -> dict[str, Any]:
    schema, sample = (
        PATH_PARAMETERS.get(name, ({"type": "string", "format": "uuid"}, examples.UUID))
        if not name.endswith("_id")
        else ({"type": "string", "format": "uuid"}, examples.UUID)
    )
    return {"name": name, "in": "path", "required": True, "schema": schema, "example": sample}


def local_times(schema: Any) -> Any:
    """JSON Schema's `format: time` is RFC 3339's full-time, with an offset ("14:30:00Z"); pydantic
    writes a local time of day ("14:30:00"): say so with a pattern instead, or every validator
    refuses the API's own answers."""
    if isinstance(schema, dict):
        if schema.get("format") == "time":
            schema = {k: v for k, v in schema.items() if k != "format"}
            schema["pattern"] = r"^\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"
        return {k: local_times(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [local_times(v) for v in schema]
    return schema


def error_statuses(op: Operation) -> dict[int, str]:
    """The error statuses the edge itself can answer for `op` (see the module docstring)."""
    found = dict(ALWAYS)
    if op.realm is not None:
        found.update({401: "Authentification requise", 403: "Accès refusé"})
    if "{" in op.path:
        found[404] = "Ressource introuvable"
    if op.body is not None:
        found.update({413: "Corps de requête trop volumineux", 415: "Le corps doit être du JSON (application/json)"})
    if op.content_types.get("request"):
        found.update(
            {
                408: "Envoi interrompu : plus aucune donnée reçue",
                413: "Fichier trop volumineux",
                415: "Type de contenu refusé",
            }
        )
    if op.versioned and op.method == "PUT":
        found.update({412: "Version périmée (If-Match ne correspond plus)", 428: "En-tête If-Match manquant"})
    return found


def build(
    api: Api, *, title: str = "eCandidat API", version: str = "1.0.0", extra_paths: dict | None = None
) -> dict[str, Any]:
    models: set[type[BaseModel]] = set()
    for op in api.operations:
        for m in (op.body, op.response):
            if m is not None:
                models.add(m)
        models.update(d[1] for d in op.responses.values() if isinstance(d, tuple))
    ordered = sorted(models, key=lambda m: m.__name__)
    bodies = {op.body for op in api.operations if op.body is not None}
    _, schema = models_json_schema(
        [(m, "validation" if m in bodies else "serialization") for m in ordered],
        ref_template="#/components/schemas/{model}",
    )
    components: dict[str, Any] = local_times(dict(schema.get("$defs", {})))
    components["Problem"] = PROBLEM_SCHEMA
    paths: dict[str, Any] = dict(extra_paths or {})
    for op in api.operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": "API de la plateforme de candidatures eCandidat."},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "Jeton de session opaque"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "ecandidat_session"},
            },
        },
    }


def _operation(op: Operation, components: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "operationId": op.handler.__name__,
        "responses": {},
    }
    params = [_path_parameter(name) for name in re.findall(r"{(\w+)}", op.path)]
    if op.query is not None:
        qs = op.query.model_json_schema()
        for name, prop in qs.get("properties", {}).items():
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in qs.get("required", []),
                    "schema": prop,
                    "example": examples.example(prop, qs.get("$defs", {}), name=name, depth=1),
                }
            )
    for name, (schema, sample) in op.query_parameters.items():
        params.append({"name": name, "in": "query", "required": False, "schema": schema, "example": sample})
    if op.versioned and op.method == "PUT":
        params.append(
            {
                "name": "If-Match",
                "in": "header",
                "required": True,
                "example": '"3"',
                "description": 'L\'ETag de la rubrique lue ("0" avant le premier enregistrement)',
                "schema": {"type": "string", "pattern": r'^\s*(W/)?"\d{1,9}"'},
            }
        )
    if params:
        item["parameters"] = params
    if op.body is not None:
        item["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{op.body.__name__}"},
                    "example": examples.example({"$ref": op.body.__name__}, components, request=True),
                }
            },
        }
    elif op.content_types.get("request"):
        item["requestBody"] = {
            "required": True,
            "content": {
                media: {
                    "schema": MULTIPART_FILE
                    if media == "multipart/form-data"
                    else {"type": "string", "format": "binary"}
                }
                for media in op.content_types["request"].split()
            },
        }
    for status in sorted({op.status, *(s for s, d in op.responses.items() if s < 400 or isinstance(d, tuple))}):
        item["responses"][str(status)] = _success(op, status, components)
    problems = error_statuses(op)
    problems.update({s: d for s, d in op.responses.items() if s >= 400})
    problems = {s: d for s, d in problems.items() if str(s) not in item["responses"]}
    if op.realm is not None:
        item["security"] = [{"bearer": []}, {"cookie": []}]
        item["x-realm"] = op.realm
        if op.roles:
            item["x-roles"] = list(op.roles)
    for status, description in sorted(problems.items()):
        item["responses"][str(status)] = {
            "description": description,
            "content": {
                "application/problem+json": {
                    "schema": {"$ref": "#/components/schemas/Problem"},
                    "example": problem_example(status, description),
                }
            },
        }
    return item


def _success(op: Operation, status: int, components: dict[str, Any]) -> dict[str, Any]:
    """A response with a body of its own: the operation's success, or a status declared with its
    model (`responses={503: ("description", Model)}`)."""
    declared = op.responses.get(status, "Succès")
    description, model = declared if isinstance(declared, tuple) else (declared, op.response)
    ok: dict[str, Any] = {"description": description}
    if status == 204:
        return ok
    if model is not None:
        ok["content"] = {
            "application/json": {
                "schema": {"$ref": f"#/components/schemas/{model.__name__}"},
                "example": examples.example({"$ref": model.__name__}, components),
            }
        }
    elif op.content_types.get("response"):
        ok["content"] = {
            media: {"schema": {"type": "string", "format": "binary"}} for media in op.content_types["response"].split()
        }
    else:
        ok["content"] = {"application/json": {"schema": {"type": "object"}, "example": {}}}
    if op.versioned:
        ok["headers"] = {
            "ETag": {
                "description": "La version de la rubrique, à renvoyer dans If-Match",
                "schema": {"type": "string"},
                "example": '"3"',
            }
        }
    return ok
