"""Small asyncio helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any, Literal, TypeVar

import uvloop

T = TypeVar("T")

EventLoopKind = Literal["uvloop", "asyncio"]

# Pauses between attempts to reach a server that is away (a PostgreSQL restart takes seconds):
# short at first, so that a quick restart costs little, then every 5 s.
RETRY_DELAYS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0)


def new_event_loop(kind: EventLoopKind = "uvloop") -> asyncio.AbstractEventLoop:
    """A new event loop of the kind EVENT_LOOP names: uvloop's (libuv, the default: the same
    asyncio API with sockets, timers and callbacks in C, measured in bench/README.md) or the
    standard library's (`asyncio`, for a comparison or a debugger that needs it)."""
    return asyncio.new_event_loop() if kind == "asyncio" else uvloop.new_event_loop()


def run(main: Coroutine[Any, Any, T], kind: EventLoopKind = "uvloop") -> T:
    """Run `main` to completion on a new event loop of that kind, as `asyncio.run` does."""
    with asyncio.Runner(loop_factory=lambda: new_event_loop(kind)) as runner:
        return runner.run(main)


def retry_delay(failures: int, delays: Sequence[float] = RETRY_DELAYS) -> float:
    """The pause after `failures` consecutive failures (1 or more)."""
    return delays[min(max(failures - 1, 0), len(delays) - 1)]


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait for `event` at most `timeout` seconds; True if it was set."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
        return True
    except TimeoutError:
        return False


def cancelling() -> bool:
    """Whether the current task was asked to stop: a cancellation that a library turned into
    another exception (Python 3.11's `asyncio.wait_for` makes a TimeoutError of one that meets its
    timeout) is still pending on the task, and the loop that caught the exception must end."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class WakeableLoop:
    """A worker loop that sleeps until woken (`wake()`: new work, a free slot) or until its poll
    interval, and finishes the work in progress when asked to `stop()`. The loop reads `_wake`
    (clear it before looking for work: a wake during the round is not lost) and `_stopping`."""

    def __init__(self) -> None:
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Take nothing more; the loop returns once the work in progress is done."""
        self._stopping.set()
        self._wake.set()
