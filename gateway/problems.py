"""RFC 9457 problem details: the one error model of the HTTP API."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from ecandidat.contracts.errors import HTTP_STATUS, ServiceError

from .api import REQUEST_ID

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://ecandidat.fr/problems/"

TITLES = {
    400: "Requête invalide",
    401: "Authentification requise",
    403: "Accès refusé",
    404: "Ressource introuvable",
    405: "Méthode non autorisée",
    409: "Conflit",
    410: "Lien expiré",
    412: "Version périmée",
    413: "Contenu trop volumineux",
    415: "Type de contenu non pris en charge",
    422: "Données invalides",
    428: "Version requise",
    429: "Trop de tentatives",
    500: "Erreur interne",
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
