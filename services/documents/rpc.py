"""NATS request/reply endpoints of the documents service: parse the contract, call the handler."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecandidat.contracts.documents import (
    CandidaturePieces,
    DeletePieceFile,
    DeleteTemplate,
    DownloadTicket,
    FreezePieces,
    FreezeResult,
    GetPiecesReadiness,
    ListPieces,
    OpenDossierDownload,
    OpenLetterAttachment,
    OpenLetterDownload,
    OpenPieceDownload,
    OpenPieceUpload,
    OpenTemplateDownload,
    OpenTemplateUpload,
    PiecesReadinessList,
    PieceView,
    ReleasePieces,
    ReviewPiece,
    SetPieceConcerned,
    TemplateView,
    UploadTicket,
)
from ecandidat.contracts.errors import NotFound
from ecandidat.runtime.rpc import RpcContext, RpcServer

from . import domain, handlers, store, tickets, views

if TYPE_CHECKING:
    from .service import DocumentsService


def _no_template() -> NotFound:
    return NotFound("Aucun modèle n'est disponible pour cette pièce.")


def register(server: RpcServer, svc: DocumentsService) -> None:
    s = svc.settings

    async def known(candidature_id) -> None:
        await handlers.ensure_candidature(svc.pool, svc.rpc_client, candidature_id, svc.clock)

    @server.route(FreezePieces)
    async def freeze(req: FreezePieces, ctx: RpcContext) -> FreezeResult:
        return await handlers.freeze_pieces(svc.pool, req.candidature_id, req.until, svc.clock)

    @server.route(GetPiecesReadiness)
    async def readiness(req: GetPiecesReadiness, ctx: RpcContext) -> PiecesReadinessList:
        return await handlers.pieces_readiness(svc.pool, req.candidature_ids)

    @server.route(ReleasePieces)
    async def release(req: ReleasePieces, ctx: RpcContext) -> FreezeResult:
        await handlers.release_pieces(svc.pool, req.candidature_id)
        return FreezeResult(frozen=False)

    @server.route(ListPieces)
    async def list_pieces(req: ListPieces, ctx: RpcContext) -> CandidaturePieces:
        await known(req.candidature_id)
        return await handlers.list_pieces(svc.pool, req.principal, req.candidature_id, svc.clock)

    @server.route(DeletePieceFile)
    async def delete_file(req: DeletePieceFile, ctx: RpcContext) -> PieceView:
        await known(req.candidature_id)
        return await handlers.delete_piece_file(svc.pool, req.principal, req.candidature_id, req.slot_id, svc.clock)

    @server.route(SetPieceConcerned)
    async def concerned(req: SetPieceConcerned, ctx: RpcContext) -> PieceView:
        await known(req.candidature_id)
        return await handlers.set_concerned(
            svc.pool, req.principal, req.candidature_id, req.slot_id, req.concerned, svc.clock
        )

    @server.route(ReviewPiece)
    async def review(req: ReviewPiece, ctx: RpcContext) -> PieceView:
        await known(req.candidature_id)
        return await handlers.review_piece(
            svc.pool, req.principal, req.candidature_id, req.slot_id, req.decision, req.commentaire, svc.clock
        )

    @server.route(OpenPieceUpload)
    async def open_upload(req: OpenPieceUpload, ctx: RpcContext) -> UploadTicket:
        await known(req.candidature_id)
        now = svc.clock.now()
        async with svc.pool.acquire() as conn, conn.transaction():
            await handlers.lock_for_change(conn, req.principal, req.candidature_id, req.slot_id, now)
            token, expires = await tickets.issue(
                conn,
                "piece_upload",
                req.principal,
                now,
                s.documents_ticket_ttl,
                candidature_id=req.candidature_id,
                slot_id=req.slot_id,
            )
        return UploadTicket(url=svc.http.url("uploads", token), expires_at=expires, max_size=s.documents_max_file_size)

    @server.route(OpenPieceDownload)
    async def open_download(req: OpenPieceDownload, ctx: RpcContext) -> DownloadTicket:
        await known(req.candidature_id)
        now = svc.clock.now()
        async with svc.pool.acquire() as conn, conn.transaction():
            await handlers.load_readable(conn, req.principal, req.candidature_id)
            slot = await store.slot_row(conn, req.candidature_id, req.slot_id)
            if slot is None:
                raise domain.not_found()
            if req.what == "fichier":
                if slot["file_key"] is None:
                    raise NotFound("Aucun fichier n'est déposé pour cette pièce.")
                kind, piece_id = "piece_file", None
            else:
                if await store.template(conn, slot["piece_id"]) is None:
                    raise _no_template()
                kind, piece_id = "template", slot["piece_id"]
            token, expires = await tickets.issue(
                conn,
                kind,
                req.principal,
                now,
                s.documents_ticket_ttl,
                candidature_id=req.candidature_id,
                slot_id=req.slot_id,
                piece_id=piece_id,
            )
        return DownloadTicket(url=svc.http.url("downloads", token), expires_at=expires)

    async def candidature_download(
        req: OpenDossierDownload | OpenLetterDownload, kind: str, ctx: RpcContext, available=None
    ) -> DownloadTicket:
        """A download ticket for a file of the whole candidature, once the caller may read it
        (and `available(conn)` found the file there)."""
        await known(req.candidature_id)
        now = svc.clock.now()
        async with svc.pool.acquire() as conn, conn.transaction():
            await handlers.load_readable(conn, req.principal, req.candidature_id)
            if available is not None:
                await available(conn)
            token, expires = await tickets.issue(
                conn,
                kind,
                req.principal,
                now,
                s.documents_ticket_ttl,
                candidature_id=req.candidature_id,
                request_id=ctx.request_id,
            )
        return DownloadTicket(url=svc.http.url("downloads", token), expires_at=expires)

    @server.route(OpenDossierDownload)
    async def open_dossier(req: OpenDossierDownload, ctx: RpcContext) -> DownloadTicket:
        return await candidature_download(req, "dossier", ctx)

    @server.route(OpenLetterDownload)
    async def open_letter(req: OpenLetterDownload, ctx: RpcContext) -> DownloadTicket:
        async def letter_exists(conn) -> None:
            if await store.current_letter(conn, req.candidature_id) is None:
                raise NotFound(
                    "Aucune lettre n'est disponible pour cette candidature : une lettre accompagne un avis "
                    "favorable ou défavorable, une fois la décision validée.",
                    reason="pas_de_lettre",
                )

        return await candidature_download(req, "letter", ctx, letter_exists)

    @server.route(OpenLetterAttachment)
    async def open_letter_attachment(req: OpenLetterAttachment, ctx: RpcContext) -> DownloadTicket:
        """For the mailer only (the bus refuses this subject to everyone else)."""
        now = svc.clock.now()
        async with svc.pool.acquire() as conn, conn.transaction():
            letter = await store.letter_of_decision(conn, req.decision_id)
            if letter is None:
                raise NotFound("Aucune lettre n'a été produite pour cette décision.", reason="pas_de_lettre")
            token, expires = await tickets.issue(
                conn,
                "decision_letter",
                None,
                now,
                s.documents_ticket_ttl,
                candidature_id=letter["candidature_id"],
                decision_id=str(req.decision_id),
            )
        return DownloadTicket(url=svc.http.url("downloads", token), expires_at=expires)

    @server.route(OpenTemplateUpload)
    async def open_template_upload(req: OpenTemplateUpload, ctx: RpcContext) -> UploadTicket:
        domain.check_template_editor(req.principal)
        now = svc.clock.now()
        async with svc.pool.acquire() as conn, conn.transaction():
            token, expires = await tickets.issue(
                conn,
                "template_upload",
                req.principal,
                now,
                s.documents_ticket_ttl,
                piece_id=req.piece_id,
                libelle=req.libelle.strip(),
            )
        return UploadTicket(url=svc.http.url("uploads", token), expires_at=expires, max_size=s.documents_max_file_size)

    @server.route(OpenTemplateDownload)
    async def open_template_download(req: OpenTemplateDownload, ctx: RpcContext) -> DownloadTicket:
        domain.check_staff(req.principal)
        now = svc.clock.now()
        async with svc.pool.acquire() as conn, conn.transaction():
            if await store.template(conn, req.piece_id) is None:
                raise _no_template()
            token, expires = await tickets.issue(
                conn, "template", req.principal, now, s.documents_ticket_ttl, piece_id=req.piece_id
            )
        return DownloadTicket(url=svc.http.url("downloads", token), expires_at=expires)

    @server.route(DeleteTemplate)
    async def delete_template(req: DeleteTemplate, ctx: RpcContext) -> TemplateView:
        domain.check_template_editor(req.principal)
        async with svc.pool.acquire() as conn, conn.transaction():
            row = await store.template(conn, req.piece_id, lock=True)
            if row is None:
                raise _no_template()
            await conn.execute("DELETE FROM templates WHERE piece_id = $1", req.piece_id)
            await store.queue_deletions(conn, [row["file_key"]], "template.deleted", svc.clock.now())
        return views.template_view(row)
