"""Helpers shared by the benchmarks in `bench/`.

- the conditions of a run (CPU count, load average at start, versions, PostgreSQL durability),
  printed with every table because absolute figures on a shared machine drift;
- private servers: a nats-server of the bench's own, a database of its own (on the machine's
  PostgreSQL at 127.0.0.1:5432 when it answers, else a private cluster), child processes with
  their log in a file, stopped when the bench ends;
- an HTTP load client (aiohttp, concurrency C, fixed duration or count) with latency percentiles;
- a bare aiohttp JSON endpoint, the baseline of HTTP benches
  (`python bench/_common.py bare --port P` runs it as a process of its own);
- CPU accounting of a phase (this process and the whole machine, from /proc/stat);
- `print_table`, `median`, `ratio`, `BrokenRun` (a broken run exits non-zero; a missed target does not).

Every bounded request loop here talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import json
import logging
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/x.py` from anywhere
    sys.path.insert(0, str(ROOT))

from ecandidat.devstack._process import spawn, tail, terminate  # noqa: E402
from ecandidat.devstack.infra import (  # noqa: E402
    NatsServer,
    PostgresServer,
    drop_database,
    ensure_database,
    free_port,
    reachable,
    wait_port,
)
from ecandidat.devstack.nats import nats_server_binary  # noqa: E402

LOCALHOST = "127.0.0.1"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
RESULTS = ROOT / "bench" / "results"  # git-ignored: logs and raw JSON of each run

log = logging.getLogger("bench")


class BrokenRun(RuntimeError):
    """The run did not measure what it claims (lost events, HTTP errors, a server died)."""


def setup_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def run_main(main: Any) -> None:
    """Run `main()` (a coroutine function); exit 1 on a broken run, 2 on any other error."""
    setup_logging()
    try:
        asyncio.run(main())
    except BrokenRun as exc:
        print(f"\nBROKEN RUN: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


# -- conditions -----------------------------------------------------------------------------------


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(
            [
                "git",
                "-C",
                str(ROOT),
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                "ecandidat",
                "services",
                "gateway",
            ],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        return out.stdout.strip() + (" (+local changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "-"


def _nats_server_version() -> str:
    try:
        out = subprocess.run([str(nats_server_binary()), "--version"], capture_output=True, text=True, check=True)
        return out.stdout.strip().removeprefix("nats-server: ")
    except (OSError, subprocess.CalledProcessError, FileNotFoundError):
        return "-"


def conditions(**extra: Any) -> dict[str, Any]:
    """What a reader needs to judge the figures. Call it before starting any server."""
    load1, load5, load15 = os.getloadavg()
    info: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "loadavg at start": f"{load1:.2f} {load5:.2f} {load15:.2f}",
        "python": platform.python_version(),
        "kernel": platform.release(),
        "git": _git_commit(),
        "nats-server": _nats_server_version(),
        "nats-py": _version("nats-py"),
        "aiohttp": _version("aiohttp"),
        "asyncpg": _version("asyncpg"),
        "pydantic": _version("pydantic"),
    }
    info.update(extra)
    return info


def print_conditions(info: dict[str, Any]) -> None:
    width = max(len(k) for k in info)
    print("conditions:")
    for key, value in info.items():
        print(f"  {key:<{width}}  {value}")
    print()


# -- tables and statistics ------------------------------------------------------------------------


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    print(title)
    print("  " + "  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(headers, widths))))
    print("  " + "  ".join("-" * w for w in widths))
    for row in cells:
        print("  " + "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
    print()


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 100:
            return f"{value:.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if value is None:
        return "-"
    return str(value)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def save_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(data, indent=2, default=str))
    return path


# -- CPU accounting -------------------------------------------------------------------------------


def _machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    total = sum(parts[:8])
    return total - idle, total


@dataclass
class CpuMeter:
    """CPU used during a phase: by this process (s) and by the whole machine (% of all cores)."""

    process_s: float = 0.0
    machine_busy: float = 0.0  # fraction of all cores busy, 0..1
    _p0: float = 0.0
    _m0: tuple[int, int] = (0, 0)

    def __enter__(self) -> CpuMeter:
        self._p0 = time.process_time()
        self._m0 = _machine_jiffies()
        return self

    def __exit__(self, *_: Any) -> None:
        self.process_s = time.process_time() - self._p0
        busy, total = _machine_jiffies()
        self.machine_busy = (busy - self._m0[0]) / max(1, total - self._m0[1])


# -- servers --------------------------------------------------------------------------------------


@contextlib.contextmanager
def workdir(name: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"ecandidat-bench-{name}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def logs_dir(name: str) -> Path:
    """bench/results/<name>-<time>/ (git-ignored): the logs of a run's servers, kept after it."""
    path = RESULTS / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def nats_server(folder: Path, logs: Path | None = None) -> Iterator[NatsServer]:
    """A nats-server of the bench's own (JetStream, file store in `folder`, default sync policy),
    every stream declared as a deployment's provisioning does (a consumer never waits for a
    producer the bench does not start)."""
    log_file = (logs or folder) / "nats-server.log"
    with NatsServer(store_dir=folder / "nats", name="ecandidat-bench", log_file=log_file) as server:
        server.provision()
        yield server


