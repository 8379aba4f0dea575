"""After a favourable decision: confirmation, désistement, reminders, and the liste complémentaire.

A freed place (a désistement, by the candidate or because the deadline passed) is offered at
once, in the same transaction, to the next candidate of the formation's liste complémentaire
(lowest rank, then oldest decision): a favourable decision, validated by the system, with its own
confirmation deadline. The candidates behind move up (ranks 1, 2, 3… again, in their order).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from ecandidat.contracts import candidatures as c
from ecandidat.contracts.errors import NotFound
from ecandidat.runtime.clock import Clock, FixedClock
from ecandidat.runtime.outbox import add_event
from ecandidat.runtime.rpc import RpcClient

from . import store, workflow
from .handlers import _facts, letter_facts, views
from .staff import SYSTEM, _insert_decision, _validate

def answerable(row: asyncpg.Record) -> workflow.Answerable:
    return workflow.Answerable(
        decision=row["decision"], cancelled=row["cancelled_at"] is not None,
        confirmation_deadline=row["confirmation_deadline"], confirmed_at=row["confirmed_at"], withdrawn_at=row["withdrawn_at"],
    )


async def _lock(conn: asyncpg.Connection, candidature_id) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT c.*, f.commission_code, f.capacite, f.date_confirmation AS formation_date_confirmation,
                  f.delai_confirmation_jours
           FROM candidatures c JOIN formations f ON f.code = c.formation_code
           WHERE c.id = $1 FOR UPDATE OF c""",
        candidature_id,
    )


async def answer(pool: asyncpg.Pool, rpc: RpcClient, req: c.AnswerAdmission, clock: Clock) -> c.CandidatureView:
    async with pool.acquire() as conn, conn.transaction():
        row = await _lock(conn, req.candidature_id)
        if row is None or req.principal.realm != "candidate" or row["account_id"] != req.principal.account_id:
            raise NotFound("Cette candidature n'existe pas.")
        now = clock.now()
        answerable(row).check_answer(req.answer, now)
        if req.answer == "confirmation":
            await conn.execute("UPDATE candidatures SET confirmed_at = $2, version = version + 1 WHERE id = $1", row["id"], now)
            await store.add_history(conn, row["id"], now, req.principal.numero_dossier or "", "confirmation")
            view = await store.candidature_view(conn, row["id"])
            await add_event(conn, c.CandidatureConfirmed(**_facts(view), confirmed_at=now, **letter_facts(view)),
                            subject=str(row["id"]), clock=clock)
        else:
            await withdraw(conn, row, now, clock, automatic=False, by=req.principal.numero_dossier or "")
            view = await store.candidature_view(conn, row["id"])
    [seen] = await views(rpc, [view], now)
    return seen


async def withdraw(conn: asyncpg.Connection, row: asyncpg.Record, now: datetime, clock: Clock, *, automatic: bool, by: str) -> None:
    await conn.execute(
        """UPDATE candidatures SET withdrawn_at = $2, withdrawn_automatically = $3, version = version + 1
           WHERE id = $1""",
        row["id"], now, automatic,
    )
    await store.add_history(conn, row["id"], now, by, "desistement", automatic=automatic)
    view = await store.candidature_view(conn, row["id"])
    await add_event(conn, c.CandidatureWithdrawn(**_facts(view), withdrawn_at=now, automatic=automatic),
                    subject=str(row["id"]), clock=clock)
    await promote_next(conn, row["formation_code"], now, clock)


async def promote_next(conn: asyncpg.Connection, formation_code: str, now: datetime, clock: Clock) -> int:
    """Offer the formation's free places to the liste complémentaire; return how many were offered."""
    capacite = await conn.fetchval("SELECT capacite FROM formations WHERE code = $1 FOR UPDATE", formation_code)
    if capacite is None:
        return 0  # no capacity set: places are not counted, nobody is promoted automatically
    promoted = 0
    while True:
        taken = await conn.fetchval(
            """SELECT count(*) FROM candidatures
               WHERE formation_code = $1 AND decision = 'favorable' AND withdrawn_at IS NULL AND cancelled_at IS NULL""",
            formation_code,
        )
        if taken >= capacite:
            return promoted
        nxt = await conn.fetchval(
            """SELECT id FROM candidatures
               WHERE formation_code = $1 AND decision = 'liste_complementaire'
                 AND withdrawn_at IS NULL AND cancelled_at IS NULL
               ORDER BY rang_lc, decision_validated_at, id LIMIT 1""",
            formation_code,
        )
        if nxt is None:
            return promoted
        row = await _lock(conn, nxt)
        if row is None:
            return promoted
        decision_id = await _insert_decision(conn, nxt, "favorable", SYSTEM, now, automatic=True,
                                             origine="liste_complementaire")
        await _validate(conn, row, decision_id, SYSTEM, now, clock)
        deadline = await conn.fetchval("SELECT confirmation_deadline FROM candidatures WHERE id = $1", nxt)
        view = await store.held_candidature_view(conn, nxt)
        await add_event(
            conn, c.CandidaturePromoted(**_facts(view), former_rang=row["rang_lc"], confirmation_deadline=deadline),
            subject=str(nxt), clock=clock,
        )
        promoted += 1


def reminders_job(days_before: int):
    async def run(conn: asyncpg.Connection, now: datetime) -> int:
        rows = await conn.fetch(
            """SELECT id FROM candidatures
               WHERE decision = 'favorable' AND confirmed_at IS NULL AND withdrawn_at IS NULL
                 AND cancelled_at IS NULL AND reminder_sent_at IS NULL
                 AND confirmation_deadline > $1 AND confirmation_deadline - $2::interval <= $1
               FOR UPDATE SKIP LOCKED""",
            now, timedelta(days=days_before),
        )
        for r in rows:
            await conn.execute("UPDATE candidatures SET reminder_sent_at = $2 WHERE id = $1", r["id"], now)
            view = await store.held_candidature_view(conn, r["id"])
            await add_event(
                conn, c.ConfirmationReminderDue(**_facts(view), confirmation_deadline=view["confirmation_deadline"]),
                subject=str(r["id"]), clock=FixedClock(now),
            )
        return len(rows)

    return run


async def expired_answers_job(conn: asyncpg.Connection, now: datetime) -> int:
    """No answer by the deadline counts as a désistement (and frees the place)."""
    rows = await conn.fetch(
        """SELECT id FROM candidatures
           WHERE decision = 'favorable' AND confirmed_at IS NULL AND withdrawn_at IS NULL
             AND cancelled_at IS NULL AND confirmation_deadline <= $1
           ORDER BY confirmation_deadline
           FOR UPDATE SKIP LOCKED""",
        now,
    )
    for r in rows:
        row = await _lock(conn, r["id"])
        await withdraw(conn, row, now, FixedClock(now), automatic=True, by=SYSTEM)
    return len(rows)
