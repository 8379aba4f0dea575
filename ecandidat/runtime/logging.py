"""Structured JSON logging with the request id / event id of the work in progress.

`bind(request_id=...)` puts fields into a context variable; every record logged inside that
context carries them, across awaits, without passing a logger around.

`extra={...}` keys that name an attribute of `logging.LogRecord` (`created`, `name`, `module`,
`message`…) would make the standard library raise `KeyError` from inside the log call, turning a
finished piece of work into an error: every logger of the process is a `KitLogger`, which renames
such a key with a trailing underscore (`created_`) instead. `tests/unit/kit/test_logging.py` also
refuses them in the source tree.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
import traceback
from datetime import datetime, timezone
from typing import Any, Iterator

_fields: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("log_fields", default={})

_RESERVED = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def reserved_keys() -> frozenset[str]:
    """The `extra` keys a log call must not use: LogRecord's own attributes."""
    return _RESERVED


class KitLogger(logging.Logger):
    """A logger whose `extra` keys can never overwrite a LogRecord attribute (they get a `_` suffix)."""

    def makeRecord(self, name, level, fn, lno, msg, args, exc_info, func=None, extra=None, sinfo=None):  # noqa: N802
        if extra and not _RESERVED.isdisjoint(extra):
            extra = {(f"{key}_" if key in _RESERVED else key): value for key, value in extra.items()}
        return super().makeRecord(name, level, fn, lno, msg, args, exc_info, func, extra, sinfo)


def _install_logger_class() -> None:
    """Loggers made from now on, and those the process already made, are `KitLogger`s."""
    logging.setLoggerClass(KitLogger)
    for existing in list(logging.Logger.manager.loggerDict.values()):
        if type(existing) is logging.Logger:
            existing.__class__ = KitLogger


_install_logger_class()


@contextlib.contextmanager
def bind(**fields: Any) -> Iterator[None]:
    token = _fields.set({**_fields.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _fields.reset(token)


def current_fields() -> dict[str, Any]:
    return dict(_fields.get())


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_fields.get())
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extra = {
            **_fields.get(),
            **{k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")},
        }
        return f"{base} {json.dumps(extra, default=str, ensure_ascii=False)}" if extra else base


def configure(service: str, level: str = "INFO", fmt: str = "json") -> None:
    # What neither formatter writes is not gathered for every record (the logging module's own
    # "Optimization" settings): the caller's file, line and function (a walk up the stack), the
    # thread, process and multiprocessing names. The gateway logs every request: it adds up.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("asyncio", "aiosmtplib", "nats"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
