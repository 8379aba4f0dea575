"""After a favourable decision: confirmation, désistement, and the liste complémentaire (the
reminder and the désistement at the deadline are timed jobs, `jobs.py`).

A freed place (a désistement, by the candidate or because the deadline passed) is offered at
once, in the same transaction, to the next candidate of the formation's liste complémentaire
(lowest rank, then oldest decision): a favourable decision, validated by the system, with its own
confirmation deadline. The candidates behind move up (ranks 1, 2, 3… again, in their order).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from ecandidat.contracts import candidatures as c
from ecandidat.contracts.errors import NotFound
from ecandidat.runtime.clock import Clock
from ecandidat.runtime.outbox import add_event

from . import domain, store
from .context import Deps
from .domain import Action
from .handlers import views
from .lifecycle import change_statut, commission_alert, event_facts
from .staff import SYSTEM, validate


async def answer(deps: Deps, req: c.AnswerAdmission) -> c.CandidatureView:
    clock = deps.clock
    async with deps.pool.acquire() as conn, conn.transaction():
        row = await store.lock_candidature(conn, req.candidature_id)
        if row is None or req.principal.realm != "candidate" or row["account_id"] != req.principal.account_id:
            raise NotFound("Cette candidature n'existe pas.")
        now = clock.now()
        by = req.principal.numero_dossier or ""
        action = domain.answer_action(req.answer)
        if action is Action.CONFIRM:
            await change_statut(store.Tx(conn, clock), row, action, by=by, now=now)
        else:
            await withdraw(conn, row, action, now, clock, by=by)
        view = await store.held_candidature_view(conn, row["id"])
    [seen] = await views(deps.rpc, [view], now)
    return seen


async def withdraw(
    conn: asyncpg.Connection, row: asyncpg.Record, action: Action, now: datetime, clock: Clock, *, by: str
) -> None:
    """The désistement (`WITHDRAW` by the candidate, `EXPIRE` by the system at the deadline), and
    the freed place offered to the liste complémentaire."""
    await change_statut(store.Tx(conn, clock), row, action, by=by, now=now)
    await promote_next(conn, row["formation_code"], row["campagne_code"], now, clock)


async def promote_next(
    conn: asyncpg.Connection, formation_code: str, campagne: str, now: datetime, clock: Clock
) -> int:
    """Offer the formation's free places in the campaign to its liste complémentaire; return how
    many were offered."""
    capacite = await store.lock_capacite(conn, formation_code)
    if capacite is None:
        return 0  # no capacity set: places are not counted, nobody is promoted automatically
    promoted = 0
    while await store.places_taken(conn, formation_code, campagne) < capacite:
        nxt = await store.next_on_liste(conn, formation_code, campagne)
        if nxt is None:
            break
        row = await store.lock_candidature(conn, nxt)
        if row is None:
            break
        decision_id = await store.insert_decision(
            conn, nxt, "favorable", SYSTEM, now, automatic=True, origine="liste_complementaire"
        )
        await validate(conn, row, decision_id, SYSTEM, now, clock)
        view = await store.held_candidature_view(conn, nxt)
        promoted_event = c.CandidaturePromoted(
            **event_facts(view), former_rang=row["rang_lc"], confirmation_deadline=view["confirmation_deadline"]
        )
        await add_event(conn, promoted_event, subject=str(nxt), clock=clock)
        alert = commission_alert(promoted_event, view)
        if alert is not None:
            await add_event(conn, alert, subject=str(nxt), clock=clock)
        promoted += 1
    return promoted
