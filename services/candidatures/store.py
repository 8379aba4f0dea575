"""SQL of the candidatures service."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from ecandidat.contracts.access import CandidatureScope
from ecandidat.contracts.base import Event
from ecandidat.contracts.candidatures import Filters, RequiredPiece
from ecandidat.runtime.clock import Clock
from ecandidat.runtime.outbox import add_event

from .domain import ANNULEE, TRANSMISSIBLE, Campagne, Candidature, Formation, end_of_day, start_of_day

# The candidature's date limite de retour: its own date, else its formation's (see domain.Candidature).
DATE_RETOUR = "coalesce(c.date_retour_individuelle, f.date_retour)"

_CANDIDATURE_VIEW = f"""
    SELECT c.*, {DATE_RETOUR} AS date_retour, f.libelle AS formation_libelle, f.commission_code, t.libelle AS type_diplome,
           ce.libelle AS centre_libelle, ce.contact_libelle, ce.contact_adresse, ce.contact_mail,
           f.modalites_inscription, f.rubriques_exigees,
           CASE WHEN f.signataire_nom IS NOT NULL THEN f.signataire_nom ELSE ce.signataire_nom END AS signataire_nom,
           CASE WHEN f.signataire_nom IS NOT NULL THEN f.signataire_qualite ELSE ce.signataire_qualite END
               AS signataire_qualite,
           ca.libelle AS campagne_libelle, d.motif AS d_motif, d.commentaire AS d_commentaire,
           d.preselection_date AS d_preselection_date, d.preselection_heure AS d_preselection_heure,
           d.preselection_lieu AS d_preselection_lieu,
           cm.libelle AS commission_libelle, cm.email AS commission_email, cm.alertes AS commission_alertes,
           cm.alertes_frequence AS commission_alertes_frequence
    FROM candidatures c
    JOIN formations f ON f.code = c.formation_code
    JOIN types_diplome t ON t.code = f.type_code
    JOIN centres ce ON ce.code = c.centre_code
    JOIN campagnes ca ON ca.code = c.campagne_code
    LEFT JOIN decisions d ON d.id = c.decision_id
    LEFT JOIN commissions cm ON cm.code = f.commission_code
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
        row["code"],
        row["libelle"],
        row["centre_code"],
        row["type_traitement"],
        row["depot_debut"],
        row["depot_fin"],
        row["date_retour"],
        row["ouverte"],
    )


async def lock_candidate(conn: asyncpg.Connection, account_id: uuid.UUID) -> None:
    """Serialize the applications of one candidate (maximum per centre, one per formation)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 42))", str(account_id))


async def live_candidature_exists(
    conn: asyncpg.Connection, account_id: uuid.UUID, formation_code: str, campagne: str
) -> bool:
    """Whether the candidate already has a candidature to the formation in the campaign, not cancelled."""
    return await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM candidatures WHERE account_id = $1 AND campagne_code = $3
                          AND formation_code = $2 AND cancelled_at IS NULL)""",
        account_id,
        formation_code,
        campagne,
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


async def insert_required_pieces(
    conn: asyncpg.Connection, candidature_id: uuid.UUID, pieces: list[RequiredPiece]
) -> None:
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
        *_history_row(candidature_id, at, actor, action, details),
    )


def _history_row(
    candidature_id: uuid.UUID, at: datetime, actor: str, action: str, details: Mapping[str, Any]
) -> tuple[Any, ...]:
    return candidature_id, at, actor, action, json.loads(json.dumps(details, default=str))


def _history_insert(first: int) -> str:
    """The INSERT of one history row whose five values are the parameters from `$first` on."""
    values = ", ".join(f"${first + i}" for i in range(5))
    return f"INSERT INTO candidature_history (candidature_id, at, actor, action, details) VALUES ({values})"


async def candidature_view(
    conn: asyncpg.Connection, candidature_id: uuid.UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        _CANDIDATURE_VIEW + " WHERE c.id = $1" + (" FOR UPDATE OF c" if lock else ""), candidature_id
    )


