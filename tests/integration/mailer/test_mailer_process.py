"""The mailer as a real process, killed with SIGKILL in the middle of a burst of mails."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter

import pytest

from ecandidat.contracts.mailer import MailCheckRequested
from ecandidat.runtime.outbox import add_event
from tests.conftest import eventually

pytestmark = pytest.mark.slow


def start(env: dict[str, str], log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "services.mailer"], env=env, stdout=log, stderr=log)


async def test_sigkill_during_a_burst_loses_no_mail_and_duplicates_none_unrecognisably(
    process_env, smtp_sink, mailer_db, tmp_path
):
    env = dict(process_env, MAIL_LEASE="2", MAIL_SEND_CONCURRENCY="2")
    log = open(tmp_path / "mailer.log", "ab")
    tag = os.urandom(4).hex()
    recipients = [f"burst.{tag}.{i}@example.org" for i in range(40)]
    first = start(env, log)
    try:
        ours = lambda: [m for m in smtp_sink.messages() if m["To"] in set(recipients)]  # noqa: E731
        async with mailer_db.transaction():
            for to in recipients:
                await add_event(mailer_db, MailCheckRequested(to=to, requested_by="burst"))
        await eventually(lambda: len(ours()) >= 8, timeout=60, interval=0.01, message="part of the burst sent")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed_at = len(ours())
        assert killed_at < len(recipients), "the whole burst was sent before the kill; the test proves nothing"
        second = start(env, log)
        try:
            await eventually(lambda: {m["To"] for m in ours()} == set(recipients), timeout=90, message="every mail arrived")
            await asyncio.sleep(3)  # leases expired, nothing more may come
            mails = ours()
            ids_by_recipient: dict[str, set[str]] = {}
            for m in mails:
                ids_by_recipient.setdefault(m["To"], set()).add(m["Message-ID"])
            assert all(len(ids) == 1 for ids in ids_by_recipient.values()), "a duplicate has a new Message-ID"
            copies = Counter(m["Message-ID"] for m in mails)
            extra = sum(n - 1 for n in copies.values())
            assert extra <= 2, f"{extra} duplicates: more than the mails in flight at the kill"
            rows = await mailer_db.fetch(
                "SELECT status, count(*) AS n FROM deliveries WHERE recipient = ANY($1) GROUP BY status", recipients
            )
            assert {r["status"]: r["n"] for r in rows} == {"sent": len(recipients)}
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0, "the mailer did not stop cleanly on SIGTERM"
    finally:
        if first.poll() is None:
            first.kill()
        log.close()
