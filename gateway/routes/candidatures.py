"""The offer and the candidate's candidatures (Étapes 3 and 4 of the guide)."""

from __future__ import annotations

import asyncio
from functools import partial

from aiohttp import web
from pydantic import BaseModel, Field

from ecandidat.contracts import candidatures as c
from ecandidat.contracts.documents import CandidaturePieces, DownloadTicket, ListPieces, OpenLetterDownload
from ecandidat.contracts.errors import NotFound

from ..api import PRINCIPAL, Api, body_of, call, json_response, parse_body, path_uuid, relay
from ..streaming import proxy_download
from . import PathId, Rpc, register_rpcs

ApplyBody = body_of(c.Apply, name="NouvelleCandidature")

CANDIDATURE = PathId("candidature_id", "Cette candidature")
UNKNOWN = {404: "Candidature inconnue"}
ANSWER_REFUSED = {**UNKNOWN, 409: "Réponse impossible (pas d'avis favorable, délai dépassé)"}

MY_CANDIDATURE = (
    Rpc(
        "GET",
        "/api/v1/candidatures/{candidature_id}",
        "get_my_candidature",
        "Récapitulatif d'une candidature",
        c.GetCandidature,
        c.CandidatureView,
        responses=UNKNOWN,
    ),
    Rpc(
        "GET",
        "/api/v1/candidatures/{candidature_id}/suivi",
        "get_my_suivi",
        "Suivi de sa candidature : les étapes, les statuts, les pièces validées ou refusées (avec le commentaire), la décision",
        c.GetSuivi,
        c.Suivi,
        responses=UNKNOWN,
    ),
    Rpc(
        "POST",
        "/api/v1/candidatures/{candidature_id}/annulation",
        "cancel_my_candidature",
        "Annuler sa candidature (définitif)",
        c.CancelCandidature,
        c.CandidatureView,
        responses={**UNKNOWN, 409: "Annulation impossible"},
    ),
    Rpc(
        "POST",
        "/api/v1/candidatures/{candidature_id}/transmission",
        "transmit_my_candidature",
        "Transmettre sa candidature",
        c.TransmitCandidature,
        c.CandidatureView,
        responses={**UNKNOWN, 409: "Transmission impossible (pièces manquantes, date dépassée, déjà transmise)"},
    ),
    Rpc(
        "POST",
        "/api/v1/candidatures/{candidature_id}/confirmation",
        "confirm_admission",
        "Confirmer sa candidature après un avis favorable",
        partial(c.AnswerAdmission, answer="confirmation"),
        c.CandidatureView,
        responses=ANSWER_REFUSED,
    ),
    Rpc(
        "POST",
        "/api/v1/candidatures/{candidature_id}/desistement",
        "withdraw_from_admission",
        "Se désister (après un avis favorable, même confirmé)",
        partial(c.AnswerAdmission, answer="desistement"),
        c.CandidatureView,
        responses=ANSWER_REFUSED,
    ),
)


class CandidatureDetail(BaseModel):
    """A candidature with its pieces and its suivi: what `GET /candidatures/{id}`, `…/pieces` and
    `…/suivi` answer, read at once."""

    candidature: c.CandidatureView
    pieces: CandidaturePieces | None = Field(
        description="Null while the candidature's pieces are not open yet (just after the application)"
    )
    suivi: c.Suivi


def register(api: Api) -> None:
    @api.route(
        "GET",
        "/api/v1/offre",
        summary="L'offre de formation ouverte aux candidatures (centre → type → formation)",
        tag="offre",
        response=c.OfferTree,
    )
    async def get_offer_tree(request: web.Request) -> web.Response:
        return await relay(request, c.GetOfferTree())

    @api.route(
        "GET",
        "/api/v1/candidatures",
        summary="Mes candidatures",
        tag="candidatures",
        response=c.CandidatureList,
        realm="candidate",
    )
    async def list_my_candidatures(request: web.Request) -> web.Response:
        return await relay(request, c.ListMyCandidatures(principal=request[PRINCIPAL]))

    @api.route(
        "POST",
        "/api/v1/candidatures",
        summary="Candidater à une formation",
        tag="candidatures",
        body=ApplyBody,
        response=c.CandidatureView,
        status=201,
        realm="candidate",
        responses={
            404: "Formation inconnue",
            409: "Candidature refusée (période, doublon, maximum, dossier incomplet)",
        },
    )
    async def apply(request: web.Request) -> web.Response:
        body = await parse_body(request, ApplyBody)
        view = await call(request, c.Apply(principal=request[PRINCIPAL], **body.model_dump()), c.CandidatureView)
        return json_response(view, status=201, headers={"Location": f"/api/v1/candidatures/{view.id}"})

    @api.route(
        "GET",
        "/api/v1/candidatures/{candidature_id}/detail",
        summary="Une candidature avec ses pièces justificatives et son suivi, en une requête "
        "(ce que répondent la candidature, /pieces et /suivi)",
        tag="candidatures",
        response=CandidatureDetail,
        realm="candidate",
        responses=UNKNOWN,
    )
    async def get_my_candidature_detail(request: web.Request) -> web.Response:
        principal, cid = request[PRINCIPAL], path_uuid(request, CANDIDATURE.name, CANDIDATURE.what)

        async def candidature_then_suivi() -> tuple[c.CandidatureView, c.Suivi]:
            # One after the other: a statut and the history's steps that made it commit together,
            # so a suivi read after the candidature holds every step behind the statut shown (read
            # at once, an « Incomplet » could come with a suivi not saying which piece was refused).
            view = await call(request, c.GetCandidature(principal=principal, candidature_id=cid), c.CandidatureView)
            return view, await call(request, c.GetSuivi(principal=principal, candidature_id=cid), c.Suivi)

        read, pieces = await asyncio.gather(
            candidature_then_suivi(),
            call(request, ListPieces(principal=principal, candidature_id=cid), CandidaturePieces),
            return_exceptions=True,
        )
        if isinstance(read, BaseException):
            raise read
        view, steps = read
        opened: CandidaturePieces | None = None  # None: its pieces are not open yet
        if isinstance(pieces, BaseException) and not isinstance(pieces, NotFound):
            raise pieces
        if isinstance(pieces, CandidaturePieces):
            opened = pieces
        return json_response(CandidatureDetail(candidature=view, pieces=opened, suivi=steps))

    @api.route(
        "GET",
        "/api/v1/candidatures/{candidature_id}/lettre",
        summary="Télécharger la lettre de la décision (lettre d'admission ou avis défavorable, PDF)",
        tag="candidatures",
        realm="candidate",
        content_types={"response": "application/pdf"},
        responses={404: "Candidature inconnue, ou pas de lettre pour sa décision actuelle"},
    )
    async def download_my_letter(request: web.Request) -> web.StreamResponse:
        req = OpenLetterDownload(
            principal=request[PRINCIPAL], candidature_id=path_uuid(request, CANDIDATURE.name, CANDIDATURE.what)
        )
        ticket = await call(request, req, DownloadTicket)
        return await proxy_download(request, ticket)

    register_rpcs(api, MY_CANDIDATURE, tag="candidatures", realm="candidate", path_id=CANDIDATURE)