async def candidatures_of(conn: asyncpg.Connection, account_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(_CANDIDATURE_VIEW + " WHERE c.account_id = $1 ORDER BY c.created_at", account_id)


async def held_candidature_view(conn: asyncpg.Connection, candidature_id: uuid.UUID) -> asyncpg.Record:
    """The view of a candidature that this transaction has locked or written, and so that exists."""
    row = await candidature_view(conn, candidature_id)
    if row is None:
        raise LookupError(f"candidature {candidature_id} not found inside the transaction that holds it")
    return row


async def lock_candidature(conn: asyncpg.Connection, candidature_id: uuid.UUID) -> asyncpg.Record | None:
    """The candidature, locked for the transaction, with what its rules and its formation's
    places need (the one lock of every change: candidate, staff, consumers and jobs)."""
    return await conn.fetchrow(
        f"""SELECT c.*, {DATE_RETOUR} AS date_retour, f.commission_code, f.capacite,
                   f.date_confirmation AS formation_date_confirmation, f.delai_confirmation_jours
            FROM candidatures c JOIN formations f ON f.code = c.formation_code
            WHERE c.id = $1 FOR UPDATE OF c""",
        candidature_id,
    )


async def lock_candidatures(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> list[asyncpg.Record]:
    """`lock_candidature` for several at once (those that exist), locked in the order of their ids
    so that two transactions locking overlapping sets cannot deadlock."""
    return await conn.fetch(
        f"""SELECT c.*, {DATE_RETOUR} AS date_retour, f.commission_code, f.capacite,
                   f.date_confirmation AS formation_date_confirmation, f.delai_confirmation_jours
            FROM candidatures c JOIN formations f ON f.code = c.formation_code
            WHERE c.id = ANY($1::uuid[]) ORDER BY c.id FOR UPDATE OF c""",
        sorted(set(ids)),
    )


def scope_of(row: asyncpg.Record) -> CandidatureScope:
    """Who may see the candidature of `row` (a row with the formation's commission_code)."""
    return CandidatureScope(row["centre_code"], row["commission_code"], row["statut"])


def candidature_of(row: Mapping[str, Any]) -> Candidature:
    return Candidature(
        statut=row["statut"],
        cancelled=row["cancelled_at"] is not None,
        decision=row["decision"],
        date_retour=row["date_retour"],
        prolongation_heures=row["prolongation_heures"],
        confirmation_deadline=row["confirmation_deadline"],
        confirmed_at=row["confirmed_at"],
        withdrawn_at=row["withdrawn_at"],
    )


# -- the lifecycle's writes (`lifecycle.change_statut` is their one caller) ---------------------------


async def set_statut(
    conn: asyncpg.Connection, candidature_id: uuid.UUID, statut: str, at: datetime, *, received: bool = False
) -> None:
    """The statut du dossier and its date; `received`: the candidate's transmission, its date of reception too."""
    await conn.execute(
        """UPDATE candidatures SET statut = $2, statut_date = $3,
                  date_reception = CASE WHEN $4 THEN $3 ELSE date_reception END, version = version + 1
           WHERE id = $1""",
        candidature_id,
        statut,
        at,
        received,
    )


async def mark_cancelled(conn: asyncpg.Connection, candidature_id: uuid.UUID, at: datetime) -> None:
    await conn.execute(
        "UPDATE candidatures SET cancelled_at = $2, version = version + 1 WHERE id = $1", candidature_id, at
    )


async def mark_confirmed(conn: asyncpg.Connection, candidature_id: uuid.UUID, at: datetime) -> None:
    await conn.execute(
        "UPDATE candidatures SET confirmed_at = $2, version = version + 1 WHERE id = $1", candidature_id, at
    )


async def mark_withdrawn(conn: asyncpg.Connection, candidature_id: uuid.UUID, at: datetime, automatic: bool) -> None:
    await conn.execute(
        "UPDATE candidatures SET withdrawn_at = $2, withdrawn_automatically = $3, version = version + 1 WHERE id = $1",
        candidature_id,
        at,
        automatic,
    )


class Tx:
    """What the lifecycle does in one transaction, on PostgreSQL (the unit tests pass an in-memory
    stand-in with the same methods).

    The statut's write and the history entries are sent with the `view` that follows them, as one
    statement (one round trip instead of three): `change_statut` reads the view after its writes,
    and `publish` refuses to run while a write is still unsent."""

    def __init__(self, conn: asyncpg.Connection, clock: Clock) -> None:
        self.conn, self.clock = conn, clock
        self._statut: tuple[uuid.UUID, str, datetime, bool] | None = None
        self._history: list[tuple[Any, ...]] = []

    async def set_statut(self, candidature_id: uuid.UUID, statut: str, at: datetime, *, received: bool = False) -> None:
        if self._statut is not None or self._history:
            await self._flush()
        self._statut = (candidature_id, statut, at, received)

    async def mark_cancelled(self, candidature_id: uuid.UUID, at: datetime) -> None:
        await mark_cancelled(self.conn, candidature_id, at)

    async def mark_confirmed(self, candidature_id: uuid.UUID, at: datetime) -> None:
        await mark_confirmed(self.conn, candidature_id, at)

    async def mark_withdrawn(self, candidature_id: uuid.UUID, at: datetime, automatic: bool) -> None:
        await mark_withdrawn(self.conn, candidature_id, at, automatic)

    async def add_history(
        self, candidature_id: uuid.UUID, at: datetime, actor: str, action: str, **details: Any
    ) -> None:
        self._history.append(_history_row(candidature_id, at, actor, action, details))

    async def view(self, candidature_id: uuid.UUID) -> asyncpg.Record:
        if self._statut is None and not self._history:
            return await held_candidature_view(self.conn, candidature_id)
        ctes, args = self._pending_writes(candidature_id)
        statut, self._statut, self._history = self._statut, None, []
        source = _CANDIDATURE_VIEW
        if statut is not None:
            # The view of the row as the UPDATE left it: a statement's reads do not see its own writes.
            source = source.replace("FROM candidatures c", "FROM updated c", 1)
        row = await self.conn.fetchrow(f"WITH {', '.join(ctes)} {source} WHERE c.id = $1", *args)
        if row is None:
            raise LookupError(f"candidature {candidature_id} not found inside the transaction that holds it")
        return row

    def _pending_writes(self, candidature_id: uuid.UUID) -> tuple[list[str], list[Any]]:
        """The unsent writes as the CTEs of one statement whose `$1` is `candidature_id`."""
        args: list[Any] = [candidature_id]
        ctes = []
        if self._statut is not None:
            cid, statut, at, received = self._statut
            if cid != candidature_id:
                raise ValueError("the statut written and the view read are of different candidatures")
            ctes.append(
                """updated AS (UPDATE candidatures SET statut = $2, statut_date = $3,
                   date_reception = CASE WHEN $4 THEN $3 ELSE date_reception END, version = version + 1
                   WHERE id = $1 RETURNING *)"""
            )
            args += [statut, at, received]
        for n, entry in enumerate(self._history):
            ctes.append(f"history_{n} AS ({_history_insert(len(args) + 1)})")
            args += entry
        return ctes, args

    async def _flush(self) -> None:
        statut, self._statut = self._statut, None
        if statut is not None:
            cid, value, at, received = statut
            await set_statut(self.conn, cid, value, at, received=received)
        history, self._history = self._history, []
        for entry in history:
            await self.conn.execute(_history_insert(1), *entry)

    async def publish(self, event: Event, subject: uuid.UUID) -> None:
        if self._statut is not None or self._history:
            raise RuntimeError("a candidature event published before its writes were sent (no view read after them)")
        await add_event(self.conn, event, subject=str(subject), clock=self.clock)


async def renumber_liste(conn: asyncpg.Connection, formation_code: str, campagne: str) -> list[asyncpg.Record]:
    """Number the formation's liste complémentaire of the campaign 1, 2, 3… in its order (rank,
    then oldest decision); return the candidatures whose rank changed, with the old and new rank."""
    return await conn.fetch(
        """WITH ranked AS (
               SELECT id, rang_lc, row_number() OVER (ORDER BY rang_lc, decision_validated_at, id) AS n
               FROM candidatures
               WHERE formation_code = $1 AND campagne_code = $2 AND decision = 'liste_complementaire'
                 AND withdrawn_at IS NULL AND cancelled_at IS NULL)
           UPDATE candidatures c SET rang_lc = r.n, version = c.version + 1
           FROM ranked r WHERE c.id = r.id AND c.rang_lc IS DISTINCT FROM r.n
           RETURNING c.id, r.rang_lc AS old, r.n AS new""",
        formation_code,
        campagne,
    )


async def record_pieces(
    conn: asyncpg.Connection,
    pieces: Mapping[tuple[uuid.UUID, uuid.UUID], tuple[str, str, datetime]],
    history: list[tuple[uuid.UUID, datetime, str, str, Mapping[str, Any]]],
) -> None:
    """Pieces' statuts as the documents service reported them, `{(candidature_id, piece_id):
    (libelle, statut, at)}`, and history entries `(candidature_id, at, actor, action, details)`
    added in list order: one statement. The candidatures must be locked by the caller; their
    counts are written by `refresh_candidatures`."""
    keys = list(pieces)
    await conn.execute(
        """WITH piece AS (
               INSERT INTO candidature_pieces (candidature_id, piece_id, libelle, statut, updated_at)
               SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[])
               ON CONFLICT (candidature_id, piece_id) DO UPDATE SET statut = excluded.statut,
                   updated_at = excluded.updated_at)
           INSERT INTO candidature_history (candidature_id, at, actor, action, details)
           SELECT c, a, w, x, d::jsonb
           FROM unnest($6::uuid[], $7::timestamptz[], $8::text[], $9::text[], $10::text[])
                WITH ORDINALITY AS h(c, a, w, x, d, n)
           ORDER BY n""",
        [cid for cid, _ in keys],
        [pid for _, pid in keys],
        [pieces[k][0] for k in keys],
        [pieces[k][1] for k in keys],
        [pieces[k][2] for k in keys],
        [h[0] for h in history],
        [h[1] for h in history],
        [h[2] for h in history],
        [h[3] for h in history],
        [json.dumps(h[4], default=str) for h in history],
    )


async def refresh_candidatures(
    conn: asyncpg.Connection,
    ids: list[uuid.UUID],
    statuts: Mapping[uuid.UUID, tuple[str, datetime]],
    *,
    ready: tuple[str, ...],
) -> list[asyncpg.Record]:
    """The pieces' counts of the candidatures `ids` (after `record_pieces`), and the statut du
    dossier of those in `statuts` (`{id: (statut, date)}`, as `set_statut` writes it, at most one
    change each): one statement; return the views of the candidatures whose statut changed, as
    they are after."""
    ids = list(dict.fromkeys(ids))
    view = _CANDIDATURE_VIEW.replace("FROM candidatures c", "FROM updated c", 1)
    return await conn.fetch(
        f"""WITH updated AS (
               UPDATE candidatures c SET
                   pieces_total = (SELECT count(*) FROM candidature_pieces p WHERE p.candidature_id = c.id),
                   pieces_ready = (SELECT count(*) FROM candidature_pieces p
                                   WHERE p.candidature_id = c.id AND p.statut = ANY($4::text[])),
                   pieces_refused = (SELECT count(*) FROM candidature_pieces p
                                     WHERE p.candidature_id = c.id AND p.statut = 'refusee'),
                   statut = coalesce(x.statut, c.statut),
                   statut_date = CASE WHEN x.statut IS NULL THEN c.statut_date ELSE x.at END,
                   version = c.version + CASE WHEN x.statut IS NULL THEN 0 ELSE 1 END
               FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS x(id, statut, at)
               WHERE c.id = x.id
               RETURNING c.*)
           {view} WHERE c.id = ANY($5::uuid[])""",
        ids,
        [statuts[i][0] if i in statuts else None for i in ids],
        [statuts[i][1] if i in statuts else None for i in ids],
        list(ready),
        list(statuts),
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
        candidature_id,
        day,
    )


async def add_prolongation_heures(conn: asyncpg.Connection, candidature_id: uuid.UUID, heures: int) -> None:
    await conn.execute(
        "UPDATE candidatures SET prolongation_heures = prolongation_heures + $2, version = version + 1 WHERE id = $1",
        candidature_id,
        heures,
    )


async def lock_campagne(conn: asyncpg.Connection, code: str) -> bool:
    return bool(await conn.fetchval("SELECT true FROM campagnes WHERE code = $1 FOR UPDATE", code))


async def transmissible_of_campaign(conn: asyncpg.Connection, campagne_code: str) -> list[asyncpg.Record]:
    """The campaign's candidatures not transmitted yet (nor cancelled), locked."""
    return await conn.fetch(
        _CANDIDATURE_VIEW + " WHERE c.campagne_code = $1 AND c.cancelled_at IS NULL AND c.statut = ANY($2::text[])"
        " ORDER BY c.id FOR UPDATE OF c",
        campagne_code,
        list(TRANSMISSIBLE),
    )


async def prolongation(conn: asyncpg.Connection, campagne_code: str, incident_debut: datetime) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM prolongations WHERE campagne_code = $1 AND incident_debut = $2", campagne_code, incident_debut
    )


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


# -- candidates (from the accounts service's events) ------------------------------------------------


async def candidat(conn: asyncpg.Connection, account_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM candidats WHERE account_id = $1", account_id)


async def save_candidat(
    conn: asyncpg.Connection,
    account_id: uuid.UUID,
    numero_dossier: str,
    nom: str | None,
    prenom: str | None,
    email: str,
) -> None:
    """Who the candidate is, kept for the staff's lists (their candidatures' names too)."""
    await conn.execute(
        """INSERT INTO candidats (account_id, numero_dossier, nom, prenom, email) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (account_id) DO UPDATE SET numero_dossier = excluded.numero_dossier, nom = excluded.nom,
                                                 prenom = excluded.prenom, email = excluded.email""",
        account_id,
        numero_dossier,
        nom,
        prenom,
        email,
    )
    await conn.execute("UPDATE candidatures SET nom = $2, prenom = $3 WHERE account_id = $1", account_id, nom, prenom)


async def delete_candidat(conn: asyncpg.Connection, account_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM candidats WHERE account_id = $1", account_id)


# -- pieces (from the documents service's events) ---------------------------------------------------


async def record_piece(
    conn: asyncpg.Connection,
    candidature_id: uuid.UUID,
    piece_id: uuid.UUID,
    libelle: str,
    statut: str,
    at: datetime,
    *,
    ready: tuple[str, ...],
    history: tuple[datetime, str, str, Mapping[str, Any]] | None = None,
) -> None:
    """A piece's statut as the documents service reported it, and the candidature's counts
    (`ready`: the statuts that count as ready), with a history entry `(at, actor, action, details)`
    when given: one statement. The candidature must be locked by the caller (`lock_candidature`),
    so that no other transaction changes its pieces meanwhile."""
    history_cte, args = "", [candidature_id, piece_id, libelle, statut, at, list(ready)]
    if history is not None:
        history_cte = f", history AS ({_history_insert(7)})"
        args += _history_row(candidature_id, *history)
    # The statement's reads do not see its own INSERT: the counts are those of the other pieces,
    # plus this one.
    await conn.execute(
        f"""WITH piece AS (
               INSERT INTO candidature_pieces (candidature_id, piece_id, libelle, statut, updated_at)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (candidature_id, piece_id) DO UPDATE SET statut = excluded.statut,
                   updated_at = excluded.updated_at){history_cte}
           UPDATE candidatures SET
               pieces_total = 1 + (SELECT count(*) FROM candidature_pieces WHERE candidature_id = $1 AND piece_id <> $2),
               pieces_ready = (CASE WHEN $4 = ANY($6::text[]) THEN 1 ELSE 0 END)
                   + (SELECT count(*) FROM candidature_pieces
                      WHERE candidature_id = $1 AND piece_id <> $2 AND statut = ANY($6::text[])),
               pieces_refused = (CASE WHEN $4 = 'refusee' THEN 1 ELSE 0 END)
                   + (SELECT count(*) FROM candidature_pieces
                      WHERE candidature_id = $1 AND piece_id <> $2 AND statut = 'refusee')
           WHERE id = $1""",
        *args,
    )


async def pieces_of(conn: asyncpg.Connection, candidature_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT piece_id, libelle, statut FROM candidature_pieces WHERE candidature_id = $1 ORDER BY libelle",
        candidature_id,
    )


# -- staff: type de traitement, decisions, notes ----------------------------------------------------


async def set_type_traitement(
    conn: asyncpg.Connection, candidature_id: uuid.UUID, type_traitement: str, valide: bool
) -> None:
    await conn.execute(
        "UPDATE candidatures SET type_traitement = $2, type_traitement_valide = $3, version = version + 1 WHERE id = $1",
        candidature_id,
        type_traitement,
        valide,
    )


async def insert_decision(
    conn: asyncpg.Connection,
    candidature_id: uuid.UUID,
    kind: str,
    by: str,
    now: datetime,
    *,
    automatic: bool = False,
    **fields: Any,
) -> uuid.UUID:
    decision_id = uuid.uuid4()
    values = {
        "id": decision_id,
        "candidature_id": candidature_id,
        "kind": kind,
        "entered_by": by,
        "entered_at": now,
        "automatic": automatic,
        **fields,
    }
    cols = ", ".join(values)
    params = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    await conn.execute(f"INSERT INTO decisions ({cols}) VALUES ({params})", *values.values())
    return decision_id


async def decision(conn: asyncpg.Connection, decision_id: uuid.UUID) -> asyncpg.Record:
    return await conn.fetchrow("SELECT * FROM decisions WHERE id = $1", decision_id)


async def decisions_of(conn: asyncpg.Connection, candidature_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM decisions WHERE candidature_id = $1 ORDER BY entered_at", candidature_id)


async def pending_decision(conn: asyncpg.Connection, candidature_id: uuid.UUID) -> uuid.UUID | None:
    """The latest decision entered and not validated yet."""
    return await conn.fetchval(
        """SELECT id FROM decisions WHERE candidature_id = $1 AND validated_at IS NULL
           ORDER BY entered_at DESC LIMIT 1""",
        candidature_id,
    )


async def validate_decision(
    conn: asyncpg.Connection, candidature_id: uuid.UUID, decision_id: uuid.UUID, by: str, now: datetime
) -> asyncpg.Record:
    """Validate the decision; older pending ones are superseded by it (deleted). Returns the decision."""
    await conn.execute(
        "DELETE FROM decisions WHERE candidature_id = $1 AND validated_at IS NULL AND id <> $2",
        candidature_id,
        decision_id,
    )
    return await conn.fetchrow(
        "UPDATE decisions SET validated_by = $2, validated_at = $3 WHERE id = $1 RETURNING *", decision_id, by, now
    )


async def set_decision(
    conn: asyncpg.Connection,
    candidature_id: uuid.UUID,
    kind: str,
    decision_id: uuid.UUID,
    now: datetime,
    *,
    rang: int | None,
    deadline: datetime | None,
) -> None:
    """The validated decision the candidate reads (a new one: to be answered again, reminded again)."""
    await conn.execute(
        """UPDATE candidatures SET decision = $2, decision_id = $3, decision_validated_at = $4,
                  rang_lc = $5, confirmation_deadline = $6, confirmed_at = NULL, reminder_sent_at = NULL,
                  version = version + 1
           WHERE id = $1""",
        candidature_id,
        kind,
        decision_id,
        now,
        rang,
        deadline,
    )


async def insert_note(
    conn: asyncpg.Connection, note_id: uuid.UUID, candidature_id: uuid.UUID, author: str, at: datetime, body: str
) -> None:
    await conn.execute(
        "INSERT INTO notes (id, candidature_id, author, at, body) VALUES ($1, $2, $3, $4, $5)",
        note_id,
        candidature_id,
        author,
        at,
        body,
    )


async def notes_of(conn: asyncpg.Connection, candidature_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, author, at, body FROM notes WHERE candidature_id = $1 ORDER BY at", candidature_id
    )


# -- admission: places, liste complémentaire, answers -----------------------------------------------

# A favourable decision still waiting for its candidate's answer.
_AWAITING_ANSWER = (
    """decision = 'favorable' AND confirmed_at IS NULL AND withdrawn_at IS NULL AND cancelled_at IS NULL"""
)


async def lock_capacite(conn: asyncpg.Connection, formation_code: str) -> int | None:
    """The formation's capacity (None: places are not counted), its row locked while places are given."""
    return await conn.fetchval("SELECT capacite FROM formations WHERE code = $1 FOR UPDATE", formation_code)


async def places_taken(conn: asyncpg.Connection, formation_code: str, campagne: str) -> int:
    """The formation's places taken in the campaign (its capacity is the campaign's)."""
    return await conn.fetchval(
        """SELECT count(*) FROM candidatures
           WHERE formation_code = $1 AND campagne_code = $2 AND decision = 'favorable'
             AND withdrawn_at IS NULL AND cancelled_at IS NULL""",
        formation_code,
        campagne,
    )


async def next_on_liste(conn: asyncpg.Connection, formation_code: str, campagne: str) -> uuid.UUID | None:
    """The first of the formation's liste complémentaire in the campaign (lowest rank, then oldest decision)."""
    return await conn.fetchval(
        """SELECT id FROM candidatures
           WHERE formation_code = $1 AND campagne_code = $2 AND decision = 'liste_complementaire'
             AND withdrawn_at IS NULL AND cancelled_at IS NULL
           ORDER BY rang_lc, decision_validated_at, id LIMIT 1""",
        formation_code,
        campagne,
    )


async def reminders_due(conn: asyncpg.Connection, after: datetime, until: datetime) -> list[asyncpg.Record]:
    """The unanswered favourable decisions not reminded yet whose deadline is in (after, until]
    (`domain.reminder_window`), locked; those another replica holds are skipped."""
    return await conn.fetch(
        f"""SELECT id FROM candidatures
            WHERE {_AWAITING_ANSWER} AND reminder_sent_at IS NULL
              AND confirmation_deadline > $1 AND confirmation_deadline <= $2
            FOR UPDATE SKIP LOCKED""",
        after,
        until,
    )


async def mark_reminded(conn: asyncpg.Connection, candidature_id: uuid.UUID, at: datetime) -> None:
    await conn.execute("UPDATE candidatures SET reminder_sent_at = $2 WHERE id = $1", candidature_id, at)


async def answers_expired(conn: asyncpg.Connection, now: datetime) -> list[asyncpg.Record]:
    """The unanswered favourable decisions whose deadline has passed, oldest deadline first, locked."""
    return await conn.fetch(
        f"""SELECT id FROM candidatures
            WHERE {_AWAITING_ANSWER} AND confirmation_deadline <= $1
            ORDER BY confirmation_deadline
            FOR UPDATE SKIP LOCKED""",
        now,
    )


# -- the offer ---------------------------------------------------------------------------------------


async def etiquettes(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM etiquettes ORDER BY ordre, libelle, code")


async def set_etiquettes(conn: asyncpg.Connection, candidature_id: uuid.UUID, codes: list[str]) -> None:
    await conn.execute("UPDATE candidatures SET etiquettes = $2 WHERE id = $1", candidature_id, codes)


async def exists(conn: asyncpg.Connection, table: str, code: str | None) -> bool:
    """Whether the row of the offer's `table` with `code` exists (True for no code)."""
    return code is None or await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table} WHERE code = $1)", code)


async def retire_campagnes(conn: asyncpg.Connection, but: str, now: datetime) -> None:
    """One campaign in service at a time: every other one leaves service, archived."""
    await conn.execute(
        "UPDATE campagnes SET en_service = false, archivee_le = $2 WHERE en_service AND code <> $1", but, now
    )


async def campagne_en_service_is(conn: asyncpg.Connection, code: str) -> bool:
    return bool(await conn.fetchval("SELECT en_service FROM campagnes WHERE code = $1 FOR UPDATE", code))


async def set_archivee(conn: asyncpg.Connection, code: str, now: datetime | None) -> None:
    """Archive a campaign that left service (now), or bring it back (None: its retention starts anew)."""
    await conn.execute("UPDATE campagnes SET archivee_le = $2, detruite_le = NULL WHERE code = $1", code, now)


async def campagnes_past_retention(conn: asyncpg.Connection, archived_before: datetime) -> list[str]:
    """The campaigns archived before `archived_before` whose candidatures are not all destroyed yet,
    locked: a campaign being put back in service waits for this run, or this run for it."""
    rows = await conn.fetch(
        """SELECT code FROM campagnes
           WHERE NOT en_service AND archivee_le <= $1 AND detruite_le IS NULL ORDER BY archivee_le, code
           FOR UPDATE""",
        archived_before,
    )
    return [r["code"] for r in rows]


async def candidatures_of_campagnes(conn: asyncpg.Connection, codes: list[str], limit: int) -> list[asyncpg.Record]:
    """Up to `limit` candidatures of these campaigns, locked (SKIP LOCKED: one in a staff member's
    transaction waits for the next run)."""
    return await conn.fetch(
        _CANDIDATURE_VIEW
        + " WHERE c.campagne_code = ANY($1::text[]) ORDER BY c.id LIMIT $2 FOR UPDATE OF c SKIP LOCKED",
        codes,
        limit,
    )


async def delete_candidatures(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> None:
    """The candidatures with their history, pieces, decisions and notes (their rows cascade)."""
    await conn.execute("DELETE FROM candidatures WHERE id = ANY($1::uuid[])", ids)


async def mark_destroyed(conn: asyncpg.Connection, codes: list[str], now: datetime) -> None:
    """Of these campaigns, those without a candidature left are destroyed as of `now`."""
    await conn.execute(
        """UPDATE campagnes ca SET detruite_le = $2
           WHERE ca.code = ANY($1::text[]) AND NOT ca.en_service
             AND NOT EXISTS (SELECT 1 FROM candidatures c WHERE c.campagne_code = ca.code)""",
        codes,
        now,
    )


_SUIVIES = "WHERE en_service OR (archivee_le IS NOT NULL AND detruite_le IS NULL) ORDER BY en_service DESC, archivee_le DESC, code"


async def campagnes_suivies(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """The campaigns whose candidatures the staff read: the one in service, then the archived ones
    whose candidatures are kept, the most recently archived first."""
    return await conn.fetch(f"SELECT * FROM campagnes {_SUIVIES}")


async def campagne_destroyed(conn: asyncpg.Connection, code: str) -> bool | None:
    """Whether the campaign's candidatures were destroyed at the end of their retention; None: no such campaign."""
    row = await conn.fetchrow("SELECT detruite_le FROM campagnes WHERE code = $1", code)
    return None if row is None else row["detruite_le"] is not None


async def campagne_suivie(conn: asyncpg.Connection) -> str | None:
    """The campaign the staff's lists show by default: the first of `campagnes_suivies`."""
    return await conn.fetchval(f"SELECT code FROM campagnes {_SUIVIES} LIMIT 1")


async def piece_id(conn: asyncpg.Connection, code: str) -> uuid.UUID | None:
    return await conn.fetchval("SELECT id FROM pieces WHERE code = $1", code)


_OFFER_TABLES = (
    # name in `OfferAdmin`, table, order of the pages
    ("campagnes", "campagnes", "debut DESC, code"),
    ("prolongations", "prolongations", "le DESC"),
    ("centres", "centres", "ordre, code"),
    ("types_diplome", "types_diplome", "ordre, code"),
    ("commissions", "commissions", "centre_code, code"),
    ("formations", "formations", "centre_code, type_code, code"),
    ("pieces", "pieces", "niveau, ordre, code"),
    ("etiquettes", "etiquettes", "ordre, libelle, code"),
)


async def offer_rows(conn: asyncpg.Connection) -> dict[str, list[dict[str, Any]]]:
    """Every row of the offer, in the order the pages list them (one snapshot: the caller's transaction)."""
    return {
        name: [dict(r) for r in await conn.fetch(f"SELECT * FROM {table} ORDER BY {order}")]
        for name, table, order in _OFFER_TABLES
    }


# -- the staff's lists -------------------------------------------------------------------------------

SORTS = {
    # sort → (key expressions, direction)
    "date_reception": (["coalesce(c.date_reception, '-infinity'::timestamptz)", "c.id"], "DESC"),
    "nom": (["lower(coalesce(c.nom, ''))", "lower(coalesce(c.prenom, ''))", "c.id"], "ASC"),
    "rang": (["coalesce(c.rang_lc, 2147483647)", "c.id"], "ASC"),
}

_LIST = """
    SELECT {keys}c.*, f.libelle AS formation_libelle, k.nom, k.prenom, k.email,
           (SELECT d.kind FROM decisions d WHERE d.candidature_id = c.id AND d.validated_at IS NULL
            ORDER BY d.entered_at DESC LIMIT 1) AS decision_en_attente
    FROM candidatures c
    JOIN formations f ON f.code = c.formation_code
    LEFT JOIN candidats k ON k.account_id = c.account_id
"""


@dataclass(frozen=True)
class ListScope:
    """What of a list its reader sees: everything the filters select, or only the candidatures
    `commission` examines (in `statuts`)."""

    commission: str | None = None
    statuts: list[str] | None = None


def _where(scope: ListScope, f: Filters) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if f.formation_code:
        where.append(f"c.formation_code = {arg(f.formation_code)}")
    if f.campagne_code:
        where.append(f"c.campagne_code = {arg(f.campagne_code)}")
    if f.centre_code:
        where.append(f"c.centre_code = {arg(f.centre_code)}")
    if f.commission_code:
        where.append(f"f.commission_code = {arg(f.commission_code)}")
    if scope.commission is not None:
        where.append(f"f.commission_code = {arg(scope.commission)} AND c.statut = ANY({arg(scope.statuts)})")
    if f.statut == ANNULEE:
        where.append("c.cancelled_at IS NOT NULL")
    elif f.statut:
        where.append(f"c.statut = {arg(f.statut)} AND c.cancelled_at IS NULL")
    if f.type_traitement:
        where.append(f"c.type_traitement = {arg(f.type_traitement)}")
    if f.decision == "aucune":
        where.append("c.decision IS NULL")
    elif f.decision == "a_valider":
        where.append("c.decision_a_valider")
    elif f.decision:
        where.append(f"c.decision = {arg(f.decision)}")
    if f.pieces == "completes":
        where.append("c.pieces_ready = c.pieces_total")
    elif f.pieces == "manquantes":
        where.append("c.pieces_ready < c.pieces_total")
    elif f.pieces == "refusees":
        where.append("c.pieces_refused > 0")
    if f.transmise_du:
        where.append(f"c.date_reception >= {arg(start_of_day(f.transmise_du))}")
    if f.transmise_au:
        where.append(f"c.date_reception < {arg(end_of_day(f.transmise_au))}")
    if f.etiquette:
        where.append(f"{arg(f.etiquette)} = ANY(c.etiquettes)")
    return where, args


async def list_candidatures(
    conn: asyncpg.Connection, scope: ListScope, filters: Filters, sort: str, after: list[Any] | None, limit: int
) -> tuple[list[asyncpg.Record], int]:
    """A page of the list: at most `limit` rows strictly after the sort key `after`; each row carries
    its sort key as `_k0`, `_k1`… (their number is returned too), for the next page's cursor."""
    keys, direction = SORTS[sort]
    where, args = _where(scope, filters)
    if after is not None:
        first = len(args) + 1
        args += after
        placeholders = ", ".join(f"${i}" for i in range(first, first + len(after)))
        op = "<" if direction == "DESC" else ">"
        where.append(f"({', '.join(keys)}) {op} ({placeholders})")
    order = ", ".join(f"{k} {direction}" for k in keys)
    args.append(limit)
    select = _LIST.format(keys="".join(f"{k} AS _k{i}, " for i, k in enumerate(keys)))
    rows = await conn.fetch(f"{select} WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ${len(args)}", *args)
    return rows, len(keys)


async def count_by_statut(conn: asyncpg.Connection, scope: ListScope, filters: Filters) -> dict[str, int]:
    """How many candidatures of the list per statut (`annulee` for the cancelled ones)."""
    where, args = _where(scope, filters)
    rows = await conn.fetch(
        f"SELECT CASE WHEN c.cancelled_at IS NOT NULL THEN '{ANNULEE}' ELSE c.statut END AS statut, count(*) AS n"
        f" FROM candidatures c JOIN formations f ON f.code = c.formation_code WHERE {' AND '.join(where)} GROUP BY 1",
        *args,
    )
    return {r["statut"]: r["n"] for r in rows}


# formation → key (a statut, `decision:<kind>`, `a_valider`, `confirmee`, `desistee`) → number
Suivi = dict[str, dict[str, int]]


def _formations_where(scope: ListScope, f: Filters) -> tuple[str, list[Any]]:
    """The formations a dashboard shows: those of `f`'s formation, centre or commission, and of
    the reader's commission when that is all they see."""
    conds, args = ["true"], []
    for column, value in (
        ("f.code", f.formation_code),
        ("f.centre_code", f.centre_code),
        ("f.commission_code", f.commission_code or scope.commission),
    ):
        if value:
            args.append(value)
            conds.append(f"{column} = ${len(args)}")
    return " AND ".join(conds), args


async def formations_selected(conn: asyncpg.Connection, scope: ListScope, f: Filters) -> list[asyncpg.Record]:
    where, args = _formations_where(scope, f)
    return await conn.fetch(
        f"""SELECT f.code, f.libelle, f.capacite FROM formations f JOIN types_diplome t ON t.code = f.type_code
            WHERE {where} ORDER BY f.centre_code, t.ordre, f.libelle, f.code""",
        *args,
    )


def _kept_where(scope: ListScope, f: Filters) -> tuple[str, list[Any]]:
    """The kept counters' rows of the selected formations in `f`'s campaign (migration 0018)."""
    where, args = _formations_where(scope, f)
    args.append(f.campagne_code)
    return f"{where} AND s.campagne_code = ${len(args)}", args


async def kept_statuts(conn: asyncpg.Connection, scope: ListScope, f: Filters) -> Suivi:
    """The selected formations' counts per statut (`annulee` for the cancelled ones) in `f`'s
    campaign as `statut_counts` keeps them (migrations 0009, 0018): a sum of a few rows each."""
    where, args = _kept_where(scope, f)
    statuts: Suivi = {}
    for r in await conn.fetch(
        f"""SELECT s.formation_code, s.statut, s.annulee, sum(s.n)::bigint AS n
            FROM statut_counts s JOIN formations f ON f.code = s.formation_code
            WHERE {where} GROUP BY 1, 2, 3 HAVING sum(s.n) <> 0""",
        *args,
    ):
        counts = statuts.setdefault(r["formation_code"], {})
        key = ANNULEE if r["annulee"] else r["statut"]
        counts[key] = counts.get(key, 0) + r["n"]
    return statuts


async def kept_suivi(conn: asyncpg.Connection, scope: ListScope, f: Filters) -> tuple[Suivi, Suivi]:
    """The selected formations' counts per statut, and their decisions (validated, and to
    validate), confirmations and désistements as `suivi_counts` keeps them (migrations 0012, 0018)."""
    where, args = _kept_where(scope, f)
    suivis: Suivi = {}
    for r in await conn.fetch(
        f"""SELECT s.formation_code, s.cle, sum(s.n)::bigint AS n
            FROM suivi_counts s JOIN formations f ON f.code = s.formation_code
            WHERE {where} GROUP BY 1, 2 HAVING sum(s.n) <> 0""",
        *args,
    ):
        suivis.setdefault(r["formation_code"], {})[r["cle"]] = r["n"]
    return await kept_statuts(conn, scope, f), suivis


async def counted_suivi(conn: asyncpg.Connection, scope: ListScope, f: Filters) -> tuple[Suivi, Suivi]:
    """The same figures counted from the candidatures the reader sees (a commission: those it examines)."""
    where, args = _where(scope, f)
    statuts: Suivi = {}
    suivis: Suivi = {}
    for r in await conn.fetch(
        f"""SELECT c.formation_code, CASE WHEN c.cancelled_at IS NOT NULL THEN '{ANNULEE}' ELSE c.statut END AS statut,
                   c.decision, c.decision_a_valider AS a_valider, c.confirmed_at IS NOT NULL AS confirmee,
                   c.withdrawn_at IS NOT NULL AS desistee, count(*) AS n
            FROM candidatures c JOIN formations f ON f.code = c.formation_code
            WHERE {" AND ".join(where)} GROUP BY 1, 2, 3, 4, 5, 6""",
        *args,
    ):
        code, n = r["formation_code"], r["n"]
        counts = statuts.setdefault(code, {})
        counts[r["statut"]] = counts.get(r["statut"], 0) + n
        keys = suivis.setdefault(code, {})
        for key, present in (
            (f"decision:{r['decision']}", r["decision"]),
            ("a_valider", r["a_valider"]),
            ("confirmee", r["confirmee"]),
            ("desistee", r["desistee"]),
        ):
            if present:
                keys[key] = keys.get(key, 0) + n
    return statuts, suivis


async def kept_counts(conn: asyncpg.Connection, formation_code: str, campagne: str) -> dict[str, int]:
    """A formation's counts per statut in a campaign as `statut_counts` keeps them (migration 0009)."""
    statuts = await kept_statuts(conn, ListScope(), Filters(formation_code=formation_code, campagne_code=campagne))
    return statuts.get(formation_code, {})