@dataclass
class Database:
    url: str
    where: str  # a sentence for the conditions
    settings: dict[str, str] = field(default_factory=dict)
    admin_url: str = PG_ADMIN  # the same server's maintenance database (to create more databases)


@contextlib.asynccontextmanager
async def database(folder: Path) -> AsyncIterator[Database]:
    """A database of the bench's own, dropped at the end.

    On the machine's PostgreSQL at 127.0.0.1:5432 when it answers (a fresh database, never one of a
    running platform), else on a private durable cluster started in `folder`.
    """
    name = f"ecandidat_bench_{uuid.uuid4().hex[:10]}"
    if reachable("127.0.0.1", 5432):
        url = await ensure_database(PG_ADMIN, name)
        try:
            yield Database(
                url, f"machine's PostgreSQL 127.0.0.1:5432, database {name}", await _pg_settings(url), PG_ADMIN
            )
        finally:
            await drop_database(PG_ADMIN, name)
        return
    with PostgresServer(folder / "pg") as server:
        url = await ensure_database(server.url, name)
        yield Database(url, f"private cluster {server.host}:{server.port}", await _pg_settings(url), server.url)


async def _pg_settings(url: str) -> dict[str, str]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return {
            name: await conn.fetchval(f"SHOW {name}")
            for name in ("server_version", "fsync", "synchronous_commit", "max_connections")
        }
    finally:
        await conn.close()


