"""Timed jobs: the reminder before a confirmation deadline, the désistement once it passed, the
destruction of the candidatures of a campaign archived longer ago than they are kept."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from ecandidat.contracts import candidatures as c
from ecandidat.runtime.clock import FixedClock
from ecandidat.runtime.jobs import JobFn
from ecandidat.runtime.outbox import add_event

from . import admission, domain, store
from .context import Deps
from .domain import Action
from .lifecycle import event_facts
from .staff import SYSTEM

REMINDERS_JOB = "confirmation-reminders"
EXPIRED_ANSWERS_JOB = "expired-answers"
DESTRUCTION_JOB = "archived-campaigns-destruction"
DESTRUCTION_BATCH = 500


def reminders(deps: Deps) -> JobFn:
    """One `candidature.reminder_due` per favourable decision still unanswered a few days
    (CONFIRMATION_REMINDER_DAYS) before its deadline."""
    days_before = deps.settings.confirmation_reminder_days

    async def run(conn: asyncpg.Connection, now: datetime) -> int:
        after, until = domain.reminder_window(now, days_before)
        rows = await store.reminders_due(conn, after, until)
        for r in rows:
            await store.mark_reminded(conn, r["id"], now)
            view = await store.held_candidature_view(conn, r["id"])
            await add_event(
                conn,
                c.ConfirmationReminderDue(**event_facts(view), confirmation_deadline=view["confirmation_deadline"]),
                subject=str(r["id"]),
                clock=FixedClock(now),
            )
        return len(rows)

    return run


def expired_answers(deps: Deps) -> JobFn:
    """No answer by the deadline counts as a désistement (and frees the place)."""

    async def run(conn: asyncpg.Connection, now: datetime) -> int:
        rows = await store.answers_expired(conn, now)
        for r in rows:
            row = await store.lock_candidature(conn, r["id"])
            await admission.withdraw(conn, row, Action.EXPIRE, now, FixedClock(now), by=SYSTEM)
        return len(rows)

    return run


def destroy_archived(deps: Deps) -> JobFn:
    """The candidatures of campaigns archived more than CANDIDATURES_RETENTION_DAYS ago are
    destroyed, `DESTRUCTION_BATCH` a run, each with its `candidature.erased` in the same
    transaction (documents erase the files and letters, dossiers and the mailer what they hold);
    a campaign left without candidatures is marked destroyed."""
    keep = timedelta(days=deps.settings.candidatures_retention_days)

    async def run(conn: asyncpg.Connection, now: datetime) -> int:
        codes = await store.campagnes_past_retention(conn, now - keep)
        if not codes:
            return 0
        rows = await store.candidatures_of_campagnes(conn, codes, DESTRUCTION_BATCH)
        for row in rows:
            erased = c.CandidatureErased(**event_facts(row), campagne_code=row["campagne_code"])
            await add_event(conn, erased, subject=str(row["id"]), clock=FixedClock(now))
        await store.delete_candidatures(conn, [r["id"] for r in rows])
        await store.mark_destroyed(conn, codes, now)
        return len(rows)

    return run
