"""Background loops that survive their own failures.

Every long-running loop of a service (the outbox relay, each consumer, the timed jobs, the
mailer's sender, the documents eraser) runs as a `Supervised` task. An exception other than
cancellation is logged with its traceback, the loop waits (0.5 s, then longer, up to 30 s; short
again once it has run a minute without failing) and is started again, whatever the exception was:
a loop that dies while its process keeps running is the one failure nobody notices.
`running`, `restarts` and `last_error` are what the service's health check reports, so a loop
that keeps failing, or waits to be restarted, is visible.

A loop that returns has finished on purpose (its owner asked it to stop): it is not restarted.
`stop()` asks it to finish (calling the owner's own stop function, which lets it end the work in
progress), `cancel()` cuts it short.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from .aio import retry_delay, wait_event

log = logging.getLogger(__name__)

RESTART_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
STABLE_AFTER = 60.0  # seconds of running without a failure after which the delays start again from the first


class Supervised:
    def __init__(
        self,
        name: str,
        factory: Callable[[], Awaitable[None]],
        *,
        stop: Callable[[], None] | None = None,
        delays: Sequence[float] = RESTART_DELAYS,
    ) -> None:
        self.name = name
        self.factory = factory
        self.delays = tuple(delays) or (1.0,)
        self.running = False
        self.finished = False
        self.restarts = 0
        self.last_error: str | None = None
        self._stop = stop
        self._stopping = asyncio.Event()
        self.task: asyncio.Task | None = None

    def start(self) -> Supervised:
        self.task = asyncio.create_task(self._supervise(), name=self.name)
        return self

    @property
    def can_finish(self) -> bool:
        return self._stop is not None

    def stop(self) -> None:
        """Ask the loop to finish: no restart after this, and the owner's stop function is called."""
        self._stopping.set()
        if self._stop is not None:
            self._stop()

    def cancel(self) -> None:
        """Cut the loop short. The owner is also asked to stop: a cancellation that a library
        swallows (Python 3.11's `asyncio.wait_for` turns one that meets its timeout into a
        TimeoutError) must not leave the loop running."""
        self.stop()
        if self.task is not None:
            self.task.cancel()

    async def _supervise(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            started = time.monotonic()
            self.running = True
            try:
                await self.factory()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if time.monotonic() - started >= STABLE_AFTER:
                    failures = 0
                failures += 1
                delay = retry_delay(failures, self.delays)
                self.restarts += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.exception("background task crashed, restarting it", extra={"task": self.name, "retry_in": delay})
                self.running = False
                await wait_event(self._stopping, delay)
                continue
            finally:
                self.running = False
            break
        self.finished = True

    def describe(self) -> str:
        if self.running:
            state = "running"
        elif self.finished or (self.task is not None and self.task.done()):
            state = "stopped"
        else:
            state = "waiting to restart"
        text = f"{self.name}: {state}"
        if self.restarts:
            text += f", restarted {self.restarts} time(s), last error {self.last_error}"
        return text


async def stop_all(tasks: Sequence[Supervised], grace: float) -> None:
    """Ask every task to finish; give those that know how to (they have a stop function) `grace`
    seconds to finish their work in progress, then cancel what is left."""
    for t in tasks:
        t.stop()
    finishing = [t.task for t in tasks if t.task is not None and t.can_finish]
    if finishing:
        await asyncio.wait(finishing, timeout=grace)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*(t.task for t in tasks if t.task is not None), return_exceptions=True)
