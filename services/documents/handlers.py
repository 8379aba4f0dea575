"""One function per command or event: load (with locks) → domain rule → save + outbox, one transaction.

Every change of a piece locks the candidature row, then the slot: a freeze (which locks the
candidature and all its slots) and a change are therefore serialized, whoever comes first.
"""

from __future__ import annotations

from ecandidat.contracts.envelope import CloudEvent

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from ecandidat.contracts.accounts import AccountPurged
from ecandidat.contracts.auth import Principal
from ecandidat.contracts.candidatures import (
    CandidatureCancelled,
    CandidatureErased,
    CandidatureCreated,
    CandidatureDeadlineChanged,
    CandidatureFacts,
    CandidatureStatusChanged,
    CandidatureTransmitted,
    GetCandidatureFacts,
)
from ecandidat.contracts.documents import (
    CandidaturePieces,
    DeletePieceFile,
    DeleteTemplate,
    FreezePieces,
    FreezeResult,
    GetPiecesReadiness,
    ListPieces,
    MissingPiece,
    PieceDeleted,
    PieceDeposited,
    PieceNotConcerned,
    PieceRefused,
    PiecesReadiness,
    PiecesReadinessList,
    PieceValidated,
    PieceView,
    ReleasePieces,
    ReviewPiece,
    SetPieceConcerned,
    TemplateView,
)
from ecandidat.contracts.base import Event
from ecandidat.contracts.errors import Conflict, NotFound
from ecandidat.runtime import forgotten
from ecandidat.runtime.consumer import PermanentFailure
from ecandidat.runtime.outbox import add_event

from . import domain, replies, store
from .context import Deps
from .domain import GIVEN_BACK, Slot, StoredFile

log = logging.getLogger(__name__)


# -- candidatures' and accounts' events (`consumers.py`) --------------------------------------------


async def candidature_created(
    deps: Deps, conn: asyncpg.Connection, event: CandidatureCreated, meta: CloudEvent
) -> None:
    await store.insert_candidature(conn, event, deps.now())


async def candidature_transmitted(
    deps: Deps, conn: asyncpg.Connection, event: CandidatureTransmitted, meta: CloudEvent
) -> None:
    if await store.candidature(conn, event.candidature_id, lock=True) is None:
        raise PermanentFailure(f"candidature {event.candidature_id} was never created")
    await store.mark_transmitted(conn, event.candidature_id)
    await store.set_candidature_statut(conn, event.candidature_id, "receptionne", event.revision)


async def candidature_status_changed(
    deps: Deps, conn: asyncpg.Connection, event: CandidatureStatusChanged, meta: CloudEvent
) -> None:
    applied = await store.set_candidature_statut(conn, event.candidature_id, event.new_status, event.revision)
    if applied and event.cause == "staff":
        # Staff gave the dossier back to the candidate (« Incomplet », « En attente »: the comment
        # says what to replace) or took it back: its pieces not validated follow. A refused
        # piece's own reopening is its review's (`piece_refusee`).
        await store.reopen_pieces(conn, event.candidature_id, event.new_status in GIVEN_BACK)


async def candidature_statuses_changed(
    deps: Deps, conn: asyncpg.Connection, items: list[tuple[CandidatureStatusChanged, CloudEvent]]
) -> None:
    """`candidature_status_changed` for a run of events: one statement when none was a staff
    member's (a piece refused, a deadline passed: the projection alone changes); with one, each
    event in turn, as the pieces it reopens depend on the statut each one sets."""
    if any(event.cause == "staff" for event, _ in items):
        for event, meta in items:
            await candidature_status_changed(deps, conn, event, meta)
        return
    await store.set_candidature_statuts(conn, [(e.candidature_id, e.new_status, e.revision) for e, _ in items])


async def candidature_deadline_changed(
    deps: Deps, conn: asyncpg.Connection, event: CandidatureDeadlineChanged, meta: CloudEvent
) -> None:
    await store.set_deadline(conn, event.candidature_id, event.date_limite_retour, event.limite_retour, event.revision)


async def candidature_cancelled(
    deps: Deps, conn: asyncpg.Connection, event: CandidatureCancelled, meta: CloudEvent
) -> None:
    if await store.candidature(conn, event.candidature_id, lock=True) is None:
        return
    await store.cancel(conn, event.candidature_id)
    await store.forget_files(conn, [event.candidature_id], "candidature.cancelled", deps.now())


async def account_purged(deps: Deps, conn: asyncpg.Connection, event: AccountPurged, meta: CloudEvent) -> None:
    await forgotten.hold_account(conn, event.account_id)
    await forgotten.forget(conn, "account", [event.account_id], deps.now())
    await _erase(deps, conn, await store.candidature_ids_of(conn, event.account_id), "account.purged")


async def candidature_erased(deps: Deps, conn: asyncpg.Connection, event: CandidatureErased, meta: CloudEvent) -> None:
    await forgotten.forget(conn, "candidature", [event.candidature_id], deps.now())
    await _erase(deps, conn, [event.candidature_id], "candidature.erased")


