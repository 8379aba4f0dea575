"""The AsyncAPI document as a page people read (`/api/v1/asyncapi.html`): rendered on the server,
no script, no resource from elsewhere; one section per event with its subject, stream, the fields
of its body and its example."""

from __future__ import annotations

import json
from typing import Any

import re

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"
_ENV = Environment(loader=PackageLoader("gateway", "templates"), autoescape=select_autoescape(["html", "j2"]))


def _code(text: str) -> Markup:
    """Markdown's `code` spans of the descriptions as <code>, the rest escaped."""
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text))))


_ENV.filters["code"] = _code


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(_type(s) for s in schema[key])
    if "const" in schema:
        return json.dumps(schema["const"], ensure_ascii=False)
    if "enum" in schema:
        return " | ".join(json.dumps(v, ensure_ascii=False) for v in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"liste de {_type(schema.get('items', {}))}"
    kind = " | ".join(kind) if isinstance(kind, list) else kind
    return f"{kind} ({schema['format']})" if "format" in schema else kind


def _fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", []))
    return [
        {"name": name, "type": _type(sub), "required": name in required, "description": sub.get("description", "")}
        for name, sub in schema.get("properties", {}).items()
    ]


def render(document: dict[str, Any]) -> str:
    components = document["components"]
    events = []
    for key, channel in document["channels"].items():
        for message_id in channel["messages"]:
            message = components["messages"][message_id]
            data_ref = message["payload"]["properties"]["data"]["$ref"].rsplit("/", 1)[-1]
            events.append(
                {
                    "id": message_id,
                    "type": message["name"],
                    "address": channel["address"],
                    "stream": channel["x-ecandidat-stream"],
                    "description": message.get("description", ""),
                    "dataschema": message["payload"]["properties"]["dataschema"]["const"],
                    "fields": _fields(components["schemas"][data_ref]),
                    "example": json.dumps(message["examples"][0]["payload"], indent=2, ensure_ascii=False),
                }
            )
    models = {
        name: _fields(schema)
        for name, schema in components["schemas"].items()
        if "." not in name and schema.get("properties")
    }
    return _ENV.get_template("asyncapi.html.j2").render(doc=document, events=events, models=models)
