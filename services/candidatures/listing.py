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

from . import store
from .context import Deps
from .offer import with_destruction_prevue


def _encode(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode()


def _decode(cursor: str, sort: str) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(values, list) or len(values) != len(store.SORTS[sort][0]):
            raise ValueError
        values[-1] = uuid.UUID(values[-1])
        if sort == "date_reception":
            values[0] = datetime.fromisoformat(values[0])
        return values
    except (ValueError, TypeError, json.JSONDecodeError):
        raise InvalidInput(
            "Le curseur de pagination est invalide.", details=[ErrorDetail(field="cursor", message="Curseur invalide.")]
        ) from None


async def _scope(conn: asyncpg.Connection, req: c.ListCandidatures) -> store.ListScope:
    """What of the list the caller may see: all of it (their centre, or everywhere), or only what
    their commission examines (`access.may_read`); anything else is refused."""
    p, f = req.principal, req.filters
    if p.realm != "staff":
        raise Forbidden("Cette liste est réservée aux personnels.")
    if not (f.formation_code or f.centre_code or f.commission_code):
        raise InvalidInput(
            "Précisez une formation, un centre de candidature ou une commission.",
            details=[
                ErrorDetail(field="formation_code", message="Une formation, un centre ou une commission est requis.")
            ],
        )
    centre, commission = f.centre_code, f.commission_code
    if f.formation_code:
        frow = await store.formation(conn, f.formation_code)
        if frow is None:
            raise NotFound("Cette formation n'existe pas.")
        centre = centre or frow["centre_code"]
        commission = commission or frow["commission_code"]
    if access.reads_everything(p) or (centre and access.covers_centre(p, centre)):
        return store.ListScope()
    if commission and access.sits_on(p, commission):
        return store.ListScope(commission=commission, statuts=sorted(access.EXAMINED_BY_COMMISSION))
    raise access.out_of_scope("Cette liste")


async def _in_campagne(conn: asyncpg.Connection, f: c.Filters) -> c.Filters:
    """The filters with their campaign: the one asked for, which must exist, or by default the one
    in service (when none is, the last archived whose candidatures are kept)."""
    if f.campagne_code:
        destroyed = await store.campagne_destroyed(conn, f.campagne_code)
        if destroyed is None:
            raise NotFound(
                "Cette campagne n'existe pas.",
                details=[ErrorDetail(field="campagne_code", message="Campagne inconnue.")],
            )
        if destroyed:
            message = (
                "Les candidatures de cette campagne ne sont plus conservées : elles ont été détruites au terme "
                "de leur durée de conservation."
            )
            raise NotFound(message, details=[ErrorDetail(field="campagne_code", message=message)])
        return f
    return f.model_copy(update={"campagne_code": await store.campagne_suivie(conn)})


async def list_candidatures(deps: Deps, req: c.ListCandidatures) -> c.CandidaturePage:
    async with deps.pool.acquire() as conn:
        scope = await _scope(conn, req)
        filters = await _in_campagne(conn, req.filters)
        after = _decode(req.cursor, req.sort) if req.cursor else None
        rows, keys = await store.list_candidatures(conn, scope, filters, req.sort, after, req.limit + 1)
    more = len(rows) > req.limit
    rows = rows[: req.limit]
    items = [_row(r) for r in rows]
    cursor = _encode([rows[-1][f"_k{i}"] for i in range(keys)]) if more and rows else None
    return c.CandidaturePage(campagne_code=filters.campagne_code, items=items, next_cursor=cursor)


async def count_candidatures(deps: Deps, req: c.CountCandidatures) -> c.StatutCounts:
    """The list's counts per statut: the same scope, campaign and filters, the statut filter left out."""
    async with deps.pool.acquire() as conn:
        scope = await _scope(conn, c.ListCandidatures(principal=req.principal, filters=req.filters))
        rest = (await _in_campagne(conn, req.filters)).model_copy(update={"statut": None})
        selected = {k for k, v in rest.model_dump(exclude={"campagne_code"}).items() if v not in (None, "")}
        if scope.commission is None and selected == {"formation_code"} and rest.formation_code and rest.campagne_code:
            # a whole formation: the counts the trigger keeps
            counts = await store.kept_counts(conn, rest.formation_code, rest.campagne_code)
        else:
            counts = await store.count_by_statut(conn, scope, rest)
    return c.StatutCounts(counts=counts, total=sum(counts.values()))


async def get_tableau(deps: Deps, req: c.GetTableau) -> c.Tableau:
    """Where each formation of the selection stands in a campaign, for what the caller sees of it:
    all of it (the counts the triggers keep), or what their commission examines (counted)."""
    f = req.filters
    selection = c.Filters(formation_code=f.formation_code, centre_code=f.centre_code, commission_code=f.commission_code)
    async with deps.pool.acquire() as conn:
        scope = await _scope(conn, c.ListCandidatures(principal=req.principal, filters=selection))
        selection = await _in_campagne(conn, selection.model_copy(update={"campagne_code": f.campagne_code}))
        formations = await store.formations_selected(conn, scope, selection)
        suivi = store.kept_suivi if scope.commission is None else store.counted_suivi
        statuts, suivis = await suivi(conn, scope, selection)
    items = []
    for row in formations:
        counts, keys = statuts.get(row["code"], {}), suivis.get(row["code"], {})
        items.append(
            c.FormationSuivi(
                formation_code=row["code"],
                formation_libelle=row["libelle"],
                capacite=row["capacite"],
                total=sum(counts.values()),
                statuts=counts,
                decisions={k.removeprefix("decision:"): n for k, n in keys.items() if k.startswith("decision:")},
                decisions_a_valider=keys.get("a_valider", 0),
                confirmees=keys.get("confirmee", 0),
                desistees=keys.get("desistee", 0),
            )
        )
    return c.Tableau(campagne_code=selection.campagne_code, items=items)


async def campagnes_suivies(deps: Deps, req: c.ListCampagnesSuivies) -> c.CampagnesSuivies:
    access.require(req.principal, access.ANY_STAFF, "Les campagnes suivies sont réservées aux personnels.")
    async with deps.pool.acquire() as conn:
        rows = [dict(r) for r in await store.campagnes_suivies(conn)]
    return c.CampagnesSuivies(items=[with_destruction_prevue(deps, row) for row in rows])


def _row(r: asyncpg.Record) -> c.CandidatureRow:
    return c.CandidatureRow(
        id=r["id"],
        numero_dossier=r["numero_dossier"],
        nom=r["nom"],
        prenom=r["prenom"],
        email=r["email"],
        formation_code=r["formation_code"],
        formation_libelle=r["formation_libelle"],
        centre_code=r["centre_code"],
        statut="annulee" if r["cancelled_at"] else r["statut"],
        statut_date=r["statut_date"],
        type_traitement=r["type_traitement"],
        type_traitement_valide=r["type_traitement_valide"],
        decision=r["decision"],
        decision_en_attente=r["decision_en_attente"],
        rang=r["rang_lc"],
        pieces_total=r["pieces_total"],
        pieces_pretes=r["pieces_ready"],
        pieces_refusees=r["pieces_refused"],
        date_reception=r["date_reception"],
        confirmation_deadline=r["confirmation_deadline"],
        confirmed_at=r["confirmed_at"],
        withdrawn_at=r["withdrawn_at"],
        created_at=r["created_at"],
        cancelled_at=r["cancelled_at"],
        etiquettes=r["etiquettes"],
    )