async def _erase(deps: Deps, conn: asyncpg.Connection, ids: list[uuid.UUID], cause: str) -> None:
    """The candidatures' files and letters queued for erasure, their slots and tickets deleted."""
    await store.queue_deletions(conn, await store.file_keys(conn, ids, letters=True), cause, deps.now())
    await store.delete_candidatures(conn, ids)


async def ensure_candidature(deps: Deps, candidature_id: uuid.UUID) -> None:
    """Read-your-writes: a candidature whose `candidature.created` has not arrived yet (the
    candidate opens it the instant the 201 comes back) is opened now, from the facts candidatures
    gives again; the event, when it comes, finds it open and changes nothing."""
    async with deps.pool.acquire() as conn:
        if await store.candidature(conn, candidature_id) is not None:
            return
    try:
        facts = await deps.rpc.call(GetCandidatureFacts(candidature_id=candidature_id), CandidatureFacts)
    except NotFound:
        return  # no such candidature: the caller's own lookup answers
    async with deps.pool.acquire() as conn, conn.transaction():
        await store.insert_candidature(conn, facts.created, deps.now(), statut=facts.statut, cancelled=facts.cancelled)


async def forget_object(deps: Deps, key: str, reason: str) -> None:
    """Remove an object no row refers to; queue it for the eraser when storage refuses."""
    try:
        await deps.storage.delete(key)
    except Exception as exc:
        log.warning("object removal queued", extra={"key": key, "error": repr(exc)})
        async with deps.pool.acquire() as conn, conn.transaction():
            await store.queue_deletions(conn, [key], reason, deps.now())


# -- transmission (candidatures asks) -------------------------------------------------------------


async def freeze_pieces(deps: Deps, req: FreezePieces) -> FreezeResult:
    async with deps.pool.acquire() as conn, conn.transaction():
        row = await store.candidature(conn, req.candidature_id, lock=True)
        if row is None:  # candidature.created not consumed yet
            raise NotFound(
                "Les pièces de cette candidature ne sont pas encore prêtes : réessayez dans quelques instants.",
                reason="pieces_pas_pretes",
            )
        if row["cancelled"]:
            raise Conflict("Cette candidature est annulée.", reason="annulee")
        missing = _missing([store.slot(r) for r in await store.slots(conn, req.candidature_id, lock=True)])
        if missing:
            return FreezeResult(frozen=False, missing=missing)
        await store.set_freeze(conn, req.candidature_id, req.until)
        return FreezeResult(frozen=True)


def _missing(slots: list[Slot]) -> list[MissingPiece]:
    return [
        MissingPiece(piece_id=s.piece_id, libelle=s.libelle, statut=s.statut)
        for s in domain.missing_for_transmission(slots)
    ]


async def pieces_readiness(deps: Deps, req: GetPiecesReadiness) -> PiecesReadinessList:
    """What `freeze_pieces` would answer now, without freezing anything."""
    async with deps.pool.acquire() as conn:
        known = await store.known_candidatures(conn, req.candidature_ids)
        slots = await store.slots_of(conn, list(known))
    return PiecesReadinessList(
        items=[
            PiecesReadiness(candidature_id=cid, known=cid in known, missing=_missing(slots.get(cid, [])))
            for cid in dict.fromkeys(req.candidature_ids)
        ]
    )


async def release_pieces(deps: Deps, req: ReleasePieces) -> FreezeResult:
    async with deps.pool.acquire() as conn, conn.transaction():
        if await store.candidature(conn, req.candidature_id, lock=True) is not None:
            await store.set_freeze(conn, req.candidature_id, None)
    return FreezeResult(frozen=False)


# -- the candidate's changes ----------------------------------------------------------------------


async def load_readable(conn: asyncpg.Connection, principal: Principal, candidature_id: uuid.UUID) -> asyncpg.Record:
    row = await store.candidature(conn, candidature_id)
    if row is None:
        raise domain.not_found()
    domain.check_reader(principal, store.candidature_state(row))
    return row


@dataclass(frozen=True)
class LockedPiece:
    """A transaction's connection holding a candidature and one of its slots locked."""

    conn: asyncpg.Connection
    cand: asyncpg.Record
    slot: asyncpg.Record
    has_template: bool
    now: datetime


@contextlib.asynccontextmanager
async def locked_piece(deps: Deps, candidature_id: uuid.UUID, slot_id: uuid.UUID) -> AsyncIterator[LockedPiece]:
    """A transaction holding the candidature and the slot locked (one round trip for both, the
    candidature first). A change names a slot, which only a listing of the pieces gives, and the
    listing opens the candidature here (`ensure_candidature`): an unknown candidature or slot is
    not found."""
    now = deps.now()
    async with deps.pool.acquire() as conn, conn.transaction():
        found = await store.locked_piece(conn, candidature_id, slot_id)
        if found is None:
            raise domain.not_found()
        yield LockedPiece(conn, *found, now=now)


