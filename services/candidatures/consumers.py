"""Events the candidatures service reacts to: erasure, who the candidates are, and the pieces.
Every handler is `handler(deps, conn, event, meta)`, listed with the kit's `subscription`."""

from __future__ import annotations

import asyncpg

from ecandidat.contracts import documents as d
from ecandidat.contracts.accounts import AccountCreated, AccountPurged
from ecandidat.contracts.envelope import CloudEvent
from ecandidat.runtime.consumer import Subscription, subscription

from . import store
from .context import Deps
from .domain import Action
from .lifecycle import change_statut

READY = ("transmise", "validee", "non_concerne")


def accounts(deps: Deps) -> list[Subscription]:
    """Who the candidates are (name and address, for the staff's lists), and their erasure."""
    return [subscription(AccountPurged, account_purged, deps), subscription(AccountCreated, account_created, deps)]


def pieces(deps: Deps) -> list[Subscription]:
    """Piece statuses as the documents service reports them; a refused piece makes the dossier incomplet."""
    return [
        subscription(d.PieceDeposited, piece_deposited, deps),
        subscription(d.PieceDeleted, piece_deleted, deps),
        subscription(d.PieceNotConcerned, piece_not_concerned, deps),
        subscription(d.PieceValidated, piece_validated, deps),
        subscription(d.PieceRefused, piece_refused, deps),
    ]


async def account_purged(deps: Deps, conn: asyncpg.Connection, event: AccountPurged, meta: CloudEvent) -> None:
    await store.delete_candidatures_of(conn, event.account_id)
    await store.delete_candidat(conn, event.account_id)


async def account_created(deps: Deps, conn: asyncpg.Connection, event: AccountCreated, meta: CloudEvent) -> None:
    await store.save_candidat(conn, event.account_id, event.numero_dossier, event.nom, event.prenom, event.email)


async def _record(
    conn: asyncpg.Connection, event, statut: str, meta: CloudEvent, history: tuple | None = None
) -> asyncpg.Record | None:
    row = await store.lock_candidature(conn, event.candidature_id)
    if row is None:
        return None  # cancelled and erased, or purged: nothing to follow
    await store.record_piece(
        conn, event.candidature_id, event.piece_id, event.libelle, statut, meta.time, ready=READY, history=history
    )
    return row


async def piece_deposited(deps: Deps, conn: asyncpg.Connection, event: d.PieceDeposited, meta: CloudEvent) -> None:
    await _record(conn, event, "transmise", meta)


async def piece_deleted(deps: Deps, conn: asyncpg.Connection, event: d.PieceDeleted, meta: CloudEvent) -> None:
    await _record(conn, event, "en_attente", meta)


async def piece_not_concerned(
    deps: Deps, conn: asyncpg.Connection, event: d.PieceNotConcerned, meta: CloudEvent
) -> None:
    await _record(conn, event, "en_attente" if event.concerned else "non_concerne", meta)


async def piece_validated(deps: Deps, conn: asyncpg.Connection, event: d.PieceValidated, meta: CloudEvent) -> None:
    # Staff reviews belong to the candidature's audit trail too.
    await _record(conn, event, "validee", meta, history=(event.at, event.by, "piece_validee", {"piece": event.libelle}))


async def piece_refused(deps: Deps, conn: asyncpg.Connection, event: d.PieceRefused, meta: CloudEvent) -> None:
    details = {"piece": event.libelle, "commentaire": event.comment}
    row = await _record(conn, event, "refusee", meta, history=(event.at, event.by, "piece_refusee", details))
    if row is None:
        return
    await change_statut(
        store.Tx(conn, deps.clock),
        row,
        Action.PIECE_REFUSED,
        by=event.by,
        now=deps.now(),
        comment=event.comment,
        cause="piece_refusee",
        piece=event.libelle,
    )
