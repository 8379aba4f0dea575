"""Events the candidatures service reacts to: erasure, who the candidates are, and the pieces."""

from __future__ import annotations

import asyncpg

from ecandidat.contracts import documents as d
from ecandidat.contracts.accounts import AccountCreated, AccountPurged
from ecandidat.runtime.consumer import Subscription

from . import store
from .context import Deps
from .domain import Action
from .lifecycle import change_statut

READY = ("transmise", "validee", "non_concerne")


def accounts(deps: Deps) -> list[Subscription]:
    """Who the candidates are (name and address, for the staff's lists), and their erasure."""

    async def purged(conn: asyncpg.Connection, event: AccountPurged, meta) -> None:
        await store.delete_candidatures_of(conn, event.account_id)
        await store.delete_candidat(conn, event.account_id)

    async def created(conn: asyncpg.Connection, event: AccountCreated, meta) -> None:
        await store.save_candidat(conn, event.account_id, event.numero_dossier, event.nom, event.prenom, event.email)

    return [Subscription(AccountPurged, purged), Subscription(AccountCreated, created)]


def pieces(deps: Deps) -> list[Subscription]:
    """Piece statuses as the documents service reports them; a refused piece makes the dossier incomplet."""

    async def record(conn: asyncpg.Connection, event, statut: str, at) -> asyncpg.Record | None:
        row = await store.lock_candidature(conn, event.candidature_id)
        if row is None:
            return None  # cancelled and erased, or purged: nothing to follow
        await store.record_piece(conn, event.candidature_id, event.piece_id, event.libelle, statut, at, ready=READY)
        return row

    def simple(statut_of):
        async def handle(conn, event, meta) -> None:
            row = await record(conn, event, statut_of(event), meta.time)
            if row is not None and isinstance(event, d.PieceValidated):
                # Staff reviews belong to the candidature's audit trail too.
                await store.add_history(conn, row["id"], event.at, event.by, "piece_validee", piece=event.libelle)

        return handle

    async def refused(conn, event: d.PieceRefused, meta) -> None:
        row = await record(conn, event, "refusee", meta.time)
        if row is None:
            return
        await store.add_history(
            conn, row["id"], event.at, event.by, "piece_refusee", piece=event.libelle, commentaire=event.comment
        )
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

    return [
        Subscription(d.PieceDeposited, simple(lambda e: "transmise")),
        Subscription(d.PieceDeleted, simple(lambda e: "en_attente")),
        Subscription(d.PieceNotConcerned, simple(lambda e: "en_attente" if e.concerned else "non_concerne")),
        Subscription(d.PieceValidated, simple(lambda e: "validee")),
        Subscription(d.PieceRefused, refused),
    ]
