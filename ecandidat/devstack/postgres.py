"""A private PostgreSQL cluster on 127.0.0.1, and database helpers for any server.

The binaries come from the `pgserver` wheel (PostgreSQL 16), else from a system installation.
pgserver's own `get_server()` listens on a unix socket only, so its bundled `initdb` and
`postgres` are run here directly with a TCP listener. PostgreSQL refuses to run as root: as root
the cluster runs as the system user `pgserver` (created when missing, as pgserver itself does).
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import re
import signal
import stat
import subprocess
import time
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from ecandidat.devstack._process import (
    LOCALHOST,
    ManagedServer,
    free_port,
    spawn,
    tail,
    terminate,
    wait_port,
)

log = logging.getLogger("ecandidat.devstack")

SYSTEM_USER_AS_ROOT = "pgserver"
SUPERUSER = "postgres"


def postgres_bin_dir() -> Path:
    """Where `initdb`, `postgres` and `pg_isready` are: the pgserver wheel, else the system."""
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "pginstall" / "bin"
            if (candidate / "postgres").is_file():
                return candidate

    def major(path: Path) -> int:
        return int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0

    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=major)
    if installed:
        return installed[-1].parent
    raise FileNotFoundError("no PostgreSQL binaries: install the 'local' extra (pgserver) or the postgresql package")


class PostgresServer(ManagedServer):
    """A PostgreSQL cluster in `data_dir`, listening on 127.0.0.1:`port` only (no unix socket).

    `initdb` runs at the first start (trust authentication, superuser `postgres`); later starts
    reuse the cluster. `durable=False` turns off fsync for throw-away test clusters.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        host: str = LOCALHOST,
        log_file: Path | None = None,
        durable: bool = True,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.log_file = log_file if log_file is not None else self.data_dir / "postgres.log"
        self.durable = durable
        self.process: subprocess.Popen[bytes] | None = None
        self._user: str | None = None  # the system user the cluster runs as, when we are root

    @property
    def url(self) -> str:
        """Admin URL (superuser, database `postgres`)."""
        return self.database_url("postgres")

    def database_url(self, dbname: str) -> str:
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{dbname}"

    def start(self, timeout: float = 60.0) -> Self:
        if self.running:
            return self
        self._claim_port("PostgreSQL")
        bin_dir = postgres_bin_dir()
        self._user = _system_user()
        self._prepare_data_dir(bin_dir)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(bin_dir)
        self._stop_orphan()
        argv: list[str | os.PathLike[str]] = [
            bin_dir / "postgres",
            "-D", self.data_dir,
            "-h", self.host,
            "-p", str(self.port),
            "-k", "",  # no unix socket: TCP only, no socket-path length or permission issues
            "-c", "max_connections=200",
        ]  # fmt: skip
        if not self.durable:
            argv += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        self.process = spawn(argv, self.log_file, user=self._user, parent_death_signal=signal.SIGINT)
        try:
            wait_port(self.host, self.port, timeout, process=self.process)
            self._wait_accepting(bin_dir, timeout)
        except Exception as exc:
            self.stop()
            raise RuntimeError(f"PostgreSQL failed to start:\n{tail(self.log_file)}") from exc
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Fast shutdown (SIGINT: roll back open transactions, checkpoint), SIGKILL after timeout."""
        if self.process is not None:
            terminate(self.process, signal.SIGINT, timeout)
            self.process = None

    # -- internals -------------------------------------------------------------------------

    def _prepare_data_dir(self, bin_dir: Path) -> None:
        fresh = not self.data_dir.exists()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if fresh or not any(self.data_dir.iterdir()):
            self.data_dir.chmod(0o700)
        if self._user is None:
            return
        import pwd

        entry = pwd.getpwnam(self._user)
        if self.data_dir.stat().st_uid != entry.pw_uid:
            for root, dirs, files in os.walk(self.data_dir):
                os.chown(root, entry.pw_uid, entry.pw_gid)
                for name in dirs + files:
                    os.lchown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)
        # The unprivileged user must be able to reach the data directory and the binaries.
        for path in (self.data_dir.parent, bin_dir.parent):
            _allow_traversal(path)

    def _initdb(self, bin_dir: Path) -> None:
        argv = [
            str(bin_dir / "initdb"),
            "-D", str(self.data_dir),
            "-U", SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        ]  # fmt: skip
        if not self.durable:
            argv.append("--no-sync")
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            user=self._user,
            group=_gid(self._user) if self._user else None,
            extra_groups=[] if self._user else None,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")

    def _stop_orphan(self) -> None:
        """A postmaster left running on this data directory (by a killed run) is stopped."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split("\n", 1)[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if str(self.data_dir).encode() not in cmdline:
            return
        log.warning("stopping PostgreSQL (pid %d) left running on %s", pid, self.data_dir)
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + 15
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)

    def _wait_accepting(self, bin_dir: Path, timeout: float) -> None:
        pg_isready = bin_dir / "pg_isready"
        argv = [str(pg_isready), "-q", "-h", self.host, "-p", str(self.port), "-U", SUPERUSER, "-t", "2"]
        deadline = time.monotonic() + timeout
        while subprocess.run(argv, check=False).returncode != 0:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"postgres exited with code {self.process.returncode}")
            if time.monotonic() >= deadline:
                raise TimeoutError(f"PostgreSQL not accepting connections after {timeout:g} s")
            time.sleep(0.1)


def _system_user() -> str | None:
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam(SYSTEM_USER_AS_ROOT)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
             SYSTEM_USER_AS_ROOT],
            check=True, capture_output=True,
        )  # fmt: skip
    return SYSTEM_USER_AS_ROOT


def _gid(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_gid


def _allow_traversal(path: Path) -> None:
    """Add o+x (search only, not read) to `path` and its ancestors where it is missing."""
    for directory in (path, *path.parents):
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            log.warning("chmod o+x %s so that PostgreSQL's user can reach its files", directory)
            directory.chmod(mode | stat.S_IXOTH)


# -- databases on any server ---------------------------------------------------------------------

_IDENT = re.compile(r"^[A-Za-z0-9_\-]{1,63}$")


def _quote_ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"unsupported database name: {name!r}")
    return '"' + name + '"'


def with_database(url: str, dbname: str) -> str:
    """`url` with its path replaced by `/dbname` (query string kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


async def ensure_database(admin_url: str, dbname: str) -> str:
    """CREATE DATABASE `dbname` unless it exists; returns its URL (same server and user)."""
    conn = await asyncpg.connect(admin_url, timeout=10)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", dbname)
        if not exists:
            try:
                await conn.execute(f"CREATE DATABASE {_quote_ident(dbname)}")
            except asyncpg.DuplicateDatabaseError:
                pass  # created concurrently
    finally:
        await conn.close()
    return with_database(admin_url, dbname)


async def drop_database(admin_url: str, dbname: str) -> None:
    """Terminate the connections to `dbname`, then DROP DATABASE IF EXISTS."""
    conn = await asyncpg.connect(admin_url, timeout=10)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            dbname,
        )
        force = " WITH (FORCE)" if conn.get_server_version().major >= 13 else ""
        await conn.execute(f"DROP DATABASE IF EXISTS {_quote_ident(dbname)}{force}")
    finally:
        await conn.close()


async def database_reachable(url: str, timeout: float = 3.0) -> bool:
    """True when a connection to `url` succeeds (server up, database exists, auth accepted)."""
    try:
        conn = await asyncpg.connect(url, timeout=timeout)
    except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False
    await conn.close()
    return True