@contextlib.asynccontextmanager
async def piece_change(
    deps: Deps, principal: Principal, candidature_id: uuid.UUID, slot_id: uuid.UUID
) -> AsyncIterator[LockedPiece]:
    """The candidature and slot locked, once the candidate may change the piece."""
    async with locked_piece(deps, candidature_id, slot_id) as piece:
        state = store.candidature_state(piece.cand)
        domain.check_owner(principal, state)
        domain.check_can_change(state, store.slot(piece.slot), piece.now)
        yield piece


async def list_pieces(deps: Deps, req: ListPieces) -> CandidaturePieces:
    """The candidature's pieces; one not opened here yet is opened (`ensure_candidature`) once the
    lookup has missed, so that the usual read costs no lookup of its own."""
    async with deps.pool.acquire() as conn:
        row = await store.candidature(conn, req.candidature_id)
        if row is not None:
            domain.check_reader(req.principal, store.candidature_state(row))
            return await replies.candidature_pieces(conn, row, deps.now())
    await ensure_candidature(deps, req.candidature_id)
    async with deps.pool.acquire() as conn:
        row = await load_readable(conn, req.principal, req.candidature_id)
        return await replies.candidature_pieces(conn, row, deps.now())


def _facts(cand: asyncpg.Record, slot: asyncpg.Record) -> dict:
    return dict(
        piece_slot_id=slot["id"],
        piece_id=slot["piece_id"],
        candidature_id=cand["candidature_id"],
        account_id=cand["account_id"],
        libelle=slot["libelle"],
    )


async def _changed(deps: Deps, piece: LockedPiece, row: asyncpg.Record, event: Event) -> PieceView:
    """The change's event in the outbox; the piece as it is now."""
    await add_event(piece.conn, event, subject=str(piece.cand["candidature_id"]), clock=deps.clock)
    return replies.piece_view(row, piece.cand, piece.has_template, piece.now)


async def commit_deposit(
    deps: Deps, principal: Principal, candidature_id: uuid.UUID, slot_id: uuid.UUID, stored: StoredFile
) -> PieceView:
    """Record a stored, checked file as the piece's file; the replaced one is queued for deletion."""
    async with piece_change(deps, principal, candidature_id, slot_id) as piece:
        replaced = [piece.slot["file_key"]] if piece.slot["file_key"] else []
        await store.queue_deletions(piece.conn, replaced, "replaced", piece.now)
        row = await store.set_file(piece.conn, slot_id, stored, at=piece.now, statut="transmise")
        deposited = PieceDeposited(
            **_facts(piece.cand, row), file_name=stored.name, size=stored.size, sha256=stored.sha256
        )
        return await _changed(deps, piece, row, deposited)


async def delete_piece_file(deps: Deps, req: DeletePieceFile) -> PieceView:
    async with piece_change(deps, req.principal, req.candidature_id, req.slot_id) as piece:
        domain.check_can_delete(store.slot(piece.slot))
        await store.queue_deletions(piece.conn, [piece.slot["file_key"]], "deleted", piece.now)
        row = await store.set_file(piece.conn, req.slot_id, None, at=None, statut="en_attente")
        return await _changed(deps, piece, row, PieceDeleted(**_facts(piece.cand, row)))


async def set_piece_concerned(deps: Deps, req: SetPieceConcerned) -> PieceView:
    async with piece_change(deps, req.principal, req.candidature_id, req.slot_id) as piece:
        statut = domain.concerned_statut(store.slot(piece.slot), req.concerned)
        row = await store.set_statut(piece.conn, req.slot_id, statut)
        return await _changed(deps, piece, row, PieceNotConcerned(**_facts(piece.cand, row), concerned=req.concerned))


# -- staff ----------------------------------------------------------------------------------------


async def review_piece(deps: Deps, req: ReviewPiece) -> PieceView:
    async with locked_piece(deps, req.candidature_id, req.slot_id) as piece:
        domain.check_reviewer(req.principal, store.candidature_state(piece.cand))
        slot = store.slot(piece.slot)
        statut = domain.review_statut(slot, req.decision, req.commentaire)
        if not domain.review_changes(slot, statut, req.commentaire):
            return replies.piece_view(piece.slot, piece.cand, piece.has_template, piece.now)
        by, comment = req.principal.email, req.commentaire.strip()
        row = await store.set_review(piece.conn, req.slot_id, statut, comment or None, by, piece.now)
        event: PieceRefused | PieceValidated
        if statut == "refusee":
            event = PieceRefused(
                **_facts(piece.cand, row),
                by=by,
                at=piece.now,
                comment=comment,
                candidature_transmise=piece.cand["transmitted"],
            )
        else:
            event = PieceValidated(**_facts(piece.cand, row), by=by, at=piece.now)
        return await _changed(deps, piece, row, event)


async def delete_template(deps: Deps, req: DeleteTemplate) -> TemplateView:
    domain.check_template_editor(req.principal)
    async with deps.pool.acquire() as conn, conn.transaction():
        row = await store.template(conn, req.piece_id, lock=True)
        if row is None:
            raise domain.no_template()
        await store.delete_template(conn, req.piece_id)
        await store.queue_deletions(conn, [row["file_key"]], "template.deleted", deps.now())
    return replies.template_view(row)
