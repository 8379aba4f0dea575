"""The SQL of the documents service (asyncpg); rows come back as domain objects or records."""

from __future__ import annotations

import uuid
from dataclasses import astuple, fields
from datetime import date, datetime

import asyncpg

from ecandidat.contracts.candidatures import CandidatureCreated
from ecandidat.runtime import forgotten
from ecandidat.runtime.db import wake_after_commit
from ecandidat.runtime.projections import set_candidature_statut as set_candidature_statut
from ecandidat.runtime.projections import set_candidature_statuts as set_candidature_statuts

from .domain import CandidatureState, Slot, StoredFile

_SLOT = """id, candidature_id, piece_id, code, libelle, ordre, conditionnelle, statut, reopened, file_key,
           file_name, content_type, size, sha256, deposited_at, comment, reviewed_by, reviewed_at"""


def _columns(row: asyncpg.Record, cls: type) -> dict:
    """The row's columns that are the dataclass's fields."""
    return {f.name: row[f.name] for f in fields(cls)}


def candidature_state(row: asyncpg.Record) -> CandidatureState:
    return CandidatureState(**_columns(row, CandidatureState))


def slot(row: asyncpg.Record) -> Slot:
    return Slot(**_columns(row, Slot))


async def insert_candidature(
    conn: asyncpg.Connection,
    event: CandidatureCreated,
    now: datetime,
    *,
    statut: str = "en_attente",
    cancelled: bool = False,
) -> bool:
    """Open the candidature and its slots, once (the event and a read that came first both try);
    never for an account purged or a candidature destroyed here (a late event)."""
    await forgotten.hold_account(conn, event.account_id)
    if await forgotten.is_forgotten(conn, event.account_id, event.candidature_id):
        return False
    inserted = await conn.fetchval(
        """INSERT INTO candidatures (candidature_id, account_id, numero_dossier, formation_code, formation_libelle,
                                     centre_code, commission_code, date_limite_retour, created_at, version,
                                     statut, cancelled, limite_retour, deadline_revision)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $10) ON CONFLICT DO NOTHING RETURNING true""",
        event.candidature_id,
        event.account_id,
        event.numero_dossier,
        event.formation_code,
        event.formation_libelle,
        event.centre_code,
        event.commission_code,
        event.date_limite_retour,
        now,
        event.revision,
        statut,
        cancelled,
        event.limite_retour,
    )
    if inserted:
        await conn.executemany(
            """INSERT INTO piece_slots (id, candidature_id, piece_id, code, libelle, ordre, conditionnelle)
               VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING""",
            [
                (uuid.uuid4(), event.candidature_id, p.piece_id, p.code, p.libelle, p.ordre, p.conditionnelle)
                for p in event.pieces
            ],
        )
    return bool(inserted)


async def candidature(
    conn: asyncpg.Connection, candidature_id: uuid.UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    sql = "SELECT * FROM candidatures WHERE candidature_id = $1"
    return await conn.fetchrow(sql + (" FOR UPDATE" if lock else ""), candidature_id)


async def slots(conn: asyncpg.Connection, candidature_id: uuid.UUID, *, lock: bool = False) -> list[asyncpg.Record]:
    sql = f"SELECT {_SLOT} FROM piece_slots WHERE candidature_id = $1 ORDER BY ordre, libelle, id"
    return await conn.fetch(sql + (" FOR UPDATE" if lock else ""), candidature_id)


async def known_candidatures(conn: asyncpg.Connection, candidature_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT candidature_id FROM candidatures WHERE candidature_id = ANY($1::uuid[])", candidature_ids
    )
    return {r["candidature_id"] for r in rows}


async def slots_of(conn: asyncpg.Connection, candidature_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Slot]]:
    rows = await conn.fetch(
        f"SELECT {_SLOT} FROM piece_slots WHERE candidature_id = ANY($1::uuid[]) ORDER BY ordre, libelle, id",
        candidature_ids,
    )
    found: dict[uuid.UUID, list[Slot]] = {}
    for r in rows:
        found.setdefault(r["candidature_id"], []).append(slot(r))
    return found


