"""Events the candidatures service reacts to: erasure, who the candidates are, and the pieces.
Every handler is `handler(deps, conn, event, meta)`, listed with the kit's `subscription`."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from ecandidat.contracts import documents as d
from ecandidat.contracts.accounts import AccountCreated, AccountPurged
from ecandidat.contracts.envelope import CloudEvent
from ecandidat.runtime import forgotten
from ecandidat.runtime.consumer import Subscription, subscription

from ecandidat.runtime.outbox import add_events

from . import store
from .context import Deps
from .domain import Action
from .lifecycle import change_statut, event_of, history_entry

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
        subscription(d.PieceRefused, piece_refused, deps, batch=pieces_refused),
    ]


async def account_purged(deps: Deps, conn: asyncpg.Connection, event: AccountPurged, meta: CloudEvent) -> None:
    """The candidate's candidatures erased; an application of theirs in flight (a second tab) is
    refused once this commits, or commits first and is erased here (the account's lock)."""
    await store.lock_candidate(conn, event.account_id)
    await forgotten.forget(conn, "account", [event.account_id], deps.now())
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


async def pieces_refused(deps: Deps, conn: asyncpg.Connection, items: list[tuple[d.PieceRefused, CloudEvent]]) -> None:
    """`piece_refused` for consecutive events at once, with the same writes in four statements
    (the candidatures locked, the pieces and the history, the counts and the statuts with the
    views after, the events) instead of four per event: at 100 refusals a second, statements
    in sequence are what the consumer waits for."""
    rows = {r["id"]: dict(r) for r in await store.lock_candidatures(conn, [e.candidature_id for e, _ in items])}
    now = deps.now()
    pieces: dict[tuple, tuple[str, str, datetime]] = {}  # the last report of each piece wins
    history: list[tuple] = []
    statuts: dict[uuid.UUID, tuple[str, datetime]] = {}
    changes: list[tuple[d.PieceRefused, CloudEvent, str, str]] = []
    for event, meta in items:
        row = rows.get(event.candidature_id)
        if row is None:
            continue  # cancelled and erased, or purged: nothing to follow
        cid = row["id"]
        pieces[cid, event.piece_id] = (event.libelle, "refusee", meta.time)
        history.append(
            (cid, event.at, event.by, "piece_refusee", {"piece": event.libelle, "commentaire": event.comment})
        )
        old = store.candidature_of(row).etat
        new = store.candidature_of(row).next_statut(Action.PIECE_REFUSED, now)
        if new == old:
            continue
        if cid in statuts:  # a second change of one candidature: its view after each, one at a time
            for one in items:
                await piece_refused(deps, conn, *one)
            return
        row["statut"] = new
        statuts[cid] = (new, now)
        entry, details = history_entry(
            Action.PIECE_REFUSED, old, new, now, event.comment, "piece_refusee", event.libelle, False
        )
        history.append((cid, now, event.by, entry, details))
        changes.append((event, meta, old, new))
    if not pieces:
        return
    await store.record_pieces(conn, pieces, history)
    views = {v["id"]: v for v in await store.refresh_candidatures(conn, [k[0] for k in pieces], statuts, ready=READY)}
    await add_events(
        conn,
        [
            (
                event_of(
                    Action.PIECE_REFUSED, views[e.candidature_id], old, new, now, now, e.comment, "piece_refusee", False
                ),
                str(e.candidature_id),
            )
            for e, _, old, new in changes
        ],
        request_ids=[meta.request_id for _, meta, _, _ in changes],
        clock=deps.clock,
    )
