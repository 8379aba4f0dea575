"""Pièces justificatives, for the candidate: list, upload (streamed), replace, delete, "non
concerné", download of one's files and of the piece templates, and the candidature PDF.

Bytes never go over NATS: an rpc checks the right and hands out a single-use ticket with the
documents service's internal URL, then the gateway streams the body there (uploads) or from there
(downloads), holding one chunk at a time. The size limit is enforced here too: no more than
`max_size + 1` bytes are ever forwarded, and the service answers 413 at that byte.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from urllib.parse import quote, unquote

import aiohttp
from aiohttp import web
from aiohttp.multipart import content_disposition_filename, parse_content_disposition
from pydantic import BaseModel

from ecandidat.contracts.auth import Principal
from ecandidat.contracts.documents import (
    CandidaturePieces,
    DeletePieceFile,
    DownloadTicket,
    ListPieces,
    OpenDossierDownload,
    OpenPieceDownload,
    OpenPieceUpload,
    PieceView,
    SetPieceConcerned,
    UploadTicket,
    file_too_large_message,
)
from ecandidat.contracts.errors import InvalidInput, NotFound, RpcErrorBody, ServiceError, Unavailable

from ..api import API_PREFIX, PRINCIPAL, REQUEST_ID, Api, json_response, parse_body
from ..keys import RPC
from ..middleware import SECURITY_HEADERS

CHUNK = 256 * 1024
TAG = "pièces justificatives"
BASE = f"{API_PREFIX}/candidatures/{{candidature_id}}"
UPLOAD_TYPES = {"request": "application/octet-stream"}
UPLOAD_RESPONSES = {404: "Pièce inconnue", 409: "La pièce ne peut pas être modifiée", 410: "Lien de dépôt expiré",
                    413: "Fichier de plus de 5 Mo", 415: "Type de fichier refusé"}


class Concerne(BaseModel):
    concerne: bool


def path_uuid(request: web.Request, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise NotFound("Cette ressource n'existe pas.") from None


async def call(request: web.Request, body, reply: type):
    return await request.app[RPC].call(body, reply, request_id=request[REQUEST_ID])


# -- streaming to and from the documents service ------------------------------------------------


def _unavailable() -> Unavailable:
    return Unavailable("Le service des pièces justificatives est momentanément indisponible, veuillez réessayer.")


def _service_error(body: bytes) -> ServiceError:
    try:
        return ServiceError.from_body(RpcErrorBody.model_validate(json.loads(body)["error"]))
    except (ValueError, KeyError, TypeError):
        return _unavailable()


async def _file_source(request: web.Request) -> tuple[str, AsyncIterator[bytes]]:
    """The file's name and bytes: a multipart form's first file part, or the raw body."""
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if isinstance(part, aiohttp.BodyPartReader) and part.filename is not None:
                return unquote(part.filename), _part_chunks(part)
            await part.release()
        raise InvalidInput("Aucun fichier n'a été reçu : joignez le fichier dans le champ « fichier ».")
    name = unquote(request.headers.get("X-File-Name", ""))
    if not name and "Content-Disposition" in request.headers:
        _, params = parse_content_disposition(request.headers["Content-Disposition"])
        name = content_disposition_filename(params, "filename") or ""
    return name, request.content.iter_chunked(CHUNK)


async def _part_chunks(part: aiohttp.BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(CHUNK):
        yield chunk


async def _at_most(chunks: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    sent = 0
    async for chunk in chunks:
        chunk = chunk[: limit - sent]
        sent += len(chunk)
        yield chunk
        if sent >= limit:
            return


async def proxy_upload(request: web.Request, ticket: UploadTicket) -> web.Response:
    declared = request.content_length
    if declared is not None and declared > ticket.max_size and not request.content_type.startswith("multipart/"):
        raise ServiceError(file_too_large_message(ticket.max_size), code="too_large")
    name, chunks = await _file_source(request)
    headers = {"X-File-Name": quote(name[:500]), "X-Request-Id": request[REQUEST_ID],
               "Content-Type": "application/octet-stream"}
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(ticket.url, data=_at_most(chunks, ticket.max_size + 1), headers=headers) as resp:
                body = await resp.read()
    except (aiohttp.ClientError, OSError):
        raise _unavailable() from None
    if resp.status >= 400:
        raise _service_error(body)
    return web.Response(status=resp.status, body=body, content_type="application/json")


def content_disposition(name: str) -> str:
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in name) or "fichier"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


async def proxy_download(request: web.Request, ticket: DownloadTicket) -> web.StreamResponse:
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(ticket.url, headers={"X-Request-Id": request[REQUEST_ID]}) as resp:
                if resp.status >= 400:
                    raise _service_error(await resp.read())
                out = web.StreamResponse(headers={
                    **SECURITY_HEADERS,
                    "Content-Type": resp.headers.get("Content-Type", "application/octet-stream"),
                    "Content-Disposition": content_disposition(unquote(resp.headers.get("X-File-Name", ""))),
                    "Cache-Control": "no-store",
                    "X-Request-Id": request[REQUEST_ID],
                })
                if resp.content_length is not None:
                    out.content_length = resp.content_length
                await out.prepare(request)
                async for chunk in resp.content.iter_chunked(CHUNK):
                    await out.write(chunk)
                await out.write_eof()
                return out
    except (aiohttp.ClientError, OSError):
        raise _unavailable() from None


# -- routes -----------------------------------------------------------------------------------------


def ids(request: web.Request) -> dict:
    """The caller and the candidature (and slot) the path names, as rpc fields."""
    principal: Principal = request[PRINCIPAL]
    found = {"principal": principal, "candidature_id": path_uuid(request, "candidature_id")}
    if "slot_id" in request.match_info:
        found["slot_id"] = path_uuid(request, "slot_id")
    return found


def register(api: Api) -> None:
    @api.route("GET", f"{BASE}/pieces", summary="Les pièces justificatives de ma candidature", tag=TAG,
               response=CandidaturePieces, realm="candidate", responses={404: "Candidature inconnue"})
    async def list_my_pieces(request: web.Request) -> web.Response:
        return json_response(await call(request, ListPieces(**ids(request)), CandidaturePieces))

    @api.route("PUT", f"{BASE}/pieces/{{slot_id}}/fichier", summary="Déposer ou remplacer le fichier d'une pièce "
               "(PDF, JPG ou PNG, 5 Mo au plus ; corps brut ou formulaire multipart)", tag=TAG, status=201,
               realm="candidate", content_types=UPLOAD_TYPES, responses=UPLOAD_RESPONSES)
    async def upload_my_piece(request: web.Request) -> web.Response:
        ticket = await call(request, OpenPieceUpload(**ids(request)), UploadTicket)
        return await proxy_upload(request, ticket)

    @api.route("DELETE", f"{BASE}/pieces/{{slot_id}}/fichier", summary="Supprimer le fichier d'une pièce", tag=TAG,
               response=PieceView, realm="candidate", responses={404: "Pièce inconnue", 409: "Pièce non modifiable"})
    async def delete_my_piece(request: web.Request) -> web.Response:
        return json_response(await call(request, DeletePieceFile(**ids(request)), PieceView))

    @api.route("PUT", f"{BASE}/pieces/{{slot_id}}/concerne", summary="Déclarer une pièce conditionnelle "
               "« non concerné » (concerne=false) ou « concerné » à nouveau", tag=TAG, body=Concerne,
               response=PieceView, realm="candidate", responses={404: "Pièce inconnue", 409: "Pièce non modifiable"})
    async def set_my_piece_concerned(request: web.Request) -> web.Response:
        body = await parse_body(request, Concerne)
        reply = await call(request, SetPieceConcerned(**ids(request), concerned=body.concerne), PieceView)
        return json_response(reply)

    @api.route("GET", f"{BASE}/pieces/{{slot_id}}/fichier", summary="Télécharger le fichier déposé", tag=TAG,
               realm="candidate", content_types={"response": "application/octet-stream"},
               responses={404: "Pièce ou fichier inconnu"})
    async def download_my_piece(request: web.Request) -> web.StreamResponse:
        ticket = await call(request, OpenPieceDownload(**ids(request), what="fichier"), DownloadTicket)
        return await proxy_download(request, ticket)

    @api.route("GET", f"{BASE}/pieces/{{slot_id}}/modele", summary="Télécharger le modèle à remplir d'une pièce",
               tag=TAG, realm="candidate", content_types={"response": "application/pdf"},
               responses={404: "Pas de modèle pour cette pièce"})
    async def download_piece_template(request: web.Request) -> web.StreamResponse:
        ticket = await call(request, OpenPieceDownload(**ids(request), what="modele"), DownloadTicket)
        return await proxy_download(request, ticket)

    @api.route("GET", f"{BASE}/dossier.pdf", summary="Télécharger mon dossier de candidature (PDF)", tag=TAG,
               realm="candidate", content_types={"response": "application/pdf"}, responses={404: "Candidature inconnue"})
    async def download_my_dossier(request: web.Request) -> web.StreamResponse:
        ticket = await call(request, OpenDossierDownload(**ids(request)), DownloadTicket)
        return await proxy_download(request, ticket)
