"""Pièces justificatives, for the candidate: list, upload (streamed), replace, delete, "non
concerné", download of one's files and of the piece templates, and the candidature PDF.

Bytes never go over NATS: an rpc checks the right and hands out a single-use ticket with the
documents service's internal URL, then the gateway streams the body there (uploads) or from there
(downloads), holding one chunk at a time (`gateway.streaming`). The size limit is enforced there
too: no more than `max_size + 1` bytes are ever forwarded, and the service answers 413 at that byte.

Pieces take no `If-Match` (unlike the dossier's sections): a piece has one writer, the candidate,
replacing a file means "this one is the file I want", and what staff do to a piece (validate it,
the candidature transmitted) is enforced by its state, which refuses the change (409). Requiring a
version would make every browser upload read the piece first and protect nothing more.
"""

from __future__ import annotations


from aiohttp import web
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
)

from ..api import API_PREFIX, PRINCIPAL, Api, call, parse_body, path_uuid, relay
from ..streaming import proxy_download, proxy_upload

TAG = "pièces justificatives"
BASE = f"{API_PREFIX}/candidatures/{{candidature_id}}"
PIECE_FILE = "application/pdf image/jpeg image/png"
UPLOAD_TYPES = {"request": f"application/octet-stream {PIECE_FILE} multipart/form-data"}
UPLOAD_RESPONSES = {
    404: "Pièce inconnue",
    409: "La pièce ne peut pas être modifiée",
    410: "Lien de dépôt expiré",
    413: "Fichier de plus de 5 Mo",
    415: "Type de fichier refusé",
}


class Concerne(BaseModel):
    concerne: bool


# -- routes -----------------------------------------------------------------------------------------


def ids(request: web.Request) -> dict:
    """The caller and the candidature (and slot) the path names, as rpc fields."""
    principal: Principal = request[PRINCIPAL]
    found = {"principal": principal, "candidature_id": path_uuid(request, "candidature_id")}
    if "slot_id" in request.match_info:
        found["slot_id"] = path_uuid(request, "slot_id")
    return found


def register(api: Api) -> None:
    @api.route(
        "GET",
        f"{BASE}/pieces",
        summary="Les pièces justificatives de ma candidature",
        tag=TAG,
        response=CandidaturePieces,
        realm="candidate",
        responses={404: "Candidature inconnue"},
    )
    async def list_my_pieces(request: web.Request) -> web.Response:
        return await relay(request, ListPieces(**ids(request)))

    @api.route(
        "PUT",
        f"{BASE}/pieces/{{slot_id}}/fichier",
        summary="Déposer ou remplacer le fichier d'une pièce "
        "(PDF, JPG ou PNG, 5 Mo au plus ; corps brut ou formulaire multipart)",
        tag=TAG,
        status=201,
        realm="candidate",
        content_types=UPLOAD_TYPES,
        responses=UPLOAD_RESPONSES,
    )
    async def upload_my_piece(request: web.Request) -> web.Response:
        ticket = await call(request, OpenPieceUpload(**ids(request)), UploadTicket)
        return await proxy_upload(request, ticket)

    @api.route(
        "DELETE",
        f"{BASE}/pieces/{{slot_id}}/fichier",
        summary="Supprimer le fichier d'une pièce",
        tag=TAG,
        response=PieceView,
        realm="candidate",
        responses={404: "Pièce inconnue", 409: "Pièce non modifiable"},
    )
    async def delete_my_piece(request: web.Request) -> web.Response:
        return await relay(request, DeletePieceFile(**ids(request)))

    @api.route(
        "PUT",
        f"{BASE}/pieces/{{slot_id}}/concerne",
        summary="Déclarer une pièce conditionnelle « non concerné » (concerne=false) ou « concerné » à nouveau",
        tag=TAG,
        body=Concerne,
        response=PieceView,
        realm="candidate",
        responses={404: "Pièce inconnue", 409: "Pièce non modifiable"},
    )
    async def set_my_piece_concerned(request: web.Request) -> web.Response:
        body = await parse_body(request, Concerne)
        return await relay(request, SetPieceConcerned(**ids(request), concerned=body.concerne))

    @api.route(
        "GET",
        f"{BASE}/pieces/{{slot_id}}/fichier",
        summary="Télécharger le fichier déposé",
        tag=TAG,
        realm="candidate",
        content_types={"response": PIECE_FILE},
        responses={404: "Pièce ou fichier inconnu"},
    )
    async def download_my_piece(request: web.Request) -> web.StreamResponse:
        ticket = await call(request, OpenPieceDownload(**ids(request), what="fichier"), DownloadTicket)
        return await proxy_download(request, ticket)

    @api.route(
        "GET",
        f"{BASE}/pieces/{{slot_id}}/modele",
        summary="Télécharger le modèle à remplir d'une pièce",
        tag=TAG,
        realm="candidate",
        content_types={"response": "application/pdf"},
        responses={404: "Pas de modèle pour cette pièce"},
    )
    async def download_piece_template(request: web.Request) -> web.StreamResponse:
        ticket = await call(request, OpenPieceDownload(**ids(request), what="modele"), DownloadTicket)
        return await proxy_download(request, ticket)

    @api.route(
        "GET",
        f"{BASE}/dossier.pdf",
        summary="Télécharger mon dossier de candidature (PDF)",
        tag=TAG,
        realm="candidate",
        content_types={"response": "application/pdf"},
        responses={404: "Candidature inconnue"},
    )
    async def download_my_dossier(request: web.Request) -> web.StreamResponse:
        ticket = await call(request, OpenDossierDownload(**ids(request)), DownloadTicket)
        return await proxy_download(request, ticket)