async def slot_row(
    conn: asyncpg.Connection, candidature_id: uuid.UUID, slot_id: uuid.UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    sql = f"SELECT {_SLOT} FROM piece_slots WHERE id = $1 AND candidature_id = $2"
    return await conn.fetchrow(sql + (" FOR UPDATE" if lock else ""), slot_id, candidature_id)


# The candidature's row is locked inside the CTE, which the join reads before any joined row
# reaches the slot's lock: the candidature first, then the slot, the order every change of a piece
# and a freeze keep (`handlers`).
_LOCKED_PIECE = """
WITH cand AS MATERIALIZED (SELECT c FROM candidatures c WHERE candidature_id = $1 FOR UPDATE)
SELECT cand.c AS cand, s AS slot, EXISTS (SELECT 1 FROM templates t WHERE t.piece_id = s.piece_id) AS has_template
  FROM cand JOIN piece_slots s ON s.id = $2 AND s.candidature_id = $1
   FOR UPDATE OF s"""


async def locked_piece(
    conn: asyncpg.Connection, candidature_id: uuid.UUID, slot_id: uuid.UUID
) -> tuple[asyncpg.Record, asyncpg.Record, bool] | None:
    """The candidature and one of its slots, both locked, and whether the piece has a template, in
    one round trip; None when either is not here."""
    row = await conn.fetchrow(_LOCKED_PIECE, candidature_id, slot_id)
    return None if row is None else (row["cand"], row["slot"], row["has_template"])


async def template_piece_ids(conn: asyncpg.Connection, piece_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    rows = await conn.fetch("SELECT piece_id FROM templates WHERE piece_id = ANY($1::uuid[])", piece_ids)
    return {r["piece_id"] for r in rows}


async def set_file(
    conn: asyncpg.Connection, slot_id: uuid.UUID, stored: StoredFile | None, *, at: datetime | None, statut: str
) -> asyncpg.Record:
    """The slot's file is now `stored` (None: no file), deposited `at`."""
    return await conn.fetchrow(
        f"""UPDATE piece_slots SET file_key = $2, file_name = $3, content_type = $4, size = $5, sha256 = $6,
                   deposited_at = $7, statut = $8 WHERE id = $1 RETURNING {_SLOT}""",
        slot_id,
        *(astuple(stored) if stored else (None,) * len(fields(StoredFile))),
        at,
        statut,
    )


async def set_statut(conn: asyncpg.Connection, slot_id: uuid.UUID, statut: str) -> asyncpg.Record:
    return await conn.fetchrow(f"UPDATE piece_slots SET statut = $2 WHERE id = $1 RETURNING {_SLOT}", slot_id, statut)


async def set_review(
    conn: asyncpg.Connection, slot_id: uuid.UUID, statut: str, comment: str | None, by: str, at: datetime
) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""UPDATE piece_slots SET statut = $2, comment = $3, reviewed_by = $4, reviewed_at = $5,
                   reopened = ($2 = 'refusee') WHERE id = $1 RETURNING {_SLOT}""",
        slot_id,
        statut,
        comment,
        by,
        at,
    )


async def set_freeze(conn: asyncpg.Connection, candidature_id: uuid.UUID, until: datetime | None) -> None:
    await conn.execute("UPDATE candidatures SET frozen_until = $2 WHERE candidature_id = $1", candidature_id, until)


async def _set_if_newer(
    conn: asyncpg.Connection, candidature_id: uuid.UUID, revision_column: str, revision: int, **values: object
) -> None:
    """Set the candidature's `values` as candidatures reports them at `revision`; an older change than
    the one held (`revision_column`) changes nothing. Column names come from this module only."""
    sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(values, start=3))
    await conn.execute(
        f"""UPDATE candidatures SET {sets}, {revision_column} = $2
            WHERE candidature_id = $1 AND {revision_column} < $2""",
        candidature_id,
        revision,
        *values.values(),
    )


async def set_deadline(
    conn: asyncpg.Connection, candidature_id: uuid.UUID, day: date, limite: datetime, revision: int
) -> None:
    """The date limite de retour (and the instant it ends)."""
    await _set_if_newer(
        conn, candidature_id, "deadline_revision", revision, date_limite_retour=day, limite_retour=limite
    )


async def cancel(conn: asyncpg.Connection, candidature_id: uuid.UUID) -> None:
    """Every later change is refused; the candidature's tickets stop working."""
    await conn.execute(
        "UPDATE candidatures SET cancelled = true, frozen_until = NULL WHERE candidature_id = $1", candidature_id
    )
    await conn.execute("DELETE FROM tickets WHERE candidature_id = $1", candidature_id)


async def delete_candidatures(conn: asyncpg.Connection, candidature_ids: list[uuid.UUID]) -> None:
    """The candidatures, their slots and tickets (an erased account's)."""
    await conn.execute("DELETE FROM tickets WHERE candidature_id = ANY($1::uuid[])", candidature_ids)
    await conn.execute("DELETE FROM candidatures WHERE candidature_id = ANY($1::uuid[])", candidature_ids)


async def reopen_pieces(conn: asyncpg.Connection, candidature_id: uuid.UUID, reopen: bool) -> None:
    """Every piece not validated may be replaced again (`reopen`), or none may."""
    await conn.execute(
        "UPDATE piece_slots SET reopened = ($2 AND statut <> 'validee') WHERE candidature_id = $1",
        candidature_id,
        reopen,
    )


async def mark_transmitted(conn: asyncpg.Connection, candidature_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE candidatures SET transmitted = true, frozen_until = NULL WHERE candidature_id = $1", candidature_id
    )
    await conn.execute("UPDATE piece_slots SET reopened = false WHERE candidature_id = $1", candidature_id)


async def set_current_decision(
    conn: asyncpg.Connection, candidature_id: uuid.UUID, decision_id: uuid.UUID, revision: int
) -> None:
    await _set_if_newer(conn, candidature_id, "decision_revision", revision, decision_id=decision_id)


async def insert_letter(
    conn: asyncpg.Connection,
    decision_id: uuid.UUID,
    candidature_id: uuid.UUID,
    kind: str,
    key: str,
    name: str,
    size: int,
    at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO letters (decision_id, candidature_id, kind, file_key, file_name, size, generated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (decision_id) DO NOTHING""",
        decision_id,
        candidature_id,
        kind,
        key,
        name,
        size,
        at,
    )


async def current_letter(conn: asyncpg.Connection, candidature_id: uuid.UUID) -> asyncpg.Record | None:
    """The letter of the candidature's current decision, if that decision has one."""
    return await conn.fetchrow(
        """SELECT l.* FROM letters l JOIN candidatures c ON c.decision_id = l.decision_id
           WHERE c.candidature_id = $1""",
        candidature_id,
    )


async def letter_of_decision(conn: asyncpg.Connection, decision_id: uuid.UUID) -> asyncpg.Record | None:
    """The letter generated for one decision (even if the candidature has a newer decision since)."""
    return await conn.fetchrow("SELECT * FROM letters WHERE decision_id = $1", decision_id)


async def forget_files(conn: asyncpg.Connection, candidature_ids: list[uuid.UUID], reason: str, now: datetime) -> int:
    """Queue the candidatures' files for deletion and clear them from their slots."""
    keys = await file_keys(conn, candidature_ids)
    await conn.execute(
        """UPDATE piece_slots SET file_key = NULL, file_name = NULL, content_type = NULL, size = NULL, sha256 = NULL
           WHERE candidature_id = ANY($1::uuid[]) AND file_key IS NOT NULL""",
        candidature_ids,
    )
    return await queue_deletions(conn, keys, reason, now)


async def file_keys(conn: asyncpg.Connection, candidature_ids: list[uuid.UUID], *, letters: bool = False) -> list[str]:
    """The candidatures' deposited files (and their letters, when asked: an erased account's)."""
    rows = await conn.fetch(
        """SELECT file_key FROM piece_slots WHERE candidature_id = ANY($1::uuid[]) AND file_key IS NOT NULL
           UNION ALL SELECT file_key FROM letters WHERE $2 AND candidature_id = ANY($1::uuid[])""",
        candidature_ids,
        letters,
    )
    return [r["file_key"] for r in rows]


async def claim_deletions(conn: asyncpg.Connection, batch: int) -> list[str]:
    """Up to `batch` queued keys, locked for this transaction (other replicas skip them)."""
    rows = await conn.fetch(
        """SELECT file_key FROM object_deletions ORDER BY attempts, requested_at
           LIMIT $1 FOR UPDATE SKIP LOCKED""",
        batch,
    )
    return [r["file_key"] for r in rows]


async def deletion_done(conn: asyncpg.Connection, key: str) -> None:
    await conn.execute("DELETE FROM object_deletions WHERE file_key = $1", key)


async def deletion_failed(conn: asyncpg.Connection, key: str, error: str) -> None:
    await conn.execute(
        "UPDATE object_deletions SET attempts = attempts + 1, last_error = $2 WHERE file_key = $1", key, error[:500]
    )


DELETIONS_CHANNEL = "deletions"  # a queued deletion wakes this process's eraser (`db.woken_by`)


async def queue_deletions(conn: asyncpg.Connection, keys: list[str], reason: str, now: datetime) -> int:
    if not keys:
        return 0
    await conn.executemany(
        "INSERT INTO object_deletions (file_key, reason, requested_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        [(k, reason, now) for k in keys],
    )
    wake_after_commit(conn, DELETIONS_CHANNEL)
    return len(keys)


async def candidature_ids_of(conn: asyncpg.Connection, account_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await conn.fetch("SELECT candidature_id FROM candidatures WHERE account_id = $1 FOR UPDATE", account_id)
    return [r["candidature_id"] for r in rows]


# -- templates ------------------------------------------------------------------------------------


async def template(conn: asyncpg.Connection, piece_id: uuid.UUID, *, lock: bool = False) -> asyncpg.Record | None:
    sql = "SELECT * FROM templates WHERE piece_id = $1"
    return await conn.fetchrow(sql + (" FOR UPDATE" if lock else ""), piece_id)


async def delete_template(conn: asyncpg.Connection, piece_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM templates WHERE piece_id = $1", piece_id)


async def put_template(
    conn: asyncpg.Connection,
    piece_id: uuid.UUID,
    libelle: str,
    key: str,
    name: str,
    size: int,
    sha256: str,
    by: str,
    at: datetime,
) -> asyncpg.Record:
    return await conn.fetchrow(
        """INSERT INTO templates (piece_id, libelle, file_key, file_name, size, sha256, uploaded_by, uploaded_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (piece_id) DO UPDATE SET libelle = excluded.libelle, file_key = excluded.file_key,
               file_name = excluded.file_name, size = excluded.size, sha256 = excluded.sha256,
               uploaded_by = excluded.uploaded_by, uploaded_at = excluded.uploaded_at
           RETURNING *""",
        piece_id,
        libelle,
        key,
        name,
        size,
        sha256,
        by,
        at,
    )


# -- tickets --------------------------------------------------------------------------------------


async def insert_ticket(
    conn: asyncpg.Connection,
    token_hash: bytes,
    kind: str,
    payload: dict,
    expires_at: datetime,
    *,
    candidature_id: uuid.UUID | None = None,
    slot_id: uuid.UUID | None = None,
    piece_id: uuid.UUID | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO tickets (token_hash, kind, candidature_id, slot_id, piece_id, payload, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        token_hash,
        kind,
        candidature_id,
        slot_id,
        piece_id,
        payload,
        expires_at,
    )


async def use_ticket(
    conn: asyncpg.Connection, token_hash: bytes, kinds: tuple[str, ...], now: datetime
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """UPDATE tickets SET used_at = $2
           WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 AND kind = ANY($3::text[])
           RETURNING *""",
        token_hash,
        now,
        list(kinds),
    )


async def purge_tickets(conn: asyncpg.Connection, now: datetime) -> int:
    result = await conn.execute("DELETE FROM tickets WHERE expires_at < $1::timestamptz - interval '1 hour'", now)
    return int(result.split()[-1])
