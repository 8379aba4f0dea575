"""Middlewares: request id, and the error model (problem+json, never a trace)."""

from __future__ import annotations

import logging
import re
import uuid

from aiohttp import web

from pydantic import ValidationError

from ecandidat.contracts.errors import ServiceError
from ecandidat.runtime.logging import bind
from ecandidat.runtime.validation import invalid_input

from .api import REQUEST_ID
from .problems import from_http_exception, from_service_error, problem

log = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


@web.middleware
async def request_context(request: web.Request, handler) -> web.StreamResponse:
    incoming = request.headers.get("X-Request-Id", "")
    request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    with bind(request_id=request_id, method=request.method, path=request.path):
        response = await handler(request)
        response.headers["X-Request-Id"] = request_id
        return response


@web.middleware
async def errors(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ValidationError as exc:
        # A request model built from path or query values the route did not check itself.
        return from_service_error(invalid_input(exc), request)
    except ServiceError as err:
        if err.code in {"internal", "unavailable", "timeout"}:
            log.warning("service error", extra={"code": err.code, "detail": err.message})
        response = from_service_error(err, request)
        if response.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="ecandidat"'
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return from_http_exception(exc, request)
    except Exception:
        log.exception("unhandled error")
        return problem(
            500, "internal", "Une erreur interne est survenue. Veuillez réessayer plus tard.", request=request
        )
