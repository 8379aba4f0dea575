"""The logging kit: `extra` keys never clash with LogRecord's own attributes, in the code or at run time."""

from __future__ import annotations

import ast
import io
import json
import logging
from pathlib import Path

from ecandidat.runtime.logging import JsonFormatter, KitLogger, reserved_keys

ROOT = Path(__file__).resolve().parents[3]
SOURCES = ("ecandidat", "services", "gateway", "bench")


def _extra_keys(call: ast.Call) -> list[tuple[str, int]]:
    """The literal keys of `extra={...}` or `extra=dict(...)` in a call."""
    found = []
    for keyword in call.keywords:
        if keyword.arg != "extra":
            continue
        value = keyword.value
        if isinstance(value, ast.Dict):
            found += [
                (k.value, k.lineno) for k in value.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)
            ]
        elif isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "dict":
            found += [(k.arg, value.lineno) for k in value.keywords if k.arg]
    return found


def test_no_log_call_in_the_tree_uses_a_reserved_extra_key():
    reserved = reserved_keys()
    clashes = []
    scanned = 0
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    for key, line in _extra_keys(node):
                        scanned += 1
                        if key in reserved:
                            clashes.append(f"{path.relative_to(ROOT)}:{line}: extra key {key!r}")
    assert scanned > 20, "the scan found no log call with extra: it is not looking at the code"
    assert clashes == [], "these keys overwrite a LogRecord attribute (rename them):\n" + "\n".join(clashes)


def test_a_reserved_key_at_run_time_is_renamed_not_raised():
    logger = logging.getLogger("tests.kit.logging.reserved")
    assert isinstance(logger, KitLogger)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("registry loaded", extra={"created": 3, "module": "x", "message": "m", "lines": 4})
    finally:
        logger.removeHandler(handler)
    entry = json.loads(stream.getvalue())
    assert entry["message"] == "registry loaded"
    assert entry["created_"] == 3 and entry["module_"] == "x" and entry["message_"] == "m" and entry["lines"] == 4


def test_loggers_made_before_the_kit_was_imported_are_kit_loggers_too():
    # Module loggers of every service are created at import time, in any order.
    from services.dossiers import handlers

    assert isinstance(handlers.log, KitLogger)
