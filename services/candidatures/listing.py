"""Staff lists of candidatures: filters, sorting, keyset pagination, scoped to the caller.

A cursor is the sort key of the last row of a page (opaque, base64 JSON); the next page starts
strictly after it, so pages stay stable and fast however deep one goes (no OFFSET).
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from ecandidat.contracts import access
from ecandidat.contracts import candidatures as c
from ecandidat.contracts.errors import ErrorDetail, Forbidden, InvalidInput, NotFound

from .domain import end_of_day, start_of_day

_SORTS = {
    # sort → (key expressions, direction)
    "date_reception": (["coalesce(c.date_reception, '-infinity'::timestamptz)", "c.id"], "DESC"),
    "nom": (["lower(coalesce(c.nom, ''))", "lower(coalesce(c.prenom, ''))", "c.id"], "ASC"),
    "rang": (["coalesce(c.rang_lc, 2147483647)", "c.id"], "ASC"),
}

_SELECT = """
    SELECT c.*, f.libelle AS formation_libelle, k.nom, k.prenom, k.email,
           (SELECT d.kind FROM decisions d WHERE d.candidature_id = c.id AND d.validated_at IS NULL
            ORDER BY d.entered_at DESC LIMIT 1) AS decision_en_attente
    FROM candidatures c
    JOIN formations f ON f.code = c.formation_code
    LEFT JOIN candidats k ON k.account_id = c.account_id
"""


def _encode(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode()


def _decode(cursor: str, sort: str) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(values, list) or len(values) != len(_SORTS[sort][0]):
            raise ValueError
        values[-1] = uuid.UUID(values[-1])
        if sort == "date_reception":
            values[0] = datetime.fromisoformat(values[0])
        return values
    except (ValueError, TypeError, json.JSONDecodeError):
        raise InvalidInput("Le curseur de pagination est invalide.", details=[ErrorDetail(field="cursor", message="Curseur invalide.")]) from None


async def _scope(conn: asyncpg.Connection, req: c.ListCandidatures) -> tuple[list[str], list[Any]]:
    """Where-clauses that restrict the list to what the caller may see."""
    p, f = req.principal, req.filters
    if p.realm != "staff":
        raise Forbidden("Cette liste est réservée aux personnels.")
    if not (f.formation_code or f.centre_code or f.commission_code):
        raise InvalidInput(
            "Précisez une formation, un centre de candidature ou une commission.",
            details=[ErrorDetail(field="formation_code", message="Une formation, un centre ou une commission est requis.")],
        )
    where, args = [], []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    centre, commission = f.centre_code, f.commission_code
    if f.formation_code:
        frow = await conn.fetchrow("SELECT centre_code, commission_code FROM formations WHERE code = $1", f.formation_code)
        if frow is None:
            raise NotFound("Cette formation n'existe pas.")
        where.append(f"c.formation_code = {arg(f.formation_code)}")
        centre = centre or frow["centre_code"]
        commission = commission or frow["commission_code"]
    if f.centre_code:
        where.append(f"c.centre_code = {arg(f.centre_code)}")
    if f.commission_code:
        where.append(f"f.commission_code = {arg(f.commission_code)}")
    if access.reads_everything(p) or (centre and access.covers_centre(p, centre)):
        return where, args
    if commission and access.sits_on(p, commission):
        # The commission sees the candidatures it examines (`access.may_read`).
        where.append(f"f.commission_code = {arg(commission)} AND c.statut = ANY({arg(sorted(access.EXAMINED_BY_COMMISSION))})")
        return where, args
    raise access.out_of_scope("Cette liste")


def _filters(f: c.Filters, where: list[str], args: list[Any]) -> None:
    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if f.statut == "annulee":
        where.append("c.cancelled_at IS NOT NULL")
    elif f.statut:
        where.append(f"c.statut = {arg(f.statut)} AND c.cancelled_at IS NULL")
    if f.type_traitement:
        where.append(f"c.type_traitement = {arg(f.type_traitement)}")
    if f.decision == "aucune":
        where.append("c.decision IS NULL")
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


async def list_candidatures(pool: asyncpg.Pool, req: c.ListCandidatures) -> c.CandidaturePage:
    keys, direction = _SORTS[req.sort]
    async with pool.acquire() as conn:
        where, args = await _scope(conn, req)
        _filters(req.filters, where, args)
        if req.cursor:
            values = _decode(req.cursor, req.sort)
            first = len(args) + 1
            args += values
            placeholders = ", ".join(f"${i}" for i in range(first, first + len(values)))
            op = "<" if direction == "DESC" else ">"
            where.append(f"({', '.join(keys)}) {op} ({placeholders})")
        order = ", ".join(f"{k} {direction}" for k in keys)
        args.append(req.limit + 1)
        sql = f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ${len(args)}"
        rows = await conn.fetch(sql.replace("SELECT c.*", "SELECT " + ", ".join(f"{k} AS _k{i}" for i, k in enumerate(keys)) + ", c.*", 1), *args)
    more = len(rows) > req.limit
    rows = rows[: req.limit]
    items = [_row(r) for r in rows]
    cursor = _encode([rows[-1][f"_k{i}"] for i in range(len(keys))]) if more and rows else None
    return c.CandidaturePage(items=items, next_cursor=cursor)


async def count_candidatures(pool: asyncpg.Pool, req: c.CountCandidatures) -> c.StatutCounts:
    """The list's counts per statut: the same scope and filters, the statut filter left out."""
    async with pool.acquire() as conn:
        listed = c.ListCandidatures(principal=req.principal, filters=req.filters)
        where, args = await _scope(conn, listed)
        _filters(req.filters.model_copy(update={"statut": None}), where, args)
        rows = await conn.fetch(
            "SELECT CASE WHEN c.cancelled_at IS NOT NULL THEN 'annulee' ELSE c.statut END AS statut, count(*) AS n"
            f" FROM candidatures c JOIN formations f ON f.code = c.formation_code WHERE {' AND '.join(where)} GROUP BY 1",
            *args,
        )
    counts = {r["statut"]: r["n"] for r in rows}
    return c.StatutCounts(counts=counts, total=sum(counts.values()))


def _row(r: asyncpg.Record) -> c.CandidatureRow:
    return c.CandidatureRow(
        id=r["id"], numero_dossier=r["numero_dossier"], nom=r["nom"], prenom=r["prenom"], email=r["email"],
        formation_code=r["formation_code"], formation_libelle=r["formation_libelle"], centre_code=r["centre_code"],
        statut="annulee" if r["cancelled_at"] else r["statut"], statut_date=r["statut_date"],
        type_traitement=r["type_traitement"], type_traitement_valide=r["type_traitement_valide"],
        decision=r["decision"], decision_en_attente=r["decision_en_attente"], rang=r["rang_lc"],
        pieces_total=r["pieces_total"], pieces_pretes=r["pieces_ready"], pieces_refusees=r["pieces_refused"],
        date_reception=r["date_reception"], confirmation_deadline=r["confirmation_deadline"],
        confirmed_at=r["confirmed_at"], withdrawn_at=r["withdrawn_at"], created_at=r["created_at"],
        cancelled_at=r["cancelled_at"],
    )

