"""The catalogue of every event and rpc model, and their JSON Schema export.

`python -m ecandidat.contracts.registry out/` writes one JSON Schema per event and rpc body (the
producers' view: unknown fields refused). The AsyncAPI document integrators read is
`gateway.asyncapi` (`ecandidat schemas DIR` writes both).
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
from .subjects import event_subject, rpc_subject


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


def export(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for cls in events():
        path = out / "events" / f"{event_subject(cls)}.v{cls.version}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(cls.model_json_schema(), indent=2, ensure_ascii=False))
        written.append(path)
    for request in rpc_requests():
        path = out / "rpc" / f"{rpc_subject(request)}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(request.model_json_schema(), indent=2, ensure_ascii=False))
        written.append(path)
    return written


if __name__ == "__main__":
    for p in export(Path(sys.argv[1] if len(sys.argv) > 1 else "schemas")):
        print(p)
