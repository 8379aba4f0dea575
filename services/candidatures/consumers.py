"""Events the candidatures service reacts to: erasure, who the candidates are, and the pieces."""

from __future__ import annotations

import asyncpg

from ecandidat.contracts import documents as d
from ecandidat.contracts.accounts import AccountCreated, AccountPurged
from ecandidat.contracts.candidatures import CandidatureStatusChanged
from ecandidat.runtime.clock import Clock
from ecandidat.runtime.consumer import Subscription
from ecandidat.runtime.outbox import add_event

from . import handlers, store

READY = ("transmise", "validee", "non_concerne")


async def on_account_purged(conn, event: AccountPurged, meta) -> None:
    await handlers.erase_account(conn, event.account_id)
    await conn.execute("DELETE FROM candidats WHERE account_id = $1", event.account_id)


async def on_account_created(conn, event: AccountCreated, meta) -> None:
    await conn.execute(
        """INSERT INTO candidats (account_id, numero_dossier, nom, prenom, email) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (account_id) DO UPDATE SET numero_dossier = excluded.numero_dossier, nom = excluded.nom,
                                                 prenom = excluded.prenom, email = excluded.email""",
        event.account_id, event.numero_dossier, event.nom, event.prenom, event.email,
    )
    await conn.execute("UPDATE candidatures SET nom = $2, prenom = $3 WHERE account_id = $1",
                       event.account_id, event.nom, event.prenom)


def accounts() -> list[Subscription]:
    return [Subscription(AccountPurged, on_account_purged), Subscription(AccountCreated, on_account_created)]


def pieces(clock: Clock) -> list[Subscription]:
    """Piece statuses as the documents service reports them; a refused piece makes the dossier incomplet."""

    async def record(conn: asyncpg.Connection, event, statut: str, at) -> asyncpg.Record | None:
        row = await conn.fetchrow("SELECT * FROM candidatures WHERE id = $1 FOR UPDATE", event.candidature_id)
        if row is None:
            return None  # cancelled and erased, or purged: nothing to follow
        await conn.execute(
            """INSERT INTO candidature_pieces (candidature_id, piece_id, libelle, statut, updated_at)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (candidature_id, piece_id) DO UPDATE SET statut = excluded.statut, updated_at = excluded.updated_at""",
            event.candidature_id, event.piece_id, event.libelle, statut, at,
        )
        await conn.execute(
            """UPDATE candidatures SET
                   pieces_total = (SELECT count(*) FROM candidature_pieces WHERE candidature_id = $1),
                   pieces_ready = (SELECT count(*) FROM candidature_pieces WHERE candidature_id = $1 AND statut = ANY($2)),
                   pieces_refused = (SELECT count(*) FROM candidature_pieces WHERE candidature_id = $1 AND statut = 'refusee')
               WHERE id = $1""",
            event.candidature_id, list(READY),
        )
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
        await store.add_history(conn, row["id"], event.at, event.by, "piece_refusee", piece=event.libelle,
                                commentaire=event.comment)
        if row["cancelled_at"] is not None or row["statut"] not in ("receptionne", "complet"):
            return
        now = clock.now()
        await conn.execute(
            "UPDATE candidatures SET statut = 'incomplet', statut_date = $2, version = version + 1 WHERE id = $1",
            row["id"], now,
        )
        await store.add_history(conn, row["id"], now, event.by, "statut", old=row["statut"], new="incomplet",
                                cause="piece_refusee", piece=event.libelle)
        view = await store.candidature_view(conn, row["id"])
        await add_event(
            conn,
            CandidatureStatusChanged(
                **handlers._facts(view), old_status=row["statut"], new_status="incomplet", changed_at=now,
                comment=event.comment, cause="piece_refusee",
            ),
            subject=str(row["id"]), clock=clock,
        )

    return [
        Subscription(d.PieceDeposited, simple(lambda e: "transmise")),
        Subscription(d.PieceDeleted, simple(lambda e: "en_attente")),
        Subscription(d.PieceNotConcerned, simple(lambda e: "en_attente" if e.concerned else "non_concerne")),
        Subscription(d.PieceValidated, simple(lambda e: "validee")),
        Subscription(d.PieceRefused, refused),
    ]
