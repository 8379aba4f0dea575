"""Ports, readiness polling and the child-process handling shared by the server starters."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Self

log = logging.getLogger("ecandidat.devstack")

LOCALHOST = "127.0.0.1"


def free_port(host: str = LOCALHOST) -> int:
    """A TCP port nobody listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(host: str, port: int, timeout: float, *, process: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until host:port accepts connections; TimeoutError after `timeout` seconds.

    With `process`, fail at once (RuntimeError) if that process exits while we wait.
    """
    deadline = time.monotonic() + timeout
    while not reachable(host, port, timeout=0.5):
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"process {process.args!r} exited with code {process.returncode} before listening on {host}:{port}"
            )
        if time.monotonic() >= deadline:
            raise TimeoutError(f"nothing answered on {host}:{port} within {timeout:g} s")
        time.sleep(0.05)


def port_or_free(preferred: int, host: str = LOCALHOST) -> int:
    """`preferred` when it is free, else a free port."""
    return free_port(host) if reachable(host, preferred, timeout=0.2) else preferred


def _setpriv() -> str | None:
    if not sys.platform.startswith("linux"):
        return None
    return shutil.which("setpriv")


def spawn(
    argv: Sequence[str | os.PathLike[str]],
    log_file: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
    parent_death_signal: signal.Signals | None = signal.SIGTERM,
) -> subprocess.Popen[bytes]:
    """Start `argv` in its own session, stdout and stderr appended to `log_file`.

    Its own session: a Ctrl-C on the terminal reaches only the orchestrator, which then stops the
    children in order. `parent_death_signal` (Linux, through util-linux `setpriv`, only when
    called from the main thread because the kernel ties it to the creating thread) makes the child
    stop if this process dies without cleaning up, so no server outlives a killed test run.
    """
    args = [os.fspath(a) for a in argv]
    setpriv = _setpriv()
    if (
        parent_death_signal is not None
        and setpriv is not None
        and threading.current_thread() is threading.main_thread()
    ):
        args = [setpriv, "--pdeathsig", parent_death_signal.name.removeprefix("SIG"), "--", *args]
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as out:
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            user=user,
            group=_primary_group(user) if user else None,
            extra_groups=[] if user else None,
        )


def _primary_group(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_gid


def terminate(
    process: subprocess.Popen[bytes],
    sig: signal.Signals = signal.SIGTERM,
    timeout: float = 10.0,
) -> int:
    """Send `sig`, wait up to `timeout` seconds, then SIGKILL. Returns the exit code."""
    if process.poll() is None:
        try:
            process.send_signal(sig)
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %g s after %s: killing it", process.args, timeout, sig.name)
            process.kill()
    return process.wait()


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log file, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class ManagedServer:
    """start()/stop() plus the context-manager protocol; a server run as a child process keeps it
    in `process` and listens on `host`:`port`."""

    process: subprocess.Popen[bytes] | None = None
    host: str
    port: int

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _claim_port(self, what: str) -> None:
        """Refuse to start when something already answers on our port."""
        if reachable(self.host, self.port, timeout=0.2):
            raise RuntimeError(f"cannot start {what}: {self.host}:{self.port} is already in use")

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
