"""One function per command or event: load (with locks) → domain rule → save + outbox, one transaction.

Every change of a piece locks the candidature row, then the slot: a freeze (which locks the
candidature and all its slots) and a change are therefore serialized, whoever comes first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from ecandidat.contracts.accounts import AccountPurged
from ecandidat.contracts.auth import Principal
from ecandidat.contracts.candidatures import (
    CandidatureCancelled,
    CandidatureCreated,
    CandidatureDeadlineChanged,
    CandidatureFacts,
    CandidatureStatusChanged,
    CandidatureTransmitted,
    GetCandidatureFacts,
)
from ecandidat.contracts.documents import (
    CandidaturePieces,
    FreezeResult,
    MissingPiece,
    PieceDeleted,
    PieceDeposited,
    PieceNotConcerned,
    PieceRefused,
    PieceValidated,
    PiecesReadiness,
    PiecesReadinessList,
    PieceView,
)
from ecandidat.contracts.envelope import CloudEvent
from ecandidat.contracts.errors import Conflict, NotFound
from ecandidat.runtime.clock import Clock
from ecandidat.runtime.consumer import PermanentFailure
from ecandidat.runtime.outbox import add_event
from ecandidat.runtime.rpc import RpcClient

from . import domain, store, views
from .domain import Slot


@dataclass(frozen=True)
class StoredFile:
    key: str
    name: str
    content_type: str
    size: int
    sha256: str


# -- candidatures' events -----------------------------------------------------------------------


def on_events(clock: Clock):
    async def created(conn: asyncpg.Connection, event: CandidatureCreated, meta: CloudEvent) -> None:
        await store.insert_candidature(conn, event, clock.now())

    async def transmitted(conn: asyncpg.Connection, event: CandidatureTransmitted, meta: CloudEvent) -> None:
        if await store.candidature(conn, event.candidature_id, lock=True) is None:
            raise PermanentFailure(f"candidature {event.candidature_id} was never created")
        await store.mark_transmitted(conn, event.candidature_id)
        await store.set_candidature_statut(conn, event.candidature_id, "receptionne", event.revision)

    async def status_changed(conn: asyncpg.Connection, event: CandidatureStatusChanged, meta: CloudEvent) -> None:
        await store.set_candidature_statut(conn, event.candidature_id, event.new_status, event.revision)

    async def deadline_changed(conn: asyncpg.Connection, event: CandidatureDeadlineChanged, meta: CloudEvent) -> None:
        await store.set_deadline(
            conn, event.candidature_id, event.date_limite_retour, event.limite_retour, event.revision
        )

    async def cancelled(conn: asyncpg.Connection, event: CandidatureCancelled, meta: CloudEvent) -> None:
        if await store.candidature(conn, event.candidature_id, lock=True) is None:
            return
        await conn.execute(
            "UPDATE candidatures SET cancelled = true, frozen_until = NULL WHERE candidature_id = $1",
            event.candidature_id,
        )
        await store.forget_files(conn, [event.candidature_id], "candidature.cancelled", clock.now())
        await conn.execute("DELETE FROM tickets WHERE candidature_id = $1", event.candidature_id)

    async def purged(conn: asyncpg.Connection, event: AccountPurged, meta: CloudEvent) -> None:
        ids = await store.candidature_ids_of(conn, event.account_id)
        await store.queue_deletions(conn, await store.file_keys(conn, ids, letters=True), "account.purged", clock.now())
        await conn.execute("DELETE FROM tickets WHERE candidature_id = ANY($1::uuid[])", ids)
        await conn.execute("DELETE FROM candidatures WHERE candidature_id = ANY($1::uuid[])", ids)

    return created, transmitted, status_changed, deadline_changed, cancelled, purged


async def ensure_candidature(pool: asyncpg.Pool, rpc: RpcClient, candidature_id: uuid.UUID, clock: Clock) -> None:
    """Read-your-writes: a candidature whose `candidature.created` has not arrived yet (the
    candidate opens it the instant the 201 comes back) is opened now, from the facts candidatures
    gives again; the event, when it comes, finds it open and changes nothing."""
    async with pool.acquire() as conn:
        if await store.candidature(conn, candidature_id) is not None:
            return
    try:
        facts = await rpc.call(GetCandidatureFacts(candidature_id=candidature_id), CandidatureFacts)
    except NotFound:
        return  # no such candidature: the caller's own lookup answers
    async with pool.acquire() as conn, conn.transaction():
        await store.insert_candidature(conn, facts.created, clock.now(), statut=facts.statut, cancelled=facts.cancelled)


# -- transmission ---------------------------------------------------------------------------------


async def freeze_pieces(pool: asyncpg.Pool, candidature_id: uuid.UUID, until: datetime, clock: Clock) -> FreezeResult:
    async with pool.acquire() as conn, conn.transaction():
        row = await store.candidature(conn, candidature_id, lock=True)
        if row is None:  # candidature.created not consumed yet
            raise NotFound(
                "Les pièces de cette candidature ne sont pas encore prêtes : réessayez dans quelques instants.",
                reason="pieces_pas_pretes",
            )
        if row["cancelled"]:
            raise Conflict("Cette candidature est annulée.", reason="annulee")
        missing = _missing([store.slot(r) for r in await store.slots(conn, candidature_id, lock=True)])
        if missing:
            return FreezeResult(frozen=False, missing=missing)
        await store.set_freeze(conn, candidature_id, until)
        return FreezeResult(frozen=True)


def _missing(slots: list[Slot]) -> list[MissingPiece]:
    return [
        MissingPiece(piece_id=s.piece_id, libelle=s.libelle, statut=s.statut)
        for s in domain.missing_for_transmission(slots)
    ]


async def pieces_readiness(pool: asyncpg.Pool, candidature_ids: list[uuid.UUID]) -> PiecesReadinessList:
    """What `freeze_pieces` would answer now, without freezing anything."""
    async with pool.acquire() as conn:
        known = await store.known_candidatures(conn, candidature_ids)
        slots = await store.slots_of(conn, list(known))
    return PiecesReadinessList(
        items=[
            PiecesReadiness(candidature_id=cid, known=cid in known, missing=_missing(slots.get(cid, [])))
            for cid in dict.fromkeys(candidature_ids)
        ]
    )


async def release_pieces(pool: asyncpg.Pool, candidature_id: uuid.UUID) -> None:
    async with pool.acquire() as conn, conn.transaction():
        if await store.candidature(conn, candidature_id, lock=True) is not None:
            await store.set_freeze(conn, candidature_id, None)


# -- the candidate's changes ----------------------------------------------------------------------


async def load_readable(conn: asyncpg.Connection, principal: Principal, candidature_id: uuid.UUID) -> asyncpg.Record:
    row = await store.candidature(conn, candidature_id)
    if row is None:
        raise domain.not_found()
    domain.check_reader(principal, store.candidature_state(row))
    return row


async def lock_for_change(
    conn: asyncpg.Connection, principal: Principal, candidature_id: uuid.UUID, slot_id: uuid.UUID, now: datetime
) -> tuple[asyncpg.Record, asyncpg.Record]:
    """The candidature and slot, locked, after checking ownership and that the piece may change."""
    row = await store.candidature(conn, candidature_id, lock=True)
    if row is None:
        raise domain.not_found()
    state = store.candidature_state(row)
    domain.check_owner(principal, state)
    slot_row = await store.slot_row(conn, candidature_id, slot_id, lock=True)
    if slot_row is None:
        raise domain.not_found()
    domain.check_can_change(state, store.slot(slot_row), now)
    return row, slot_row


async def list_pieces(
    pool: asyncpg.Pool, principal: Principal, candidature_id: uuid.UUID, clock: Clock
) -> CandidaturePieces:
    async with pool.acquire() as conn:
        row = await load_readable(conn, principal, candidature_id)
        return await views.candidature_pieces(conn, row, clock.now())


def _facts(cand: asyncpg.Record, slot: asyncpg.Record) -> dict:
    return dict(
        piece_slot_id=slot["id"],
        piece_id=slot["piece_id"],
        candidature_id=cand["candidature_id"],
        account_id=cand["account_id"],
        libelle=slot["libelle"],
    )


async def commit_deposit(
    pool: asyncpg.Pool,
    principal: Principal,
    candidature_id: uuid.UUID,
    slot_id: uuid.UUID,
    stored: StoredFile,
    clock: Clock,
) -> PieceView:
    """Record a stored, checked file as the piece's file; the replaced one is queued for deletion."""
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        cand, slot = await lock_for_change(conn, principal, candidature_id, slot_id, now)
        await store.queue_deletions(conn, [slot["file_key"]] if slot["file_key"] else [], "replaced", now)
        row = await store.set_file(
            conn,
            slot_id,
            key=stored.key,
            name=stored.name,
            content_type=stored.content_type,
            size=stored.size,
            sha256=stored.sha256,
            at=now,
            statut="transmise",
        )
        await add_event(
            conn,
            PieceDeposited(**_facts(cand, row), file_name=stored.name, size=stored.size, sha256=stored.sha256),
            subject=str(candidature_id),
            clock=clock,
        )
        return await views.one_piece(conn, row, cand, now)


