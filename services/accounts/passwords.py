"""Password hashing with argon2id in a bounded thread pool, so that the event loop keeps serving.

argon2-cffi releases the GIL while hashing: N worker threads use N cores. The threads may run at
a lower scheduling priority (ACCOUNTS_HASH_NICENESS, Linux) so that request handling elsewhere on
the machine is served first during a burst of logins. A dummy hash makes an unknown login cost the same time as
a known one.
"""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


def _lower_priority(niceness: int) -> None:
    if not niceness:
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError):  # not Linux, or not allowed: run at normal priority
        pass


class Passwords:
    def __init__(self, *, workers: int, memory_kib: int, time_cost: int, parallelism: int, niceness: int = 0) -> None:
        self.hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, hash_len=32, salt_len=16, type=Type.ID
        )
        self.executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="argon2", initializer=_lower_priority, initargs=(niceness,)
        )
        self._dummy = self.hasher.hash("dummy password to spend the same time on unknown logins")

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self.executor, self.hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """True when `password` matches `stored`; with `stored=None`, spends the same time and says False."""

        def check() -> bool:
            try:
                return self.hasher.verify(stored or self._dummy, password) and stored is not None
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

        return await asyncio.get_running_loop().run_in_executor(self.executor, check)

    def needs_rehash(self, stored: str) -> bool:
        return self.hasher.check_needs_rehash(stored)

    async def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