class Process:
    """A child process (its own session, stdout+stderr to `log_file`), terminated at exit."""

    def __init__(self, name: str, argv: Sequence[str], log_file: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_file = log_file
        self.env = env
        self.popen: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Process:
        self.popen = spawn(self.argv, self.log_file, env=self.env, cwd=ROOT)
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def check(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            code = None if self.popen is None else self.popen.returncode
            raise BrokenRun(f"{self.name} exited (code {code}):\n{tail(self.log_file)}")

    def stop(self) -> None:
        if self.popen is not None:
            terminate(self.popen, signal.SIGTERM, 15)
            self.popen = None

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.pid) if self.popen is not None else 0.0


def proc_cpu_seconds(pid: int) -> float:
    """user+sys CPU time of process `pid` so far (from /proc), 0 when unknown.

    Children started through `setpriv --pdeathsig` are the exec'd program itself (same pid).
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def wait_listening(port: int, process: Process, timeout: float = 60.0) -> None:
    try:
        wait_port(LOCALHOST, port, timeout, process=process.popen)
    except (TimeoutError, RuntimeError) as exc:
        raise BrokenRun(f"{process.name} did not listen on {port}: {exc}\n{tail(process.log_file)}") from None


# -- HTTP load client -----------------------------------------------------------------------------


@dataclass
class LoadResult:
    label: str
    concurrency: int
    elapsed: float
    latencies: list[float]  # seconds, successful requests only, sorted
    statuses: dict[int, int]
    errors: dict[str, int]
    client_cpu_s: float = 0.0
    failure_samples: list[str] = field(default_factory=list)  # the first non-200 answers
    expected: int = 200  # the status that counts as a success (201 for a creation)

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def failed(self) -> int:
        return sum(self.errors.values()) + sum(n for s, n in self.statuses.items() if s != self.expected)

    @property
    def rps(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def ms(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000

    def summary(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "concurrency": self.concurrency,
            "elapsed_s": round(self.elapsed, 3),
            "ok": self.ok,
            "failed": self.failed,
            "statuses": self.statuses,
            "errors": self.errors,
            "rps": round(self.rps, 1),
            "p50_ms": round(self.ms(50), 3),
            "p90_ms": round(self.ms(90), 3),
            "p99_ms": round(self.ms(99), 3),
            "max_ms": round(self.ms(100), 3),
            "client_cpu_s": round(self.client_cpu_s, 3),
            "failure_samples": self.failure_samples,
        }


async def http_load(
    url: str,
    *,
    concurrency: int,
    duration: float | None = None,
    count: int | None = None,
    label: str = "",
    timeout: float = 10.0,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """GET `url` (with `headers`) from `concurrency` workers on kept-alive connections, for `duration` s
    or `count` requests.

    A request counts as a success when it answers 200 and its body is read; its latency is from
    just before the request to the end of the body.
    """
    import aiohttp

    host = urlsplit(url).hostname
    if host != LOCALHOST:
        raise ValueError(f"the load client only talks to {LOCALHOST}, not {host!r}")
    if (duration is None) == (count is None):
        raise ValueError("give either duration or count")
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: dict[str, int] = {}
    samples: list[str] = []
    remaining = [count if count is not None else -1]
    deadline = [0.0]
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    perf = time.perf_counter

    async def worker(session: aiohttp.ClientSession) -> None:
        while True:
            if remaining[0] == 0 or (duration is not None and perf() >= deadline[0]):
                return
            if remaining[0] > 0:
                remaining[0] -= 1
            started = perf()
            try:
                async with session.get(url, headers=headers) as response:
                    body = await response.read()
                    status = response.status
                    if status != 200 and len(samples) < 3:
                        samples.append(f"{status} {body[:600].decode(errors='replace')}")
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                continue
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                latencies.append(perf() - started)

    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:
        cpu0 = time.process_time()
        started = perf()
        deadline[0] = started + (duration or 0)
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = perf() - started
        cpu = time.process_time() - cpu0
    latencies.sort()
    return LoadResult(label, concurrency, elapsed, latencies, statuses, errors, cpu, samples)


@dataclass(frozen=True)
class Call:
    """One request of `request_load` / `open_loop`: `path` on the base URL, a JSON body or none."""

    method: str
    path: str
    headers: dict[str, str] | None = None
    json: Any = None
    expect: int = 200


@dataclass
class Answer:
    """What one `Call` got: wall-clock times (time.time()) so that they compare with other processes' clocks."""

    index: int
    scheduled: float  # when it was due (open loop) or started (closed loop)
    sent: float  # just before the request was written
    latency: float  # seconds from `scheduled` to the end of the body; nan on a client error
    status: int  # 0 on a client error
    body: bytes


async def request_load(
    base_url: str,
    calls: Sequence[Call],
    *,
    concurrency: int,
    label: str = "",
    timeout: float = 30.0,
    interval: float | None = None,
) -> tuple[LoadResult, list[Answer]]:
    """Send every call once; return the summary and each answer (in `calls` order).

    Closed loop (`interval=None`): `concurrency` workers on kept-alive connections, each sending its
    next call when the previous answer is read; `concurrency=len(calls)` sends them all at once.
    Open loop (`interval` s): call i is due at start + i × interval and sent then whatever the
    earlier answers (connections up to `concurrency`); latency counts from when it was due, so a
    server that falls behind is not hidden by a client that waits (no coordinated omission).
    A success is the call's `expect` status; all calls must expect the same status.
    """
    import aiohttp

    if urlsplit(base_url).hostname != LOCALHOST:
        raise ValueError(f"the load client only talks to {LOCALHOST}, not {base_url!r}")
    expected = {c.expect for c in calls}
    if len(expected) > 1:
        raise ValueError("all calls of one run must expect the same status")
    answers: list[Answer | None] = [None] * len(calls)
    statuses: dict[int, int] = {}
    errors: dict[str, int] = {}
    samples: list[str] = []
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    client_timeout = aiohttp.ClientTimeout(total=timeout)

    async def one(session: aiohttp.ClientSession, i: int, due: float) -> None:
        call = calls[i]
        sent = time.time()
        try:
            async with session.request(call.method, base_url + call.path, headers=call.headers, json=call.json) as resp:
                body = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            answers[i] = Answer(i, due, sent, float("nan"), 0, b"")
            return
        answers[i] = Answer(i, due, sent, time.time() - due, status, body)
        statuses[status] = statuses.get(status, 0) + 1
        if status != call.expect and len(samples) < 3:
            samples.append(f"{status} {body[:600].decode(errors='replace')}")

    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:
        cpu0 = time.process_time()
        started = time.time()
        if interval is None:
            queue = iter(range(len(calls)))

            async def worker() -> None:
                for i in queue:
                    await one(session, i, time.time())

            await asyncio.gather(*(worker() for _ in range(min(concurrency, len(calls)))))
        else:
            tasks = []
            for i in range(len(calls)):
                due = started + i * interval
                delay = due - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(session, i, due)))
            await asyncio.gather(*tasks)
        elapsed = time.time() - started
        cpu = time.process_time() - cpu0
    done = [a for a in answers if a is not None]
    expect = expected.pop() if expected else 200
    latencies = sorted(a.latency for a in done if a.status == expect)
    result = LoadResult(label, concurrency, elapsed, latencies, statuses, errors, cpu, samples, expect)
    return result, done


