"""The compatibility policy of the published events, enforced against a snapshot of the released schemas.

Within one `dataschema` version (`urn:ecandidat:schema:<subject>/v<N>`), an event body may only
grow by **optional** fields: consumers ignore the fields they do not know (the published schemas
allow additional properties). Everything else is a breaking change and needs version N+1:

- a field removed;
- a field retyped: any change of its type, format, pattern, bounds, enum or const values, or of
  the shape of what it holds (a nested object follows the same rules, field by field);
- a field that was required becoming optional (consumers rely on it being there);
- a field newly required, new or not (the stream keeps 90 days of events: the ones published before
  the change, still under version N, do not have it).

`docs/events/released.json` holds every released version of every public event's body (references
inlined, titles and descriptions left out). `tests/unit/kit/test_event_compatibility.py` compares
the current contracts with it and fails on a breaking change that kept its version.

    python -m ecandidat.contracts.compat           # report breaking changes (exit 1 if any)
    python -m ecandidat.contracts.compat --release # add the current versions to the snapshot

`--release` refuses to rewrite a released version with a breaking change; an additive change
updates the released schema of its version.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .base import Event
from .registry import events

SNAPSHOT = Path(__file__).resolve().parents[2] / "docs" / "events" / "released.json"
_ANNOTATIONS = {"title", "description", "examples", "default", "additionalProperties", "$defs"}
_STRUCTURE = {"properties", "required", "items", "anyOf", "oneOf", "allOf"}


def public_events() -> list[type[Event]]:
    """The events integrators see: every event but the mailer-only (private) ones."""
    return [cls for cls in events() if not cls.private]


def event_key(cls: type[Event]) -> str:
    """`accounts.account.created`: the event's message id in the AsyncAPI document."""
    return f"{cls.producer}.{cls.event_type()}"


def normalized(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    """The schema with every `$ref` inlined and its annotations left out: what a consumer relies on."""
    defs = schema.get("$defs", {}) if defs is None else defs
    if isinstance(schema, dict):
        if "$ref" in schema:
            return normalized(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
        return {k: normalized(v, defs) for k, v in sorted(schema.items()) if k not in _ANNOTATIONS}
    if isinstance(schema, list):
        return [normalized(v, defs) for v in schema]
    return schema


def current() -> dict[str, dict[str, Any]]:
    """{event key: {version: normalized body schema}} of the current contracts."""
    return {event_key(cls): {str(cls.version): normalized(cls.model_json_schema())} for cls in public_events()}


def breaking_changes(old: Any, new: Any, path: str = "data") -> list[str]:
    """What makes `new` unacceptable to a consumer of `old` within one version (see the module doc)."""
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return [] if old == new else [f"{path}: type changed"]
    changes: list[str] = []
    shape_old = {k: v for k, v in old.items() if k not in _STRUCTURE}
    shape_new = {k: v for k, v in new.items() if k not in _STRUCTURE}
    if shape_old != shape_new:
        changes.append(f"{path}: type changed ({_describe(shape_old)} → {_describe(shape_new)})")
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, sub in old_props.items():
        if name not in new_props:
            changes.append(f"{path}.{name}: removed")
        else:
            changes += breaking_changes(sub, new_props[name], f"{path}.{name}")
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    changes += [
        f"{path}.{name}: no longer required" for name in sorted(old_required - new_required) if name in new_props
    ]
    changes += [f"{path}.{name}: newly required" for name in sorted(new_required - old_required)]
    if ("items" in old) != ("items" in new):
        changes.append(f"{path}: items changed")
    elif "items" in old:
        changes += breaking_changes(old["items"], new["items"], f"{path}[]")
    for key in ("anyOf", "oneOf", "allOf"):
        a, b = old.get(key, []), new.get(key, [])
        if len(a) != len(b):
            changes.append(f"{path}: {key} changed")
        else:
            for i, (x, y) in enumerate(zip(a, b)):
                changes += breaking_changes(x, y, f"{path}<{key}{i}>")
    return changes


def _describe(shape: dict[str, Any]) -> str:
    return json.dumps(shape, ensure_ascii=False, sort_keys=True) if shape else "{}"


def check(released: dict[str, dict[str, Any]], now: dict[str, dict[str, Any]]) -> list[str]:
    """Breaking changes between the released snapshot and the current contracts."""
    problems: list[str] = []
    for key, versions in sorted(released.items()):
        if key not in now:
            problems.append(f"{key}: the event is no longer published")
            continue
        ((version, schema),) = now[key].items()
        latest = max(versions, key=int)
        if int(version) < int(latest):
            problems.append(f"{key}: version {version} is older than the released {latest}")
        elif version in versions:
            problems += [f"{key} v{version}: {c}" for c in breaking_changes(versions[version], schema)]
    return problems


def unreleased(released: dict[str, dict[str, Any]], now: dict[str, dict[str, Any]]) -> list[str]:
    """Current event versions the snapshot does not hold yet."""
    return [
        f"{key} v{version}"
        for key, versions in sorted(now.items())
        for version in versions
        if version not in released.get(key, {})
    ]


def load(path: Path = SNAPSHOT) -> dict[str, dict[str, Any]]:
    return json.loads(path.read_text()) if path.exists() else {}


def release(path: Path = SNAPSHOT) -> list[str]:
    """Add the current versions to the snapshot (an additive change updates its version); refuses,
    changing nothing, when a released version would change incompatibly."""
    released, now = load(path), current()
    problems = check(released, now)
    if problems:
        return problems
    for key, versions in now.items():
        released.setdefault(key, {}).update(versions)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(sorted(released.items())), indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecandidat.contracts.compat", description=__doc__.split("\n\n")[0])
    parser.add_argument("--release", action="store_true", help="add the current versions to the snapshot")
    args = parser.parse_args(argv)
    problems = release() if args.release else check(load(), current())
    for line in problems:
        print(line)
    if not args.release:
        for line in unreleased(load(), current()):
            print(f"not released yet: {line}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
