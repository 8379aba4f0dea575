"""The catalogue of every event and rpc model, and their JSON Schema export.

`python -m ecandidat.contracts.registry out/` writes one JSON Schema per event and rpc body and
an AsyncAPI 2.6 document describing the event streams, for integrators.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import sys
from pathlib import Path
from typing import Any

from . import __name__ as _package
from .base import Event, RpcRequest
from .envelope import event_type_name
from .subjects import event_stream, event_subject, rpc_subject


def _modules() -> list[Any]:
    pkg = importlib.import_module(_package)
    return [importlib.import_module(f"{_package}.{m.name}") for m in pkgutil.iter_modules(pkg.__path__)]


def _subclasses(base: type) -> list[type]:
    found: dict[str, type] = {}
    for module in _modules():
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, base) and obj is not base and obj.__module__ == module.__name__:
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[k] for k in sorted(found)]


def events() -> list[type[Event]]:
    return [cls for cls in _subclasses(Event) if hasattr(cls, "action")]


def event_models_by_type() -> dict[str, type[Event]]:
    """`'candidature.created'`-style type (and the full CloudEvents type) → model."""
    table: dict[str, type[Event]] = {}
    for cls in events():
        table[event_type_name(cls)] = cls
    return table


def rpc_requests() -> list[type[RpcRequest]]:
    return [cls for cls in _subclasses(RpcRequest) if hasattr(cls, "operation")]


def asyncapi() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    for cls in events():
        channels[event_subject(cls)] = {
            "description": (cls.__doc__ or "").strip(),
            "subscribe": {
                "operationId": f"on_{cls.producer}_{cls.entity}_{cls.action}",
                "bindings": {"nats": {"stream": event_stream(cls.producer)}},
                "message": {
                    "name": event_type_name(cls),
                    "contentType": "application/cloudevents+json",
                    "headers": {"type": "object", "properties": {"Nats-Msg-Id": {"type": "string"}}},
                    "payload": {
                        "type": "object",
                        "required": ["specversion", "id", "source", "type", "time", "dataschema", "data"],
                        "properties": {
                            "specversion": {"const": "1.0"},
                            "id": {"type": "string", "format": "uuid"},
                            "source": {"type": "string"},
                            "type": {"const": event_type_name(cls)},
                            "subject": {"type": ["string", "null"]},
                            "time": {"type": "string", "format": "date-time"},
                            "dataschema": {"type": "string"},
                            "data": cls.model_json_schema(),
                        },
                    },
                },
            },
        }
    return {
        "asyncapi": "2.6.0",
        "info": {"title": "eCandidat events", "version": "1"},
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
    }


def export(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for cls in events():
        path = out / "events" / f"{event_subject(cls)}.v{cls.version}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(cls.model_json_schema(), indent=2, ensure_ascii=False))
        written.append(path)
    for cls in rpc_requests():
        path = out / "rpc" / f"{rpc_subject(cls)}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(cls.model_json_schema(), indent=2, ensure_ascii=False))
        written.append(path)
    path = out / "asyncapi.json"
    path.write_text(json.dumps(asyncapi(), indent=2, ensure_ascii=False))
    written.append(path)
    return written


if __name__ == "__main__":
    for p in export(Path(sys.argv[1] if len(sys.argv) > 1 else "schemas")):
        print(p)
