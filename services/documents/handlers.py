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
from ecandidat.contracts.candidatures import CandidatureCancelled, CandidatureCreated, CandidatureTransmitted
from ecandidat.contracts.documents import (
    CandidaturePieces,
    FreezeResult,
    MissingPiece,
    PieceDeleted,
    PieceDeposited,
    PieceNotConcerned,
    PieceRefused,
    PieceValidated,
    PieceView,
)
from ecandidat.contracts.envelope import CloudEvent
from ecandidat.contracts.errors import Conflict, NotFound
from ecandidat.runtime.clock import Clock
from ecandidat.runtime.consumer import PermanentFailure
from ecandidat.runtime.outbox import add_event

from . import domain, store, views


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

    async def cancelled(conn: asyncpg.Connection, event: CandidatureCancelled, meta: CloudEvent) -> None:
        if await store.candidature(conn, event.candidature_id, lock=True) is None:
            return
        await conn.execute("UPDATE candidatures SET cancelled = true, frozen_until = NULL WHERE candidature_id = $1",
                           event.candidature_id)
        await store.forget_files(conn, [event.candidature_id], "candidature.cancelled", clock.now())
        await conn.execute("DELETE FROM tickets WHERE candidature_id = $1", event.candidature_id)

    async def purged(conn: asyncpg.Connection, event: AccountPurged, meta: CloudEvent) -> None:
        ids = await store.candidature_ids_of(conn, event.account_id)
        await store.queue_deletions(conn, await store.file_keys(conn, ids), "account.purged", clock.now())
        await conn.execute("DELETE FROM tickets WHERE candidature_id = ANY($1::uuid[])", ids)
        await conn.execute("DELETE FROM candidatures WHERE candidature_id = ANY($1::uuid[])", ids)

    return created, transmitted, cancelled, purged


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
        slots = [store.slot(r) for r in await store.slots(conn, candidature_id, lock=True)]
        missing = domain.missing_for_transmission(slots)
        if missing:
            return FreezeResult(
                frozen=False,
                missing=[MissingPiece(piece_id=s.piece_id, libelle=s.libelle, statut=s.statut) for s in missing],
            )
        await store.set_freeze(conn, candidature_id, until)
        return FreezeResult(frozen=True)


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


async def lock_for_change(conn: asyncpg.Connection, principal: Principal, candidature_id: uuid.UUID,
                          slot_id: uuid.UUID, now: datetime) -> tuple[asyncpg.Record, asyncpg.Record]:
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


async def list_pieces(pool: asyncpg.Pool, principal: Principal, candidature_id: uuid.UUID, clock: Clock) -> CandidaturePieces:
    async with pool.acquire() as conn:
        row = await load_readable(conn, principal, candidature_id)
        return await views.candidature_pieces(conn, row, clock.now())


def _facts(cand: asyncpg.Record, slot: asyncpg.Record) -> dict:
    return dict(piece_slot_id=slot["id"], piece_id=slot["piece_id"], candidature_id=cand["candidature_id"],
                account_id=cand["account_id"], libelle=slot["libelle"])


async def commit_deposit(pool: asyncpg.Pool, principal: Principal, candidature_id: uuid.UUID, slot_id: uuid.UUID,
                         stored: StoredFile, clock: Clock) -> PieceView:
    """Record a stored, checked file as the piece's file; the replaced one is queued for deletion."""
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        cand, slot = await lock_for_change(conn, principal, candidature_id, slot_id, now)
        await store.queue_deletions(conn, [slot["file_key"]] if slot["file_key"] else [], "replaced", now)
        row = await store.set_file(conn, slot_id, key=stored.key, name=stored.name, content_type=stored.content_type,
                                   size=stored.size, sha256=stored.sha256, at=now, statut="transmise")
        await add_event(conn, PieceDeposited(**_facts(cand, row), file_name=stored.name, size=stored.size,
                                             sha256=stored.sha256), subject=str(candidature_id), clock=clock)
        return await views.one_piece(conn, row, cand, now)


async def delete_piece_file(pool: asyncpg.Pool, principal: Principal, candidature_id: uuid.UUID, slot_id: uuid.UUID,
                            clock: Clock) -> PieceView:
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        cand, slot = await lock_for_change(conn, principal, candidature_id, slot_id, now)
        domain.check_can_delete(store.slot(slot))
        await store.queue_deletions(conn, [slot["file_key"]], "deleted", now)
        row = await store.set_file(conn, slot_id, key=None, name=None, content_type=None, size=None, sha256=None,
                                   at=None, statut="en_attente")
        await add_event(conn, PieceDeleted(**_facts(cand, row)), subject=str(candidature_id), clock=clock)
        return await views.one_piece(conn, row, cand, now)


async def set_concerned(pool: asyncpg.Pool, principal: Principal, candidature_id: uuid.UUID, slot_id: uuid.UUID,
                        concerned: bool, clock: Clock) -> PieceView:
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        cand, slot = await lock_for_change(conn, principal, candidature_id, slot_id, now)
        statut = domain.concerned_statut(store.slot(slot), concerned)
        row = await store.set_statut(conn, slot_id, statut)
        await add_event(conn, PieceNotConcerned(**_facts(cand, row), concerned=concerned),
                        subject=str(candidature_id), clock=clock)
        return await views.one_piece(conn, row, cand, now)


# -- staff ----------------------------------------------------------------------------------------


async def review_piece(pool: asyncpg.Pool, principal: Principal, candidature_id: uuid.UUID, slot_id: uuid.UUID,
                       decision: str, comment: str, clock: Clock) -> PieceView:
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
        by = principal.email
        row = await store.set_review(conn, slot_id, statut, comment.strip() or None, by, now)
        if statut == "refusee":
            event = PieceRefused(**_facts(cand, row), by=by, at=now, comment=comment.strip())
        else:
            event = PieceValidated(**_facts(cand, row), by=by, at=now)
        await add_event(conn, event, subject=str(candidature_id), clock=clock)
        return await views.one_piece(conn, row, cand, now)
