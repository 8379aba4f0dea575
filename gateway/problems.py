"""RFC 9457 problem details: the one error model of the HTTP API."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from ecandidat.contracts.errors import HTTP_STATUS, ServiceError

from .api import REQUEST_ID
from .headers import set_security_headers

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://ecandidat.fr/problems/"

TITLES = {
    400: "Requête invalide",
    401: "Authentification requise",
    403: "Accès refusé",
    404: "Ressource introuvable",
    405: "Méthode non autorisée",
    408: "Délai d'envoi dépassé",
    409: "Conflit",
    410: "Lien expiré",
    412: "Version périmée",
    413: "Contenu trop volumineux",
    415: "Type de contenu non pris en charge",
    417: "Attente non prise en charge",
    422: "Données invalides",
    431: "En-têtes trop volumineux",
    428: "Version requise",
    429: "Trop de tentatives",
    500: "Erreur interne",
    501: "Non pris en charge",
    503: "Service indisponible",
    504: "Délai dépassé",
}

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}

_HTTP_MESSAGES = {
    404: "La ressource demandée n'existe pas.",
    405: "Cette méthode n'est pas autorisée sur cette ressource.",
    413: "Le contenu envoyé est trop volumineux.",
}


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    request: web.Request | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": TITLES.get(status, "Erreur"),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if request is not None:
        body["instance"] = request.path
        request_id = request.get(REQUEST_ID)
        if request_id:
            body["request_id"] = request_id
    if errors:
        body["errors"] = errors
    body.update(extra)
    return web.Response(
        status=status,
        body=json.dumps(body, ensure_ascii=False, default=str).encode(),
        content_type="application/problem+json",
        headers=headers,
    )


def from_service_error(err: ServiceError, request: web.Request) -> web.Response:
    status = HTTP_STATUS.get(err.code, 400)
    headers = {}
    if "retry_after" in err.extra:
        headers["Retry-After"] = str(int(err.extra["retry_after"]))
    extra = {k: v for k, v in err.extra.items() if k not in {"retry_after", "service"}}
    return problem(
        status,
        err.code,
        err.message,
        request=request,
        errors=[d.model_dump(exclude_none=True) for d in err.details] or None,
        headers=headers or None,
        **extra,
    )


def from_http_exception(exc: web.HTTPException, request: web.Request) -> web.Response:
    status = exc.status
    code = _HTTP_CODES.get(status, "http_error")
    detail = _HTTP_MESSAGES.get(status) or TITLES.get(status, exc.reason)
    headers = {k: v for k, v in exc.headers.items() if k.lower() in {"allow", "retry-after", "www-authenticate"}}
    return problem(status, code, detail, request=request, headers=headers or None)


# -- what aiohttp's HTTP parser refuses, before any application code runs ----------------------------


_PARSER_DETAILS = {
    400: "La requête HTTP est mal formée (ligne de requête ou en-tête invalide, par exemple un caractère de "
    "contrôle dans un en-tête) : elle n'a pas été traitée.",
    413: "Le contenu envoyé est trop volumineux.",
    431: "Les en-têtes de la requête sont trop volumineux.",
    501: "Cette forme de requête HTTP n'est pas prise en charge.",
}


def parser_problem(status: int, path: str) -> web.Response:
    """The answer to a request the HTTP parser refused: no route, no middleware, no request id."""
    detail = _PARSER_DETAILS.get(
        status,
        _PARSER_DETAILS[400] if status < 500 else "Une erreur interne est survenue. Veuillez réessayer plus tard.",
    )
    code = _HTTP_CODES.get(status, "bad_request" if status < 500 else "internal")
    body = {
        "type": PROBLEM_BASE + code,
        "title": TITLES.get(status, "Erreur"),
        "status": status,
        "detail": detail,
        "code": code,
        "instance": path[:200],
    }
    return web.Response(
        status=status, body=json.dumps(body, ensure_ascii=False).encode(), content_type="application/problem+json"
    )


class ProblemRequestHandler(web.RequestHandler):
    """aiohttp's connection handler, answering in problem+json where it would write text/plain."""

    def handle_error(
        self, request, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        if status >= 500:
            self.log_exception("error handling request", exc_info=exc)
        else:  # the client's mistake, or an attacker's probe: not the platform's error
            log.info("request refused by the HTTP parser", extra={"status": status, "error": message or repr(exc)})
        if request.writer.output_size > 0:
            raise ConnectionError("Response is sent already, cannot send another response with the error message")
        response = parser_problem(status, _safe_path(request))
        set_security_headers(response.headers, hsts=False)
        response.force_close()
        return response


def _safe_path(request) -> str:
    try:
        return request.path
    except Exception:  # a request line the parser could not read has no usable path
        return ""


class ProblemServer(web.Server):
    """aiohttp's low-level server, with `ProblemRequestHandler` for each connection."""

    def __call__(self) -> ProblemRequestHandler:
        return ProblemRequestHandler(self, loop=self._loop, **self._kwargs)

    @classmethod
    def like(cls, server: web.Server) -> "ProblemServer":
        return cls(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            loop=server._loop,
            **server._kwargs,
        )
