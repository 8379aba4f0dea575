"""Pièces justificatives, for staff: the pieces of a candidature in their scope, the deposited
files, the review (validate, or refuse with a comment), and the piece templates (admin, scolarité)."""

from __future__ import annotations

from aiohttp import web

from ecandidat.contracts.access import ANY_STAFF, MANAGERS, OFFER_ADMINS
from ecandidat.contracts.documents import (
    CandidaturePieces,
    DeleteTemplate,
    DownloadTicket,
    ListPieces,
    OpenDossierDownload,
    OpenPieceDownload,
    OpenTemplateDownload,
    OpenTemplateUpload,
    PieceView,
    ReviewPiece,
    TemplateView,
    UploadTicket,
)

from ..api import API_PREFIX, PRINCIPAL, Api, body_of, parse_body, relay
from ..streaming import proxy_download, proxy_upload
from .documents import PIECE_FILE, UPLOAD_RESPONSES, UPLOAD_TYPES, call, ids, path_uuid

TAG = "pièces justificatives (gestion)"
BASE = f"{API_PREFIX}/staff/candidatures/{{candidature_id}}"
TEMPLATE = f"{API_PREFIX}/staff/pieces/{{piece_id}}/modele"


Examen = body_of(ReviewPiece, without=("principal", "candidature_id", "slot_id"), name="Examen")


def register(api: Api) -> None:
    @api.route(
        "GET",
        f"{BASE}/pieces",
        summary="Les pièces justificatives d'une candidature",
        tag=TAG,
        response=CandidaturePieces,
        realm="staff",
        roles=ANY_STAFF,
        responses={404: "Candidature inconnue"},
    )
    async def staff_list_pieces(request: web.Request) -> web.Response:
        return await relay(request, ListPieces(**ids(request)))

    @api.route(
        "GET",
        f"{BASE}/pieces/{{slot_id}}/fichier",
        summary="Télécharger le fichier d'une pièce",
        tag=TAG,
        realm="staff",
        roles=ANY_STAFF,
        content_types={"response": PIECE_FILE},
        responses={404: "Pièce ou fichier inconnu"},
    )
    async def staff_download_piece(request: web.Request) -> web.StreamResponse:
        ticket = await call(request, OpenPieceDownload(**ids(request), what="fichier"), DownloadTicket)
        return await proxy_download(request, ticket)

    @api.route(
        "POST",
        f"{BASE}/pieces/{{slot_id}}/examen",
        summary="Valider une pièce, ou la refuser avec un commentaire pour le candidat",
        tag=TAG,
        body=Examen,
        response=PieceView,
        realm="staff",
        roles=MANAGERS,
        responses={404: "Pièce inconnue", 409: "Pièce pas encore déposée"},
    )
    async def staff_review_piece(request: web.Request) -> web.Response:
        body = await parse_body(request, Examen)
        review = ReviewPiece(**ids(request), **body.model_dump())
        return await relay(request, review)

    @api.route(
        "GET",
        f"{BASE}/dossier.pdf",
        summary="Le PDF d'une candidature",
        tag=TAG,
        realm="staff",
        roles=ANY_STAFF,
        content_types={"response": "application/pdf"},
        responses={404: "Candidature inconnue"},
    )
    async def staff_download_dossier(request: web.Request) -> web.StreamResponse:
        ticket = await call(request, OpenDossierDownload(**ids(request)), DownloadTicket)
        return await proxy_download(request, ticket)

    @api.route(
        "PUT",
        TEMPLATE,
        summary="Déposer ou remplacer le modèle PDF d'une pièce (paramètre libelle)",
        tag=TAG,
        status=201,
        realm="staff",
        roles=OFFER_ADMINS,
        content_types=UPLOAD_TYPES,
        responses=UPLOAD_RESPONSES,
        query_parameters={"libelle": ({"type": "string", "maxLength": 300}, "Fiche client à remplir")},
    )
    async def staff_upload_template(request: web.Request) -> web.Response:
        libelle = request.query.get("libelle", "")[:300]
        opened = OpenTemplateUpload(
            principal=request[PRINCIPAL], piece_id=path_uuid(request, "piece_id"), libelle=libelle
        )
        return await proxy_upload(request, await call(request, opened, UploadTicket))

    @api.route(
        "GET",
        TEMPLATE,
        summary="Télécharger le modèle d'une pièce",
        tag=TAG,
        realm="staff",
        roles=ANY_STAFF,
        content_types={"response": "application/pdf"},
        responses={404: "Pas de modèle"},
    )
    async def staff_download_template(request: web.Request) -> web.StreamResponse:
        opened = OpenTemplateDownload(principal=request[PRINCIPAL], piece_id=path_uuid(request, "piece_id"))
        return await proxy_download(request, await call(request, opened, DownloadTicket))

    @api.route(
        "DELETE",
        TEMPLATE,
        summary="Retirer le modèle d'une pièce",
        tag=TAG,
        response=TemplateView,
        realm="staff",
        roles=OFFER_ADMINS,
        responses={404: "Pas de modèle"},
    )
    async def staff_delete_template(request: web.Request) -> web.Response:
        opened = DeleteTemplate(principal=request[PRINCIPAL], piece_id=path_uuid(request, "piece_id"))
        return await relay(request, opened)
