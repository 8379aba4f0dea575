"""SQL of the candidatures service."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Any

import asyncpg

from ecandidat.contracts.access import CandidatureScope
from ecandidat.contracts.candidatures import RequiredPiece

from .domain import TRANSMISSIBLE, Campagne, Candidature, Formation

# The candidature's date limite de retour: its own date, else its formation's (see domain.Candidature).
DATE_RETOUR = "coalesce(c.date_retour_individuelle, f.date_retour)"

_CANDIDATURE_VIEW = f"""
    SELECT c.*, {DATE_RETOUR} AS date_retour, f.libelle AS formation_libelle, f.commission_code, t.libelle AS type_diplome,
           ce.libelle AS centre_libelle, ce.contact_libelle, ce.contact_adresse, ce.contact_mail,
           f.modalites_inscription,
           CASE WHEN f.signataire_nom IS NOT NULL THEN f.signataire_nom ELSE ce.signataire_nom END AS signataire_nom,
           CASE WHEN f.signataire_nom IS NOT NULL THEN f.signataire_qualite ELSE ce.signataire_qualite END
               AS signataire_qualite,
           ca.libelle AS campagne_libelle, d.motif AS d_motif, d.commentaire AS d_commentaire,
           d.preselection_date AS d_preselection_date, d.preselection_heure AS d_preselection_heure,
           d.preselection_lieu AS d_preselection_lieu
    FROM candidatures c
    JOIN formations f ON f.code = c.formation_code
    JOIN types_diplome t ON t.code = f.type_code
    JOIN centres ce ON ce.code = c.centre_code
    JOIN campagnes ca ON ca.code = c.campagne_code
    LEFT JOIN decisions d ON d.id = c.decision_id
"""


async def campagne_en_service(conn: asyncpg.Connection) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM campagnes WHERE en_service")


def campagne_of(row: asyncpg.Record | None) -> Campagne | None:
    return Campagne(row["code"], row["libelle"], row["debut"], row["fin"]) if row else None


async def formation(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT f.*, ce.libelle AS centre_libelle, ce.max_candidatures
           FROM formations f JOIN centres ce ON ce.code = f.centre_code WHERE f.code = $1""",
        code,
    )


def formation_of(row: asyncpg.Record) -> Formation:
    return Formation(
        row["code"], row["libelle"], row["centre_code"], row["type_traitement"],
        row["depot_debut"], row["depot_fin"], row["date_retour"], row["ouverte"],
    )


async def lock_candidate(conn: asyncpg.Connection, account_id: uuid.UUID) -> None:
    """Serialize the applications of one candidate (maximum per centre, one per formation)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 42))", str(account_id))


async def live_candidature_exists(conn: asyncpg.Connection, account_id: uuid.UUID, formation_code: str) -> bool:
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM candidatures WHERE account_id = $1 AND formation_code = $2 AND cancelled_at IS NULL)",
        account_id,
        formation_code,
    )


async def count_in_centre(conn: asyncpg.Connection, account_id: uuid.UUID, centre_code: str, campagne: str) -> int:
    return await conn.fetchval(
        """SELECT count(*) FROM candidatures
           WHERE account_id = $1 AND centre_code = $2 AND campagne_code = $3 AND cancelled_at IS NULL""",
        account_id,
        centre_code,
        campagne,
    )


async def all_pieces(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch("SELECT * FROM pieces ORDER BY ordre, libelle")]


async def insert_candidature(conn: asyncpg.Connection, **values: Any) -> None:
    columns = ", ".join(values)
    params = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    await conn.execute(f"INSERT INTO candidatures ({columns}) VALUES ({params})", *values.values())


async def insert_required_pieces(conn: asyncpg.Connection, candidature_id: uuid.UUID, pieces: list[RequiredPiece]) -> None:
    await conn.executemany(
        """INSERT INTO candidature_pieces (candidature_id, piece_id, libelle, code, ordre, conditionnelle, has_template)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        [(candidature_id, p.piece_id, p.libelle, p.code, p.ordre, p.conditionnelle, p.has_template) for p in pieces],
    )
    await conn.execute("UPDATE candidatures SET pieces_total = $2 WHERE id = $1", candidature_id, len(pieces))


