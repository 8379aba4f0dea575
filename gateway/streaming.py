"""File bytes between the client and the documents service's internal endpoint, one chunk at a time.

An rpc has already checked the right and handed out a single-use ticket with the endpoint's URL;
here the gateway streams the request body there (uploads) or the file from there (downloads).

Timeouts measure silence, never the length of a transfer, so that a slow connection can always
upload a 5 Mo scan:
- `GATEWAY_UPLOAD_IDLE_TIMEOUT`: the longest the client may go without sending a byte of its
  upload; past it the upload is abandoned with a 408 problem+json, logged as the client's problem.
- `GATEWAY_DOCUMENTS_TIMEOUT`: the longest the documents service may stay silent — once an
  upload's body is sent (it inspects the file before answering), or between two chunks of a
  download. Connecting to it is bounded by `CONNECT_TIMEOUT`.

What goes wrong on the client's side (a stall, a disconnection, a malformed multipart body) is told
apart from the documents service being unreachable: only the latter is a 503 and a warning.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from urllib.parse import quote, unquote

import aiohttp
from aiohttp import web

from ecandidat.contracts.documents import DownloadTicket, UploadTicket, file_too_large_message
from ecandidat.contracts.errors import InvalidInput, RpcErrorBody, ServiceError, Unavailable

from .api import REQUEST_ID
from .inputs import continue_body, file_name, refuse_large_declared_body

log = logging.getLogger(__name__)

CHUNK = 256 * 1024
CONNECT_TIMEOUT = 10.0
# Room for a multipart form's boundaries and part headers around the file itself.
MULTIPART_OVERHEAD = 64 * 1024
DOCUMENTS_HTTP = web.AppKey("documents_http", aiohttp.ClientSession)
UPLOAD_IDLE_TIMEOUT = web.AppKey("upload_idle_timeout", float)


async def documents_http(app: web.Application, read_timeout: float, idle_timeout: float) -> AsyncIterator[None]:
    """The one HTTP client of the gateway → documents streams (a `cleanup_ctx` body)."""
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT, sock_read=read_timeout)
    async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session:
        app[DOCUMENTS_HTTP] = session
        app[UPLOAD_IDLE_TIMEOUT] = idle_timeout
        yield


def _unavailable() -> Unavailable:
    return Unavailable("Le service des pièces justificatives est momentanément indisponible, veuillez réessayer.")


def _service_error(body: bytes) -> ServiceError:
    try:
        return ServiceError.from_body(RpcErrorBody.model_validate(json.loads(body)["error"]))
    except (ValueError, KeyError, TypeError):
        return _unavailable()


def _malformed_multipart(reason: str) -> ServiceError:
    return ServiceError(
        f"Le formulaire multipart est mal formé ({reason}) : envoyez le fichier dans le champ "
        "« fichier » d'un formulaire multipart/form-data, ou tel quel dans le corps de la requête.",
        code="bad_request",
    )


class ClientUpload:
    """The client's file as it is sent on: an idle timeout between chunks, at most `limit` bytes,
    and whatever went wrong on the client's side kept in `failure` (the documents request then
    fails too, and must not be taken for an outage)."""

    def __init__(self, chunks: AsyncIterator[bytes], limit: int, idle: float) -> None:
        self._chunks = chunks
        self.limit = limit
        self.idle = idle
        self.received = 0
        self.failure: ServiceError | None = None

    async def chunks(self) -> AsyncIterator[bytes]:
        sent = 0
        while sent < self.limit:
            try:
                async with asyncio.timeout(self.idle):
                    chunk = await anext(self._chunks, None)
            except TimeoutError:
                self.failure = ServiceError(
                    f"Aucune donnée reçue pendant {self.idle:g} secondes : l'envoi du fichier a été abandonné. "
                    "Vérifiez votre connexion puis déposez le fichier à nouveau.",
                    code="request_timeout",
                )
                log.info("upload stalled by the client", extra={"received": self.received, "idle_timeout": self.idle})
                raise self.failure from None
            except (ConnectionError, aiohttp.ClientPayloadError) as exc:
                self.failure = ServiceError(
                    "L'envoi du fichier a été interrompu : déposez-le à nouveau.",
                    code="bad_request",
                    reason="interrompu",
                )
                log.info("client disconnected during upload", extra={"received": self.received, "error": repr(exc)})
                raise self.failure from None
            except aiohttp.http_exceptions.HttpProcessingError as exc:  # e.g. a malformed chunked body
                self.failure = ServiceError(
                    "Le corps de la requête est mal formé : déposez le fichier à nouveau.", code="bad_request"
                )
                log.info("malformed upload body", extra={"received": self.received, "error": repr(exc)})
                raise self.failure from None
            except (ValueError, AssertionError, LookupError) as exc:  # aiohttp's multipart reader
                self.failure = _malformed_multipart("corps illisible")
                log.info("malformed multipart upload", extra={"received": self.received, "error": repr(exc)})
                raise self.failure from None
            if chunk is None:
                return
            self.received += len(chunk)
            chunk = chunk[: self.limit - sent]
            sent += len(chunk)
            yield chunk


async def _file_source(request: web.Request) -> tuple[str, AsyncIterator[bytes]]:
    """The file's name and bytes: a multipart form's first file part, or the raw body."""
    if request.content_type.startswith("multipart/"):
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if isinstance(part, aiohttp.BodyPartReader) and part.filename is not None:
                    return file_name(part.filename), _part_chunks(part)
                await part.release()
        except aiohttp.http_exceptions.HttpProcessingError:
            raise _malformed_multipart(
                "en-tête de partie invalide, par exemple un caractère de contrôle dans le nom du fichier"
            ) from None
        except (ValueError, AssertionError, LookupError) as exc:
            raise _malformed_multipart(
                "pas de délimiteur « boundary » valide" if "boundary" in str(exc) else "corps illisible"
            ) from None
        raise InvalidInput("Aucun fichier n'a été reçu : joignez le fichier dans le champ « fichier ».")
    name = file_name(request.headers.get("X-File-Name"))
    if not name and "Content-Disposition" in request.headers:
        _, params = aiohttp.multipart.parse_content_disposition(request.headers["Content-Disposition"])
        name = file_name(aiohttp.multipart.content_disposition_filename(params, "filename"))
    return name, request.content.iter_chunked(CHUNK)


async def _part_chunks(part: aiohttp.BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(CHUNK):
        yield chunk


async def proxy_upload(request: web.Request, ticket: UploadTicket) -> web.Response:
    multipart = request.content_type.startswith("multipart/")
    refuse_large_declared_body(
        request, ticket.max_size + (MULTIPART_OVERHEAD if multipart else 0), file_too_large_message(ticket.max_size)
    )
    await continue_body(request)
    name, chunks = await _file_source(request)
    upload = ClientUpload(chunks, ticket.max_size + 1, request.app[UPLOAD_IDLE_TIMEOUT])
    headers = {
        "X-File-Name": quote(name[:500]),
        "X-Request-Id": request[REQUEST_ID],
        "Content-Type": "application/octet-stream",
    }
    try:
        async with request.app[DOCUMENTS_HTTP].post(ticket.url, data=upload.chunks(), headers=headers) as resp:
            body = await resp.read()
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        if upload.failure is not None:
            raise upload.failure from None
        log.warning("documents endpoint unreachable", extra={"error": repr(exc), "received": upload.received})
        raise _unavailable() from None
    if resp.status >= 400:
        raise _service_error(body)
    return web.Response(status=resp.status, body=body, content_type="application/json")


def content_disposition(name: str) -> str:
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in name) or "fichier"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


async def proxy_download(request: web.Request, ticket: DownloadTicket) -> web.StreamResponse:
    try:
        async with request.app[DOCUMENTS_HTTP].get(ticket.url, headers={"X-Request-Id": request[REQUEST_ID]}) as resp:
            if resp.status >= 400:
                raise _service_error(await resp.read())
            out = web.StreamResponse(
                headers={
                    "Content-Type": resp.headers.get("Content-Type", "application/octet-stream"),
                    "Content-Disposition": content_disposition(file_name(unquote(resp.headers.get("X-File-Name", "")))),
                }
            )
            if resp.content_length is not None:
                out.content_length = resp.content_length
            await out.prepare(request)
            async for chunk in resp.content.iter_chunked(CHUNK):
                try:
                    await out.write(chunk)
                except ConnectionError:
                    log.info("client disconnected during download")
                    return out
            await out.write_eof()
            return out
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        log.warning("documents endpoint unreachable", extra={"error": repr(exc)})
        raise _unavailable() from None
