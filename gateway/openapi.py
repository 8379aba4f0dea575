"""The OpenAPI 3.1 document, generated from the route declarations and their pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .api import Api

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
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}, "code": {"type": "string"}},
            },
        },
    },
}


def build(api: Api, *, title: str = "eCandidat API", version: str = "1.0.0", extra_paths: dict | None = None) -> dict[str, Any]:
    models: set[type[BaseModel]] = set()
    for op in api.operations:
        for m in (op.body, op.response):
            if m is not None:
                models.add(m)
    ordered = sorted(models, key=lambda m: m.__name__)
    _, schema = models_json_schema(
        [(m, "validation" if any(op.body is m for op in api.operations) else "serialization") for m in ordered],
        ref_template="#/components/schemas/{model}",
    )
    components: dict[str, Any] = dict(schema.get("$defs", {}))
    components["Problem"] = PROBLEM_SCHEMA
    paths: dict[str, Any] = dict(extra_paths or {})
    for op in api.operations:
        item: dict[str, Any] = {
            "summary": op.summary,
            "tags": [op.tag],
            "operationId": op.handler.__name__,
            "responses": {},
        }
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", op.path)
        ]
        if op.query is not None:
            qs = op.query.model_json_schema()
            for name, prop in qs.get("properties", {}).items():
                params.append({"name": name, "in": "query", "required": name in qs.get("required", []), "schema": prop})
        if op.method in {"PUT", "PATCH", "DELETE"}:
            params.append({"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"}})
        if params:
            item["parameters"] = params
        if op.body is not None:
            item["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}}},
            }
        elif op.content_types.get("request"):
            item["requestBody"] = {"required": True, "content": {op.content_types["request"]: {"schema": {"type": "string", "format": "binary"}}}}
        ok: dict[str, Any] = {"description": "Succès"}
        if op.response is not None:
            ok["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{op.response.__name__}"}}}
        elif op.content_types.get("response"):
            ok["content"] = {op.content_types["response"]: {"schema": {"type": "string", "format": "binary"}}}
        item["responses"][str(op.status)] = ok
        problems = {400: "Requête invalide", 422: "Données invalides", 503: "Service indisponible", 504: "Délai dépassé"}
        if op.realm is not None:
            problems.update({401: "Authentification requise", 403: "Accès refusé"})
            item["security"] = [{"bearer": []}, {"cookie": []}]
            item["x-realm"] = op.realm
            if op.roles:
                item["x-roles"] = list(op.roles)
        problems.update(op.responses)
        for status, description in sorted(problems.items()):
            item["responses"][str(status)] = {
                "description": description,
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = item
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