async def required_pieces_of(conn: asyncpg.Connection, candidature_id: uuid.UUID) -> list[RequiredPiece]:
    """The pieces `candidature.created` announced, in the same order."""
    rows = await conn.fetch(
        """SELECT piece_id, code, libelle, ordre, conditionnelle, has_template FROM candidature_pieces
           WHERE candidature_id = $1 AND code IS NOT NULL ORDER BY ordre, libelle""",
        candidature_id,
    )
    return [RequiredPiece(**dict(r)) for r in rows]


async def history(conn: asyncpg.Connection, candidature_id: uuid.UUID) -> list[asyncpg.Record]:
    """Every recorded change of the candidature, oldest first."""
    return await conn.fetch(
        "SELECT at, actor, action, details FROM candidature_history WHERE candidature_id = $1 ORDER BY id",
        candidature_id,
    )


async def add_history(
    conn: asyncpg.Connection, candidature_id: uuid.UUID, at: datetime, actor: str, action: str, **details: Any
) -> None:
    await conn.execute(
        "INSERT INTO candidature_history (candidature_id, at, actor, action, details) VALUES ($1, $2, $3, $4, $5)",
        candidature_id,
        at,
        actor,
        action,
        json.loads(json.dumps(details, default=str)),
    )


async def candidature_view(conn: asyncpg.Connection, candidature_id: uuid.UUID, *,
                           lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(_CANDIDATURE_VIEW + " WHERE c.id = $1" + (" FOR UPDATE OF c" if lock else ""),
                               candidature_id)


async def candidatures_of(conn: asyncpg.Connection, account_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(_CANDIDATURE_VIEW + " WHERE c.account_id = $1 ORDER BY c.created_at", account_id)


async def held_candidature_view(conn: asyncpg.Connection, candidature_id: uuid.UUID) -> asyncpg.Record:
    """The view of a candidature that this transaction has locked or written, and so that exists."""
    row = await candidature_view(conn, candidature_id)
    if row is None:
        raise LookupError(f"candidature {candidature_id} not found inside the transaction that holds it")
    return row


async def lock_candidature(conn: asyncpg.Connection, candidature_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""SELECT c.*, {DATE_RETOUR} AS date_retour FROM candidatures c JOIN formations f ON f.code = c.formation_code
            WHERE c.id = $1 FOR UPDATE OF c""",
        candidature_id,
    )


def scope_of(row: asyncpg.Record) -> CandidatureScope:
    """Who may see the candidature of `row` (a row with the formation's commission_code)."""
    return CandidatureScope(row["centre_code"], row["commission_code"], row["statut"])


def candidature_of(row: asyncpg.Record) -> Candidature:
    return Candidature(
        statut=row["statut"],
        cancelled=row["cancelled_at"] is not None,
        decision=row["decision"],
        date_retour=row["date_retour"],
        prolongation_heures=row["prolongation_heures"],
    )


async def renumber_liste(conn: asyncpg.Connection, formation_code: str) -> list[asyncpg.Record]:
    """Number the formation's liste complémentaire 1, 2, 3… in its order (rank, then oldest
    decision); return the candidatures whose rank changed, with the old and new rank."""
    return await conn.fetch(
        """WITH ranked AS (
               SELECT id, rang_lc, row_number() OVER (ORDER BY rang_lc, decision_validated_at, id) AS n
               FROM candidatures
               WHERE formation_code = $1 AND decision = 'liste_complementaire'
                 AND withdrawn_at IS NULL AND cancelled_at IS NULL)
           UPDATE candidatures c SET rang_lc = r.n, version = c.version + 1
           FROM ranked r WHERE c.id = r.id AND c.rang_lc IS DISTINCT FROM r.n
           RETURNING c.id, r.rang_lc AS old, r.n AS new""",
        formation_code,
    )


# -- dates limites de retour ------------------------------------------------------------------------


async def lock_formation(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM formations WHERE code = $1 FOR UPDATE", code)


async def set_formation_date_retour(conn: asyncpg.Connection, code: str, date_retour: date) -> None:
    await conn.execute("UPDATE formations SET date_retour = $2 WHERE code = $1", code, date_retour)


async def following_formation(conn: asyncpg.Connection, formation_code: str) -> list[asyncpg.Record]:
    """The candidatures whose date limite de retour is their formation's, locked."""
    return await conn.fetch(
        _CANDIDATURE_VIEW + " WHERE c.formation_code = $1 AND c.date_retour_individuelle IS NULL ORDER BY c.id"
        " FOR UPDATE OF c",
        formation_code,
    )


async def touch(conn: asyncpg.Connection, candidature_ids: list[uuid.UUID]) -> None:
    """A new revision for candidatures whose state changed elsewhere (their formation's date)."""
    await conn.execute("UPDATE candidatures SET version = version + 1 WHERE id = ANY($1::uuid[])", candidature_ids)


async def set_date_retour_individuelle(conn: asyncpg.Connection, candidature_id: uuid.UUID, day: date | None) -> None:
    await conn.execute(
        "UPDATE candidatures SET date_retour_individuelle = $2, version = version + 1 WHERE id = $1",
        candidature_id, day,
    )


async def add_prolongation_heures(conn: asyncpg.Connection, candidature_id: uuid.UUID, heures: int) -> None:
    await conn.execute(
        "UPDATE candidatures SET prolongation_heures = prolongation_heures + $2, version = version + 1 WHERE id = $1",
        candidature_id, heures,
    )


async def lock_campagne(conn: asyncpg.Connection, code: str) -> bool:
    return bool(await conn.fetchval("SELECT true FROM campagnes WHERE code = $1 FOR UPDATE", code))


async def transmissible_of_campaign(conn: asyncpg.Connection, campagne_code: str) -> list[asyncpg.Record]:
    """The campaign's candidatures not transmitted yet (nor cancelled), locked."""
    return await conn.fetch(
        _CANDIDATURE_VIEW + " WHERE c.campagne_code = $1 AND c.cancelled_at IS NULL AND c.statut = ANY($2::text[])"
        " ORDER BY c.id FOR UPDATE OF c",
        campagne_code, list(TRANSMISSIBLE),
    )


async def prolongation(conn: asyncpg.Connection, campagne_code: str, incident_debut: datetime) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM prolongations WHERE campagne_code = $1 AND incident_debut = $2",
                               campagne_code, incident_debut)


async def insert_prolongation(conn: asyncpg.Connection, **values: Any) -> asyncpg.Record:
    columns = ", ".join(values)
    params = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    return await conn.fetchrow(f"INSERT INTO prolongations ({columns}) VALUES ({params}) RETURNING *", *values.values())


async def delete_candidatures_of(conn: asyncpg.Connection, account_id: uuid.UUID) -> int:
    result = await conn.execute("DELETE FROM candidatures WHERE account_id = $1", account_id)
    return int(result.split()[-1])


async def open_offer(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT f.*, t.libelle AS type_libelle, t.ordre AS type_ordre,
                  ce.libelle AS centre_libelle, ce.ordre AS centre_ordre,
                  ce.contact_libelle, ce.contact_adresse, ce.contact_mail
           FROM formations f
           JOIN types_diplome t ON t.code = f.type_code
           JOIN centres ce ON ce.code = f.centre_code
           WHERE f.ouverte
           ORDER BY ce.ordre, ce.libelle, t.ordre, t.libelle, f.libelle"""
    )


async def upsert(conn: asyncpg.Connection, table: str, key: str, values: dict[str, Any]) -> bool:
    """Insert or update one row of the offer; True when it was created."""
    columns = list(values)
    params = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key and c != "id")
    return await conn.fetchval(
        f"""INSERT INTO {table} ({", ".join(columns)}) VALUES ({params})
            ON CONFLICT ({key}) DO UPDATE SET {updates}
            RETURNING (xmax = 0)""",
        *values.values(),
    )
