"""The mailer as a real process, killed with SIGKILL again and again in the middle of a burst of
mails sent to a slow SMTP server."""

from __future__ import annotations

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

CONCURRENCY = 2  # MAIL_SEND_CONCURRENCY of the mailer under test
KILLS = 4


def start(env: dict[str, str], log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "services.mailer"], env=env, stdout=log, stderr=log)


@pytest.mark.timeout(300)
async def test_a_mailer_killed_again_and_again_sends_every_mail_with_duplicates_within_the_window(
    process_env, smtp_sink, mailer_db, tmp_path
):
    env = dict(process_env, MAIL_SEND_CONCURRENCY=str(CONCURRENCY))
    env.pop("MAIL_LEASE")  # the default lease: a killed mailer's deliveries must not wait long
    smtp_sink.delay = 0.2  # each answer comes 200 ms after the server stored the message
    tag = os.urandom(4).hex()
    recipients = [f"burst.{tag}.{i}@example.org" for i in range(48)]
    wanted = set(recipients)

    def ours() -> list:
        return [m for m in smtp_sink.messages() if m["To"] in wanted]

    async def most_held() -> int:
        """The most deliveries one sender holds (a killed one's stay held until their lease expires)."""
        return await mailer_db.fetchval(
            """SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM deliveries
               WHERE recipient = ANY($1) AND status = 'sending' GROUP BY claimed_by) held""",
            recipients,
        )

    log = open(tmp_path / "mailer.log", "ab")
    mailer = start(env, log)
    try:
        async with mailer_db.transaction():
            for to in recipients:
                await add_event(mailer_db, MailCheckRequested(to=to, requested_by="rafale"))
        for kill in range(KILLS):
            sent = len(ours())
            await eventually(
                lambda: len(ours()) >= sent + 3, timeout=90, interval=0.01, message=f"mails sent before kill {kill + 1}"
            )
            mailer.send_signal(signal.SIGKILL)
            mailer.wait(10)
            # What the killed mailer held waits for the lease to expire: only what it was sending.
            held = await most_held()
            assert held <= CONCURRENCY, f"a mailer held {held} deliveries, more than it sends at once"
            mailer = start(env, log)
        assert len({m["To"] for m in ours()}) < len(recipients), (
            "the burst ended before the last kill; it proves nothing"
        )

        await eventually(lambda: {m["To"] for m in ours()} == wanted, timeout=120, message="every mail arrived")
        await eventually(lambda: _all_sent(mailer_db, recipients), timeout=60, message="every delivery recorded sent")
        mails = ours()
        ids_by_recipient: dict[str, set[str]] = {}
        for m in mails:
            ids_by_recipient.setdefault(m["To"], set()).add(m["Message-ID"])
        assert all(len(ids) == 1 for ids in ids_by_recipient.values()), "a duplicate has a new Message-ID"
        duplicates = sum(n - 1 for n in Counter(m["Message-ID"] for m in mails).values())
        # The documented window (docs/ARCHITECTURE.md, "Faults"): only the conversations in flight
        # when a mailer dies can be sent twice.
        assert duplicates <= KILLS * CONCURRENCY, f"{duplicates} duplicates for {KILLS} kills"
    finally:
        mailer.send_signal(signal.SIGTERM)
        try:
            assert mailer.wait(30) == 0, "the mailer did not stop cleanly on SIGTERM"
        finally:
            if mailer.poll() is None:
                mailer.kill()
            log.close()


async def _all_sent(mailer_db, recipients: list[str]) -> bool:
    rows = await mailer_db.fetch(
        "SELECT status, count(*) AS n FROM deliveries WHERE recipient = ANY($1) GROUP BY status", recipients
    )
    return {r["status"]: r["n"] for r in rows} == {"sent": len(recipients)}
