"""Run the platform's processes, restart the ones that die, stop them all in order."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ecandidat.devstack._process import spawn, tail

log = logging.getLogger("ecandidat.devstack")


@dataclass(frozen=True)
class Program:
    name: str
    module: str


PROGRAMS = (
    Program("accounts", "services.accounts"),
    Program("dossiers", "services.dossiers"),
    Program("candidatures", "services.candidatures"),
    Program("documents", "services.documents"),
    Program("mailer", "services.mailer"),
    Program("webhooks", "services.webhooks"),
    Program("gateway", "gateway"),
    Program("web", "web"),
)

RESTART_BACKOFF_MAX = 30.0
HEALTHY_RUN = 60.0  # a process that ran this long gets its backoff reset


def has_main(module: str) -> bool:
    """True when `python -m module` can run: `module.__main__` is found."""
    try:
        return importlib.util.find_spec(f"{module}.__main__") is not None
    except ModuleNotFoundError as error:
        if error.name and module.startswith(error.name):
            return False
        return True  # the package exists but is broken: run it, its log will say why
    except Exception:
        return True


class Supervised:
    """One platform process: `python -m <module>`, restarted with backoff when it exits."""

    def __init__(self, program: Program, env: dict[str, str], cwd: Path, log_dir: Path) -> None:
        self.program = program
        self.env = env
        self.cwd = cwd
        self.log_file = log_dir / f"{program.name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._stopping = False

    @property
    def name(self) -> str:
        return self.program.name

    def _spawn(self) -> None:
        argv = [sys.executable, "-m", self.program.module]
        self.process = spawn(argv, self.log_file, env=self.env, cwd=self.cwd)
        log.info("%s started (pid %d), log %s", self.name, self.process.pid, self.log_file)

    async def run(self) -> None:
        failures = 0
        while not self._stopping:
            started = time.monotonic()
            self._spawn()
            assert self.process is not None
            while self.process.poll() is None:
                await asyncio.sleep(0.2)
            if self._stopping:
                return
            ran = time.monotonic() - started
            failures = 0 if ran >= HEALTHY_RUN else failures + 1
            delay = min(RESTART_BACKOFF_MAX, 0.5 * 2**failures)
            log.error(
                "%s exited unexpectedly with code %s after %.1f s; restarting in %.1f s. "
                "Last lines of %s:\n%s",
                self.name, self.process.returncode, ran, delay, self.log_file,
                tail(self.log_file, 8),
            )  # fmt: skip
            self.restarts += 1
            try:
                await asyncio.sleep(delay)
            except asyncio.CancelledError:
                return

    def begin_stop(self) -> None:
        self._stopping = True
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            log.warning("%s did not stop after SIGTERM: SIGKILL", self.name)
            try:
                # The whole session (spawn starts one per process): nothing it started survives.
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    @property
    def exited(self) -> bool:
        return self.process is None or self.process.poll() is not None


async def stop_all(children: list[Supervised], tasks: list[asyncio.Task[None]], grace: float = 10.0) -> None:
    """SIGTERM to every process at once, wait up to `grace` seconds, SIGKILL the rest."""
    for child in children:
        child.begin_stop()
    deadline = time.monotonic() + grace
    while not all(c.exited for c in children) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    for child in children:
        child.kill()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for child in children:
        if child.process is not None:
            child.process.wait()
