"""What a request may carry, checked once at the edge for every route.

- JSON bodies: at most `MAX_JSON_DEPTH` nested arrays/objects (deeper is a 400, whatever the
  route, authenticated or not); no NUL character and no unpaired surrogate in any key or string
  (PostgreSQL and UTF-8 refuse them): a 422 naming each field.
- Path and query values: no control character (NUL included) and no unpaired surrogate: a 422
  naming the parameter. Checked before authentication and before any service is asked.
- Header text meant for people (file names): aiohttp decodes header bytes as UTF-8 and keeps the
  bytes it cannot decode as surrogates; `header_text` reads those bytes as Latin-1 (what old
  clients send) and drops control characters, so a name can always be stored and sent on.
- `Expect: 100-continue`: the interim "100 Continue" is sent only once the route has decided to
  read the body (`continue_body`), after authentication and the size check, so that a client
  whose body would be refused (401, 403, 413…) gets the final answer without sending it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from ecandidat.contracts.errors import ErrorDetail, InvalidInput, ServiceError

MAX_JSON_DEPTH = 32
FORBIDDEN_CHARACTER = (
    "Ce champ contient un caractère interdit (caractère nul, de contrôle ou mal encodé) : vérifiez son format."
)
_NUL = re.compile("\x00")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTINUE_SENT = web.RequestKey("continue_sent", bool)


def _bad_text(text: str, forbidden: re.Pattern[str]) -> bool:
    if forbidden.search(text):
        return True
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # an unpaired surrogate ("\ud800" in JSON, or a byte aiohttp could not decode)
        return True
    return False


def _refusal(message: str, fields: list[str]) -> InvalidInput:
    return InvalidInput(
        message,
        details=[
            ErrorDetail(field=name or None, message=FORBIDDEN_CHARACTER, code="forbidden_character")
            for name in fields[:20]
        ],
    )


def too_deep() -> ServiceError:
    return ServiceError(
        f"Le corps de la requête est trop imbriqué (au plus {MAX_JSON_DEPTH} niveaux de tableaux ou d'objets).",
        code="bad_request",
    )


def load_json(raw: bytes) -> Any:
    """A request body as JSON, refused (400/422) when malformed, too deep, or carrying forbidden characters."""
    try:
        data = json.loads(raw or b"null")
    except RecursionError:
        raise too_deep() from None
    except (ValueError, UnicodeDecodeError):
        raise ServiceError("Le corps de la requête n'est pas un JSON valide.", code="bad_request") from None
    check_json(data)
    return data


def check_json(data: Any) -> None:
    bad: list[str] = []
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, (dict, list)):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise too_deep()
            items = value.items() if isinstance(value, dict) else enumerate(value)
            children = []
            for key, item in items:
                name = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and _bad_text(key, _NUL):
                    bad.append(name)
                children.append((item, name, depth))
            stack.extend(reversed(children))
        elif isinstance(value, str) and _bad_text(value, _NUL):
            bad.append(path)
    if bad:
        raise _refusal("Les données envoyées sont invalides.", bad)


def check_parameters(request: web.Request) -> None:
    """Path and query values of a routed request."""
    bad = [name for name, value in request.match_info.items() if _bad_text(value, _CONTROL)]
    if bad:
        raise _refusal("L'adresse demandée contient un caractère interdit.", bad)
    bad = [key for key, value in request.query.items() if _bad_text(key, _CONTROL) or _bad_text(value, _CONTROL)]
    if bad:
        raise _refusal("Les paramètres de la requête sont invalides.", bad)


def _without_controls(text: str) -> str:
    return "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cs"))


def header_text(value: str | None, limit: int = 255) -> str:
    """A header's text as the client meant it (see the module docstring), at most `limit` characters."""
    if not value:
        return ""
    try:
        raw = value.encode("utf-8", "surrogateescape")
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            value = raw.decode("latin-1")
    except UnicodeEncodeError:  # surrogates that are not undecoded bytes
        pass
    return _without_controls(value)[:limit]


def file_name(value: str | None, limit: int = 255) -> str:
    """A file name from `X-File-Name` or a multipart part, percent-decoded, without control characters."""
    return _without_controls(unquote(header_text(value, limit * 3), errors="replace"))[:limit]


async def continue_body(request: web.Request) -> None:
    """Send "100 Continue" if the client is waiting for it before sending the body (once)."""
    if request.get(_CONTINUE_SENT) or request.headers.get("Expect", "").lower() != "100-continue":
        return
    request[_CONTINUE_SENT] = True
    if request.version >= (1, 1):
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # the interim answer is not the response


async def expect_handler(request: web.Request) -> web.StreamResponse | None:
    """Every route's `Expect` handler: nothing is sent yet for 100-continue (see `continue_body`)."""
    if request.headers.get("Expect", "").lower() != "100-continue":
        from .problems import problem

        return problem(417, "expectation_failed", "Seul « Expect: 100-continue » est pris en charge.", request=request)
    return None


def refuse_large_declared_body(request: web.Request, limit: int, message: str) -> None:
    """A body whose declared length is over `limit` is refused before a byte of it is read."""
    if request.content_length is not None and request.content_length > limit:
        raise ServiceError(message, code="too_large")