# -- the bare aiohttp baseline --------------------------------------------------------------------

# About the size and shape of the gateway's /health answer for one service.
BARE_BODY = {
    "ok": True,
    "gateway": {"nats": True},
    "services": {
        "bare": {
            "ok": True,
            "error": None,
            "instance": "bench:00000000",
            "checks": {"database": {"ok": True, "detail": "outbox backlog 0", "latency_ms": 0.5}},
        }
    },
}


ECHO_SUBJECT = "bench.echo"


def bare_app(nats_url: str | None = None) -> Any:
    """An aiohttp app without middleware: `GET /health` answers a fixed JSON body, nothing behind it.

    With `nats_url`, `GET /rpc` also answers that body, after one plain NATS request/reply to the
    echo process (`ECHO_SUBJECT`): one service hop, without the kit's rpc layer or any check.
    """
    from aiohttp import web

    body = json.dumps(BARE_BODY).encode()
    app = web.Application()

    async def health(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app.router.add_get("/health", health)

    async def echo(request: web.Request) -> web.Response:  # a POST: read and decode the JSON body first
        json.loads(await request.read() or b"null")
        return web.Response(body=body, content_type="application/json")

    sized: dict[int, bytes] = {}

    async def body_of_size(request: web.Request) -> web.Response:  # a JSON body of about `size` bytes
        size = min(int(request.match_info["size"]), 10 * 1024 * 1024)
        if size not in sized:
            sized[size] = json.dumps({"items": ["x" * 64] * max(0, (size - 14) // 67), "pad": ""}).encode()
        return web.Response(body=sized[size], content_type="application/json")

    app.router.add_post("/echo", echo)
    app.router.add_get(r"/body/{size:\d+}", body_of_size)
    if nats_url:
        import nats

        async def connection(app: web.Application) -> AsyncIterator[None]:
            app["nc"] = await nats.connect(nats_url, name="bench-bare")
            yield
            await app["nc"].close()

        async def rpc(request: web.Request) -> web.Response:
            reply = await request.app["nc"].request(ECHO_SUBJECT, b"{}", timeout=5)
            return web.Response(body=reply.data, content_type="application/json")

        app.cleanup_ctx.append(connection)
        app.router.add_get("/rpc", rpc)
    return app


def _serve_bare(port: int, nats_url: str | None) -> None:
    from aiohttp import web

    web.run_app(bare_app(nats_url), host=LOCALHOST, port=port, access_log=None, print=None)


def _serve_echo(nats_url: str) -> None:
    """Answer every request on ECHO_SUBJECT with the bare body, until SIGTERM."""
    import nats

    body = json.dumps(BARE_BODY).encode()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        nc = await nats.connect(nats_url, name="bench-echo")

        async def answer(msg: Any) -> None:
            await msg.respond(body)

        await nc.subscribe(ECHO_SUBJECT, queue="echo", cb=answer)
        await stop.wait()
        await nc.drain()

    asyncio.run(main())


def bare_server(logs: Path, nats_url: str | None = None) -> tuple[Process, int]:
    """The bare aiohttp baseline as a process of its own; with `nats_url`, also `/rpc` (see bare_app)."""
    port = free_port()
    argv = [sys.executable, str(Path(__file__).resolve()), "bare", "--port", str(port)]
    if nats_url:
        argv += ["--nats", nats_url]
    return Process("bare aiohttp", argv, logs / "bare.log"), port


def echo_server(logs: Path, nats_url: str) -> Process:
    argv = [sys.executable, str(Path(__file__).resolve()), "echo", "--nats", nats_url]
    return Process("nats echo", argv, logs / "echo.log")


# -- profiling -------------------------------------------------------------------------------------


def py_spy() -> str | None:
    """The py-spy binary next to the interpreter or on PATH (`pip install py-spy`; not a project dependency)."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.is_file() else shutil.which("py-spy")


def start_py_spy(pid: int, out: Path, duration: float, rate: int = 200) -> subprocess.Popen[bytes]:
    """Sample process `pid` for `duration` s into `out` (collapsed stacks, one "frames count" per line)."""
    binary = py_spy()
    if binary is None:
        raise BrokenRun("--profile needs py-spy: .venv/bin/pip install py-spy")
    argv = [
        binary,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(int(duration)),
        "--rate",
        str(rate),
        "--format",
        "raw",
        "--output",
        str(out),
        "--nonblocking",
    ]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def summarize_collapsed(path: Path, top: int = 15) -> tuple[int, list[tuple[str, int]], list[tuple[str, int]]]:
    """(samples, top functions by own samples, top functions by inclusive samples) of a py-spy raw file."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_short_frame(f) for f in stack.split(";")]
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
    by_own = sorted(own.items(), key=lambda kv: -kv[1])[:top]
    by_inclusive = sorted(inclusive.items(), key=lambda kv: -kv[1])[: top * 3]
    return total, by_own, by_inclusive


def _short_frame(frame: str) -> str:
    """'fn (/long/path/site-packages/pkg/mod.py:12)' → 'fn (pkg/mod.py:12)'."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "lib/python3.11/", str(ROOT) + "/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where})" if where else name


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    bare = sub.add_parser("bare", help="serve the bare aiohttp JSON endpoint on 127.0.0.1")
    bare.add_argument("--port", type=int, required=True)
    bare.add_argument("--nats", help="also serve /rpc: one NATS request to the echo process")
    echo = sub.add_parser("echo", help=f"answer NATS requests on {ECHO_SUBJECT}")
    echo.add_argument("--nats", required=True)
    args = parser.parse_args()
    if args.command == "bare":
        _serve_bare(args.port, args.nats)
    else:
        _serve_echo(args.nats)


async def wait_healthy(url: str, processes: Sequence[Process], timeout: float = 60.0) -> None:
    """Poll `url` (127.0.0.1) until it answers 200; a process that exits breaks the run."""
    import aiohttp

    deadline = time.monotonic() + timeout
    last = "no answer"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        while time.monotonic() < deadline:
            for process in processes:
                process.check()
            try:
                async with session.get(url) as response:
                    body = await response.text()
                    if response.status == 200:
                        return
                    last = f"{response.status} {body[:400]}"
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                last = repr(exc)
            await asyncio.sleep(0.3)
    raise BrokenRun(f"{url} not healthy within {timeout:.0f} s: {last}")