async def delete_piece_file(
    pool: asyncpg.Pool, principal: Principal, candidature_id: uuid.UUID, slot_id: uuid.UUID, clock: Clock
) -> PieceView:
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        cand, slot = await lock_for_change(conn, principal, candidature_id, slot_id, now)
        domain.check_can_delete(store.slot(slot))
        await store.queue_deletions(conn, [slot["file_key"]], "deleted", now)
        row = await store.set_file(
            conn, slot_id, key=None, name=None, content_type=None, size=None, sha256=None, at=None, statut="en_attente"
        )
        await add_event(conn, PieceDeleted(**_facts(cand, row)), subject=str(candidature_id), clock=clock)
        return await views.one_piece(conn, row, cand, now)


async def set_concerned(
    pool: asyncpg.Pool,
    principal: Principal,
    candidature_id: uuid.UUID,
    slot_id: uuid.UUID,
    concerned: bool,
    clock: Clock,
) -> PieceView:
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        cand, slot = await lock_for_change(conn, principal, candidature_id, slot_id, now)
        statut = domain.concerned_statut(store.slot(slot), concerned)
        row = await store.set_statut(conn, slot_id, statut)
        await add_event(
            conn, PieceNotConcerned(**_facts(cand, row), concerned=concerned), subject=str(candidature_id), clock=clock
        )
        return await views.one_piece(conn, row, cand, now)


# -- staff ----------------------------------------------------------------------------------------


async def review_piece(
    pool: asyncpg.Pool,
    principal: Principal,
    candidature_id: uuid.UUID,
    slot_id: uuid.UUID,
    decision: str,
    comment: str,
    clock: Clock,
) -> PieceView:
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        cand = await store.candidature(conn, candidature_id, lock=True)
        if cand is None:
            raise domain.not_found()
        domain.check_reviewer(principal, store.candidature_state(cand))
        slot = await store.slot_row(conn, candidature_id, slot_id, lock=True)
        if slot is None:
            raise domain.not_found()
        statut = domain.review_statut(store.slot(slot), decision, comment)
        if not domain.review_changes(store.slot(slot), statut, comment):
            return await views.one_piece(conn, slot, cand, now)
        by = principal.email
        row = await store.set_review(conn, slot_id, statut, comment.strip() or None, by, now)
        event: PieceRefused | PieceValidated
        if statut == "refusee":
            event = PieceRefused(**_facts(cand, row), by=by, at=now, comment=comment.strip())
        else:
            event = PieceValidated(**_facts(cand, row), by=by, at=now)
        await add_event(conn, event, subject=str(candidature_id), clock=clock)
        return await views.one_piece(conn, row, cand, now)
