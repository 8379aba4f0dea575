"""Timed jobs: the delivery log kept MAIL_LOG_RETENTION_DAYS, not for ever (what each mail said,
to whom, is personal data)."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from ecandidat.runtime.jobs import JobFn

from . import store
from .context import Deps

LOG_RETENTION_JOB = "mailer.log-retention"
LOG_RETENTION_BATCH = 5000


def forget_old_mails(deps: Deps) -> JobFn:
    keep = timedelta(days=deps.settings.mail_log_retention_days)

    async def run(conn: asyncpg.Connection, now: datetime) -> int:
        return await store.forget_old_mails(conn, now - keep, LOG_RETENTION_BATCH)

    return run
