"""Timed jobs: the delivery log kept MAIL_LOG_RETENTION_DAYS, not for ever (what each mail said,
to whom, is personal data); the daily summaries of the mails held for them (a commission's alerts
when it asked for one summary a day), each morning at MAIL_SUMMARY_HOUR (Paris time)."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta

import asyncpg

from ecandidat.runtime.french import PARIS
from ecandidat.runtime.jobs import JobFn

from . import store
from .consumers import message_id_of
from .context import Deps

LOG_RETENTION_JOB = "mailer.log-retention"
LOG_RETENTION_BATCH = 5000


def forget_old_mails(deps: Deps) -> JobFn:
    keep = timedelta(days=deps.settings.mail_log_retention_days)

    async def run(conn: asyncpg.Connection, now: datetime) -> int:
        return await store.forget_old_mails(conn, now - keep, LOG_RETENTION_BATCH)

    return run


SUMMARIES_JOB = "mailer.daily-summaries"
SUMMARIES_BATCH = 5000


def last_summary_time(now: datetime, hour: int) -> datetime:
    """The latest summary time (`hour` o'clock, Paris time) at or before `now`."""
    local = now.astimezone(PARIS)
    today = datetime.combine(local.date(), time(hour), tzinfo=PARIS)
    return today if local >= today else datetime.combine(local.date() - timedelta(days=1), time(hour), tzinfo=PARIS)


def send_summaries(deps: Deps) -> JobFn:
    """Each recipient's held mails of before the last summary time, in one summary mail per
    recipient, queued in the transaction that deletes them: a crash sends them later, never twice."""

    async def run(conn: asyncpg.Connection, now: datetime) -> int:
        held = await store.take_held(conn, last_summary_time(now, deps.settings.mail_summary_hour), SUMMARIES_BATCH)
        summaries: dict[tuple[str, str], list[asyncpg.Record]] = {}
        for row in sorted(held, key=lambda r: r["held_at"]):
            summaries.setdefault((row["recipient"], row["template"]), []).append(row)
        for (recipient, template), rows in summaries.items():
            # The summary's identity is the mails it holds: the same mails can only ever make the same one.
            event_id = uuid.uuid5(
                uuid.NAMESPACE_URL, "summary:" + ",".join(f"{r['event_id']}.{r['idx']}" for r in rows)
            )
            items = [r["context"] for r in rows]
            await store.enqueue(
                conn,
                event_id=event_id,
                event_type=SUMMARIES_JOB,
                template=template,
                recipient=recipient,
                rendered=deps.renderer.render(template, {"items": items, "since": rows[0]["held_at"]}),
                attachments=(),
                message_id=message_id_of(event_id, 0, deps.settings.mail_message_id_domain),
                now=now,
            )
        return len(summaries)

    return run
