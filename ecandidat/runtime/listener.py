"""A PostgreSQL LISTEN that survives restarts of the server: the one way to wait for a NOTIFY.

A worker that waits for rows (the outbox relay, the mailer's sender, the documents eraser) is
woken by a notification at commit and polls as a fallback. The listening connection is lost
whenever PostgreSQL restarts, the network cuts it or an administrator terminates it; a connection
opened once would leave the worker on its slow poll for good. `Listener` keeps one connection
listening: when it is lost (its termination, or a keepalive query that fails or does not answer)
it is opened again, after a growing delay while the server is away. `on_notify()` is called for
every notification and once after each (re)connection, because a notification sent while no
connection listened is lost: the worker looks at its table again.

    async with Listener(dsn, schema, "mailer_deliveries", wake.set):
        ...  # the worker's loop, waiting on `wake` with a poll timeout
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from .aio import RETRY_DELAYS, retry_delay, wait_event
from .db import connect

log = logging.getLogger(__name__)


class Listener:
    def __init__(
        self,
        dsn: str,
        schema: str,
        channel: str,
        on_notify: Callable[[], Any] | None = None,
        *,
        on_payload: Callable[[str | None], Any] | None = None,
        keepalive: float = 10.0,
        delays: Sequence[float] = RETRY_DELAYS,
    ) -> None:
        """`on_notify()` for a worker that only needs waking; `on_payload(payload)` for one that
        reads what was notified (called with None after each (re)connection: notifications may
        have been lost meanwhile)."""
        self.dsn = dsn
        self.schema = schema
        self.channel = channel
        self.on_notify = on_notify
        self.on_payload = on_payload
        self.keepalive = keepalive
        self.delays = tuple(delays) or (1.0,)
        self.connected = False
        self.connections = 0  # how many connections listened so far (1 + reconnections)
        self.backend_pid: int | None = None
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> Listener:
        self._task = asyncio.create_task(self.run(), name=f"listen-{self.channel}")
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def run(self) -> None:
        """Listen until cancelled, reconnecting whenever the connection is lost."""
        failures = 0
        while True:
            try:
                await self._listen_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the server is away or refuses: try again later
                failures += 1
                delay = retry_delay(failures, self.delays)
                log.warning(
                    "listening connection unavailable, retrying",
                    extra={"channel": self.channel, "error": repr(exc), "retry_in": delay},
                )
                await asyncio.sleep(delay)

    async def _listen_once(self) -> None:
        conn = await connect(self.dsn, self.schema)
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _: lost.set())
        try:
            await conn.add_listener(self.channel, self._notified)
            self.connected = True
            self.connections += 1
            self.backend_pid = conn.get_server_pid()
            if self.connections > 1:
                log.info("listening again", extra={"channel": self.channel})
            self._notified()  # what was committed while nobody listened
            while not await wait_event(lost, self.keepalive):
                # A connection cut without a word (a half-open TCP connection) only shows when used.
                await asyncio.wait_for(conn.fetchval("SELECT 1"), timeout=min(self.keepalive, 5.0))
            log.warning("listening connection lost", extra={"channel": self.channel})
        finally:
            self.connected = False
            conn.terminate()

    def _notified(self, *args: Any) -> None:
        """asyncpg's listener callback (connection, pid, channel, payload), or no argument after a
        (re)connection."""
        try:
            if self.on_notify is not None:
                self.on_notify()
            if self.on_payload is not None:
                self.on_payload(args[3] if len(args) == 4 else None)
        except Exception:
            log.exception("notification callback failed", extra={"channel": self.channel})
