"""Rpc endpoints of the documents service: the table of requests and the handlers that answer them."""

from __future__ import annotations

from ecandidat.contracts import documents as c
from ecandidat.runtime.rpc import Route, RpcServer, register_routes, route

from . import handlers, tickets
from .context import Deps

ROUTES: tuple[Route, ...] = (
    route(c.FreezePieces, handlers.freeze_pieces),
    route(c.GetPiecesReadiness, handlers.pieces_readiness),
    route(c.ReleasePieces, handlers.release_pieces),
    route(c.ListPieces, handlers.list_pieces),
    route(c.DeletePieceFile, handlers.delete_piece_file),
    route(c.SetPieceConcerned, handlers.set_piece_concerned),
    route(c.ReviewPiece, handlers.review_piece),
    route(c.DeleteTemplate, handlers.delete_template),
    route(c.OpenPieceUpload, tickets.open_piece_upload),
    route(c.OpenPieceDownload, tickets.open_piece_download),
    route(c.OpenDossierDownload, tickets.open_dossier_download),
    route(c.OpenLetterDownload, tickets.open_letter_download),
    route(c.OpenLetterAttachment, tickets.open_letter_attachment),
    route(c.OpenTemplateUpload, tickets.open_template_upload),
    route(c.OpenTemplateDownload, tickets.open_template_download),
)


def register(server: RpcServer, deps: Deps) -> None:
    register_routes(server, deps, ROUTES)
