"""The harness of the benchmarks in `bench/`, each helper listed in bench/README.md ("The harness").

Every bounded request loop here talks to 127.0.0.1 only; a broken run exits non-zero, a missed
target does not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import email.policy
import importlib.metadata
import json
import logging
import math
import os
import platform as _platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/x.py` from anywhere
    sys.path.insert(0, str(ROOT))

from ecandidat.devstack._process import spawn, tail, terminate  # noqa: E402
from ecandidat.runtime import aio  # noqa: E402
from ecandidat.runtime.settings import KitSettings  # noqa: E402
from ecandidat.devstack.infra import drop_database, ensure_database, free_port, NatsServer, PostgresServer  # noqa: E402
from ecandidat.devstack.infra import reachable, S3Server, SmtpSink, wait_port  # noqa: E402
from ecandidat.devstack.nats import nats_server_binary  # noqa: E402

LOCALHOST = "127.0.0.1"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
RESULTS = ROOT / "bench" / "results"  # git-ignored: logs and raw JSON of each run

log = logging.getLogger("bench")


class BrokenRun(RuntimeError):
    """The run did not measure what it claims (lost events, HTTP errors, a server died)."""


class Arguments(argparse.ArgumentParser):
    """A bench's options: `--quick`, its smoke run (`quick` says what it is), and the options whose
    default depends on it, `sized={"rounds": (3, 2)}` (full, quick), applied when not given."""

    def __init__(self, description: str, quick: str, **sized: tuple[Any, Any]) -> None:
        super().__init__(description=description.strip().split("\n\n")[0])
        self.add_argument("--quick", action="store_true", help=quick)
        self.sized = sized

    def parse_args(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        parsed = super().parse_args(*args, **kwargs)
        for name, (full, quick) in self.sized.items():
            if getattr(parsed, name) is None:
                setattr(parsed, name, quick if parsed.quick else full)
        return parsed


def run_main(main: Any) -> None:
    """Run `main()` (a coroutine function); exit 1 on a broken run (or when it returns problems: a
    list of sentences), 2 on any other error."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if problems := asyncio.run(main()):
            raise BrokenRun("; ".join(problems))
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


def _output(*argv: str) -> str:
    """What `argv` printed, "-" when it could not run."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "-"


def _git_commit() -> str:
    git = ("git", "-C", str(ROOT))
    dirty = _output(
        *git, "status", "--porcelain", "--untracked-files=no", "--", "ecandidat", "services", "gateway", "web"
    )
    return _output(*git, "rev-parse", "--short", "HEAD") + (" (+local changes)" if dirty not in ("", "-") else "")


def conditions(**extra: Any) -> dict[str, Any]:
    """What a reader needs to judge the figures. Call it before starting any server."""
    load1, load5, load15 = os.getloadavg()
    info: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "host": _platform.node(),
        "cpus": os.cpu_count(),
        "loadavg at start": f"{load1:.2f} {load5:.2f} {load15:.2f}",
        "python": _platform.python_version(),
        "kernel": _platform.release(),
        "git": _git_commit(),
        "nats-server": _output(str(nats_server_binary()), "--version").removeprefix("nats-server: "),
        "nats-py": _version("nats-py"),
        "aiohttp": _version("aiohttp"),
        "asyncpg": _version("asyncpg"),
        "pydantic": _version("pydantic"),
        "event loop": (
            f"{KitSettings().event_loop} in the platform's processes and the bare baselines (EVENT_LOOP; "
            f"uvloop {_version('uvloop')}), asyncio in the bench's own process (load client, in-process parts)"
        ),
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


def pct_row(label: str, n: Any, values: Sequence[float]) -> list[Any]:
    """A table row: label, count, p50, p90, p99 and max of `values`."""
    ordered = sorted(values)
    return [label, n, *(percentile(ordered, q) for q in (50, 90, 99, 100))]


def percentiles_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50_ms, p90_ms, p99_ms and max_ms of latencies given in seconds."""
    ordered = sorted(seconds)
    return {f"p{q}_ms" if q < 100 else "max_ms": percentile(ordered, q) * 1000 for q in (50, 90, 99, 100)}


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def save_results(name: str, data: dict[str, Any]) -> Path:
    """bench/results/<name>-<time>.json (git-ignored), its path printed."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(data, indent=2, default=str))
    print(f"raw results: {path.relative_to(ROOT)}")
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
    machine_busy_s: float = 0.0  # CPU seconds of all cores busy, whichever process
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
        self.machine_busy_s = (busy - self._m0[0]) / os.sysconf("SC_CLK_TCK")


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


@contextlib.asynccontextmanager
async def database(folder: Path) -> AsyncIterator[Database]:
    """A database of the bench's own, dropped at the end.

    On the machine's PostgreSQL at 127.0.0.1:5432 when it answers (a fresh database, never one of a
    running platform), else on a private durable cluster started in `folder`.
    """
    import asyncpg

    name = f"ecandidat_bench_{uuid.uuid4().hex[:10]}"
    with contextlib.ExitStack() as private:
        if reachable("127.0.0.1", 5432):
            admin, where = PG_ADMIN, "machine's PostgreSQL 127.0.0.1:5432"
        else:
            server = private.enter_context(PostgresServer(folder / "pg"))
            admin, where = server.url, f"private cluster {server.host}:{server.port}"
        url = await ensure_database(admin, name)
        try:
            conn = await asyncpg.connect(url)
            shown = ("server_version", "fsync", "synchronous_commit", "max_connections")
            settings = {setting: await conn.fetchval(f"SHOW {setting}") for setting in shown}
            await conn.close()
            yield Database(url, f"{where}, database {name}", settings)
        finally:
            await drop_database(admin, name)


class Process:
    """A child process (its own session, stdout+stderr to `log_file`), terminated at exit."""

    def __init__(self, name: str, argv: Sequence[str], log_file: Path, env: dict[str, str] | None = None) -> None:
        self.name, self.argv, self.log_file, self.env = name, list(argv), log_file, env
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


def proc_cpu_seconds(pid: int | str) -> float:
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
    size: float = 0.0  # mean body bytes of the successes

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
        names = ("label", "concurrency", "ok", "failed", "statuses", "errors", "failure_samples")
        times = {f"p{q}_ms": round(self.ms(q), 3) for q in (50, 90, 95, 99)} | {"max_ms": round(self.ms(100), 3)}
        rounded = {
            "elapsed_s": round(self.elapsed, 3),
            "rps": round(self.rps, 1),
            "client_cpu_s": round(self.client_cpu_s, 3),
        }
        return {name: getattr(self, name) for name in names} | rounded | times


def _local(*urls: str) -> None:
    if any(urlsplit(url).hostname != LOCALHOST for url in urls):
        raise ValueError(f"the load client only talks to {LOCALHOST}, not {urls!r}")


@dataclass(frozen=True)
class Call:
    """One request of `request_load`: `path` on the base URL, a JSON body or none."""

    method: str
    path: str
    headers: dict[str, str] | None = None
    json: Any = None
    expect: int = 200


@dataclass
class Answer:
    """What one request got: wall-clock times (time.time()) so that they compare with other processes' clocks."""

    index: int
    scheduled: float  # when it was due (open loop) or started (closed loop)
    sent: float  # just before the request was written
    latency: float  # seconds from `scheduled` to the end of the body; nan on a client error
    status: int  # 0 on a client error
    body: bytes


async def http_load(
    url: str | Sequence[str],
    *,
    concurrency: int,
    duration: float | None = None,
    count: int | None = None,
    label: str = "",
    timeout: float = 10.0,
    headers: dict[str, str] | Sequence[dict[str, str] | None] | None = None,
    method: str | Sequence[str] = "GET",
    bodies: Sequence[Any] | None = None,
    expect: int = 200,
    think: float = 0.0,
    pause: float = 0.0,
    interval: float | None = None,
    answers: list[Answer] | None = None,
) -> LoadResult:
    """`method url` from `concurrency` workers on kept-alive connections, each sending its next request
    when the previous answer is read, for `duration` s or `count` requests. `url`, `method`,
    `headers` and `bodies` (JSON) may be lists: request k takes their k-th item, round robin.

    `think`: each worker first waits, then waits again after each answer, an exponentially
    distributed time of `think` s on average (a person reading a page; the first wait spreads the
    workers' start); `pause`: a fixed wait after each answer. Open loop (`interval` s, with `count`):
    request k is due at start + k × interval and sent then whatever the earlier answers (connections
    up to `concurrency`), its latency counted from when it was due, so a server that falls behind is
    not hidden by a client that waits (no coordinated omission). A success is an `expect` answer with
    its body read; its latency ends with the body. `answers` receives each request's `Answer`.
    """
    from random import expovariate

    import aiohttp

    urls, methods = ([x] if isinstance(x, str) else list(x) for x in (url, method))
    _local(*urls)
    if (duration is None) == (count is None):
        raise ValueError("give either duration or count")
    rotation = [headers] if headers is None or isinstance(headers, dict) else list(headers)
    perf, latencies, sizes, statuses, errors, samples = time.perf_counter, [], [], {}, {}, []
    left, sent, started, cpu = [math.inf if count is None else count], [0], time.perf_counter(), time.process_time()
    deadline, wall = started + (duration or math.inf), time.time() - started
    session = aiohttp.ClientSession(  # no cookie jar: a request's cookies are its headers
        connector=aiohttp.TCPConnector(limit=concurrency),
        timeout=aiohttp.ClientTimeout(total=timeout),
        cookie_jar=aiohttp.DummyCookieJar(),
    )

    async def wait(seconds: float) -> None:  # never past the deadline
        await asyncio.sleep(max(0.0, min(seconds, deadline - perf())))

    async def one(k: int, due: float) -> None:
        at, body, status, data = perf(), None if bodies is None else bodies[k % len(bodies)], 0, b""
        try:
            target, sent_headers = urls[k % len(urls)], rotation[k % len(rotation)]
            request = session.request(
                methods[k % len(methods)], target, headers=sent_headers, json=body, allow_redirects=False
            )
            async with request as resp:
                status, data = resp.status, await resp.read()
            statuses[status] = statuses.get(status, 0) + 1
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
        if status == expect:
            latencies.append(perf() - due)
            sizes.append(len(data))
        elif status and len(samples) < 3:
            samples.append(f"{status} {data[:600].decode(errors='replace')}")
        if answers is not None:
            answers.append(Answer(k, wall + due, wall + at, perf() - due if status else math.nan, status, data))

    async def worker() -> None:
        if think:
            await wait(expovariate(1 / think))
        while left[0] > 0 and perf() < deadline:
            left[0], sent[0] = left[0] - 1, sent[0] + 1
            await one(sent[0] - 1, perf())
            if think or pause:
                await wait(expovariate(1 / think) if think else pause)

    if interval is None:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    else:
        tasks = []
        for k in range(count or 0):
            await asyncio.sleep(max(0.0, started + k * interval - perf()))
            tasks.append(asyncio.create_task(one(k, started + k * interval)))
        await asyncio.gather(*tasks)
    elapsed = perf() - started
    await session.close()
    cpu = time.process_time() - cpu
    result = LoadResult(label, concurrency, elapsed, sorted(latencies), statuses, errors, cpu, samples, expect)
    result.size = statistics.mean(sizes) if sizes else 0.0
    return result


async def request_load(
    base_url: str,
    calls: Sequence[Call],
    *,
    concurrency: int,
    label: str = "",
    timeout: float = 30.0,
    interval: float | None = None,
) -> tuple[LoadResult, list[Answer]]:
    """`http_load` of every call once (`concurrency=len(calls)` sends them all at once; `interval`:
    the open loop); the summary and each answer, in `calls` order. A success is the call's `expect`
    status; all calls must expect the same status."""
    expected = {c.expect for c in calls}
    if len(expected) > 1:
        raise ValueError("all calls of one run must expect the same status")
    answers: list[Answer] = []
    urls, expect = [base_url + c.path for c in calls] or [base_url], expected.pop() if expected else 200
    kw = dict(count=len(calls), concurrency=concurrency, label=label, timeout=timeout, interval=interval, expect=expect)
    bodies, methods = [c.json for c in calls], [c.method for c in calls] or "GET"
    result = await http_load(
        urls, method=methods, headers=[c.headers for c in calls], bodies=bodies, answers=answers, **kw
    )
    return result, sorted(answers, key=lambda a: a.index)


def levels(text: str) -> list[int]:
    """`--concurrency 1,16` → [1, 16]: the concurrency levels of `alternate`."""
    return [int(c) for c in text.split(",") if c.strip()]


async def alternate(
    targets: dict[str, str],
    args: argparse.Namespace,
    processes: Sequence[Process],
    headers: Sequence[dict[str, str]] | None = None,
    pids: dict[str, dict[str, int]] | None = None,
) -> list[dict[str, Any]]:
    """`http_load` of each target (label → URL) for `args.warmup` s (1 s if absent; not reported),
    then of every target at each of `args.concurrency` for `args.duration` s, `args.rounds` times,
    the order reversed every other round so that a drift of the machine favours none; each of
    `processes` must still run after each load. With `pids` (label → {name: pid}), the CPU those
    processes used (`server_cpu_s`). One row per run: the result's summary, its round."""
    for url in targets.values():
        await http_load(url, concurrency=max(args.concurrency), duration=getattr(args, "warmup", 1.0), headers=headers)
    rows = []
    for concurrency in args.concurrency:
        for rnd in range(1, args.rounds + 1):
            for label, url in list(targets.items())[:: 1 if rnd % 2 else -1]:
                watched = (pids or {}).get(label, {})
                before = {name: proc_cpu_seconds(pid) for name, pid in watched.items()}
                result = await http_load(
                    url, concurrency=concurrency, duration=args.duration, label=label, headers=headers
                )
                cpu = {name: proc_cpu_seconds(pid) - before[name] for name, pid in watched.items()}
                for process in processes:
                    process.check()
                rows.append(result.summary() | {"round": rnd} | ({"server_cpu_s": cpu} if pids else {}))
                print(
                    f"  C={concurrency:<3} round {rnd}: {label:<22} {result.rps:>8,.0f} req/s  "
                    f"p50 {result.ms(50):6.2f} ms  p99 {result.ms(99):7.2f} ms  failed {result.failed}",
                    flush=True,
                )
    return rows


def print_each_run(rows: list[dict[str, Any]]) -> None:
    """The runs of `alternate` one by one, with the CPU per answered request of the bench's client
    and of the processes it watched (`pids`)."""
    each = []
    for r in rows:
        ok = max(1, r["ok"])
        cpu = "  ".join(f"{name} {seconds / ok * 1e6:.0f}" for name, seconds in r.get("server_cpu_s", {}).items())
        keys = ("concurrency", "round", "label", "rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "failed")
        each.append([*(r[k] for k in keys), r["client_cpu_s"] / ok * 1e6, cpu])
    headers = "C|round|target|req/s|p50 ms|p90 ms|p99 ms|max ms|failed|client CPU µs/req|server CPU µs/req"
    print_table("each run", headers.split("|"), each)


def print_rounds_summary(rows: list[dict[str, Any]], baseline: str) -> None:
    """Median over rounds of each target and concurrency; ratios to `baseline`, paired by round."""
    table = []
    keys = ("rps", "p50_ms", "p99_ms")
    for concurrency in dict.fromkeys(r["concurrency"] for r in rows):
        by_round: dict[int, dict[str, dict[str, Any]]] = {}
        for r in rows:
            if r["concurrency"] == concurrency:
                by_round.setdefault(r["round"], {})[r["label"]] = r
        for label in dict.fromkeys(r["label"] for r in rows):
            medians = [median([p[label][k] for p in by_round.values()]) for k in keys]
            paired = [median([ratio(p[label][k], p[baseline][k]) for p in by_round.values()]) for k in keys]
            table.append([concurrency, label, *medians, *([None] * 3 if label == baseline else paired)])
    print_table(
        f"summary (median over rounds; ratios target / {baseline}, paired by round)",
        ["C", "target", "req/s", "p50 ms", "p99 ms", "req/s ratio", "p50 ratio", "p99 ratio"],
        table,
    )


def raise_failed(rows: list[dict[str, Any]]) -> None:
    """A broken run when any of `alternate`'s runs failed a request or had no success."""
    failed = [
        f"{r['label']} C={r['concurrency']} round {r['round']}: {r['statuses']} {r['errors']} {r['failure_samples'][:1]}"
        for r in rows
        if r["failed"] or not r["ok"]
    ]
    if failed:
        raise BrokenRun("; ".join(failed))


# -- the bare aiohttp baseline --------------------------------------------------------------------

# About the size and shape of the gateway's /health answer for one service.
_CHECKS = {"database": {"ok": True, "detail": "outbox backlog 0", "latency_ms": 0.5}}
_BARE = {"ok": True, "error": None, "instance": "bench:00000000", "checks": _CHECKS}
BARE_BODY = json.dumps({"ok": True, "gateway": {"nats": True}, "services": {"bare": _BARE}}).encode()
ECHO_SUBJECT = "bench.echo"


def bare_app(nats_url: str | None = None) -> Any:
    """An aiohttp app without middleware: `GET /health` answers a fixed JSON body, nothing behind it;
    `POST /echo` the same after decoding the JSON body; `GET /body/<size>` a JSON body of about `size`
    bytes. With `nats_url`, `GET /rpc` answers the fixed body after one plain NATS request/reply to
    the echo process (`ECHO_SUBJECT`): one service hop, without the kit's rpc layer or any check;
    503 while the echo process is not subscribed yet.
    """
    import nats
    from aiohttp import web

    sized: dict[int, bytes] = {}

    def answer(data: bytes = BARE_BODY, status: int = 200) -> web.Response:
        return web.Response(body=data, status=status, content_type="application/json")

    async def echo(request: web.Request) -> web.Response:
        json.loads(await request.read() or b"null")
        return answer()

    async def body_of_size(request: web.Request) -> web.Response:
        size = min(int(request.match_info["size"]), 10 * 1024 * 1024)
        if size not in sized:
            sized[size] = json.dumps({"items": ["x" * 64] * max(0, (size - 14) // 67), "pad": ""}).encode()
        return answer(sized[size])

    async def connection(app: web.Application) -> AsyncIterator[None]:
        app["nc"] = await nats.connect(nats_url, name="bench-bare")
        yield
        await app["nc"].close()

    async def rpc(request: web.Request) -> web.Response:
        try:
            return answer((await request.app["nc"].request(ECHO_SUBJECT, b"{}", timeout=5)).data)
        except nats.errors.NoRespondersError:
            return answer(b'{"error": "no echo process subscribed"}', 503)

    async def health(_: web.Request) -> web.Response:
        return answer()

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_post("/echo", echo)
    app.router.add_get(r"/body/{size:\d+}", body_of_size)
    if nats_url:
        app.cleanup_ctx.append(connection)
        app.router.add_get("/rpc", rpc)
    return app


def _serve_bare(port: int, nats_url: str | None) -> None:
    from aiohttp import web

    loop = aio.new_event_loop(KitSettings().event_loop)  # the platform's loop: the ratios compare like with like
    web.run_app(bare_app(nats_url), host=LOCALHOST, port=port, access_log=None, print=None, loop=loop)


def _serve_echo(nats_url: str) -> None:
    """Answer every request on ECHO_SUBJECT with the bare body, until SIGTERM."""
    import nats

    async def main() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        nc = await nats.connect(nats_url, name="bench-echo")

        async def respond(msg: Any) -> None:
            await msg.respond(BARE_BODY)

        await nc.subscribe(ECHO_SUBJECT, queue="echo", cb=respond)
        await stop.wait()
        await nc.drain()

    aio.run(main(), KitSettings().event_loop)


def bare_server(logs: Path, nats_url: str | None = None) -> tuple[Process, int]:
    """The bare aiohttp baseline as a process of its own; with `nats_url`, also `/rpc` (see bare_app)."""
    port = free_port()
    argv = [sys.executable, str(Path(__file__).resolve()), "bare", "--port", str(port)]
    return Process("bare aiohttp", argv + (["--nats", nats_url] if nats_url else []), logs / "bare.log"), port


def echo_server(logs: Path, nats_url: str) -> Process:
    argv = [sys.executable, str(Path(__file__).resolve()), "echo", "--nats", nats_url]
    return Process("nats echo", argv, logs / "echo.log")


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


# -- the platform: services and gateway as processes, SMTP sink, S3, demo offer ----------------------

API = "/api/v1"
PASSWORD = "cheval agrafe pile correcte"
STAFF_PASSWORD = "une phrase de passe pour la gestion du banc"
ALL_SERVICES = ("accounts", "mailer", "dossiers", "candidatures", "documents")
NOMS = (
    "Martin Bernard Thomas Petit Robert Richard Durand Dubois Moreau Laurent Simon Michel Lefèvre Leroy Roux "
    "David Bertrand Morel Fournier Girard Bonnet Dupont Lambert Fontaine Rousseau Vincent Müller Lefebvre Faure "
    "André Mercier Blanc Guérin Boyer Garnier Chevalier François Legrand Gauthier García Perrin Robin Clément "
    "Morin Nicolas Henry Roussel Mathieu Gautier Masson Marchand Duval Denis Dumont Marie Lemaire Noël Meyer "
    "Dufour Meunier"
).split()
PRENOMS = (
    "Camille Léa Manon Chloé Inès Jade Louise Zoé Lina Emma Hugo Lucas Louis Nathan Gabriel Jules Adam Raphaël "
    "Arthur Théo Élise Noé Maël Anaïs Océane Yanis Sarah Mathis Clément Héloïse"
).split()


class Mailbox:
    """What the SMTP sink accepted, with the wall-clock time (time.time()) of each acceptance.

    The sink calls `on_message` in its own thread once the message is stored; waiters in the event
    loop are woken through `call_soon_threadsafe`.
    """

    def __init__(self, sink: SmtpSink | None, loop: asyncio.AbstractEventLoop) -> None:
        self._lock, self._loop, self._changed, self.sink_thread = threading.Lock(), loop, asyncio.Event(), 0
        self.items: list[tuple[float, EmailMessage]] = []
        if sink is not None:
            sink.on_message = self._on_message

    def sink_cpu(self) -> float:
        """CPU seconds used so far by the SMTP sink's thread (part of this process's CPU)."""
        return proc_cpu_seconds(f"self/task/{self.sink_thread}") if self.sink_thread else 0.0

    def _on_message(self, message: EmailMessage) -> None:
        at = time.time()
        self.sink_thread = threading.get_native_id()
        with self._lock:
            self.items.append((at, message))
        self._loop.call_soon_threadsafe(self._changed.set)

    def matching(self, predicate: Callable[[float, EmailMessage], bool]) -> list[tuple[float, EmailMessage]]:
        with self._lock:
            found = list(self.items)
        return [(t, m) for t, m in found if predicate(t, m)]

    async def refresh(self) -> None:
        """Take in what was stored since the last look, outside the event loop where that is slow."""

    async def wait(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        """Wait until `check()` is truthy (re-checked at each new mail, at least every 0.2 s)."""
        deadline = time.monotonic() + timeout
        while True:
            self._changed.clear()
            await self.refresh()
            result = check()
            if result:
                return result
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrokenRun(f"mails: {what} not there after {timeout:.0f} s")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.2))


class MaildirMailbox(Mailbox):
    """What an SMTP sink of its own process stored in `maildir`, read when asked; the time of each is
    when the sink stored it (the file name's seconds and microseconds), not when it was read."""

    KEY = re.compile(r"^(\d+)\.M(\d+)P")  # mailbox.Maildir's "<seconds>.M<microseconds>P<pid>Q<n>.<host>"

    def __init__(self, maildir: Path, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(None, loop)
        self.maildir, self._seen, self._scanning = maildir, set[str](), threading.Lock()

    def _scan(self) -> None:
        with self._scanning:
            found = []
            for path in [*(self.maildir / "new").iterdir(), *(self.maildir / "cur").iterdir()]:
                key = self.KEY.match(path.name)
                if key and path.name not in self._seen:
                    self._seen.add(path.name)
                    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                    found.append((int(key[1]) + int(key[2]) / 1e6, message))
            with self._lock:
                self.items += sorted(found, key=lambda item: item[0])

    async def refresh(self) -> None:
        # Parsing a thousand stored mails takes a second: in the loop, it would hold back what the
        # bench times meanwhile (its NATS watcher's events).
        await asyncio.to_thread(self._scan)

    def matching(self, predicate: Callable[[float, EmailMessage], bool]) -> list[tuple[float, EmailMessage]]:
        self._scan()
        return super().matching(predicate)


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


@dataclass
class Stack:
    """A running platform: the gateway's base URL, the processes, the servers behind them."""

    base: str
    env: dict[str, str]
    processes: dict[str, Process]
    db: Database
    nats_url: str
    logs: Path
    nats_pid: int = 0
    s3_pid: int = 0  # the S3 server (moto), when the platform has one
    mailbox: Mailbox | None = None
    web_url: str = ""  # the web process, without the gateway in front (platform(web=True))
    _pg: Any = None  # a connection of the bench's, to find this database's backends

    def check(self) -> None:
        for process in self.processes.values():
            process.check()

    def pid(self, name: str) -> int:
        return self.processes[name].pid

    async def cpu(self) -> dict[str, Any]:
        """CPU seconds so far: each process, nats-server, this database's PostgreSQL backends (by pid),
        this bench process (load client, SMTP sink). Subtract two snapshots with `cpu_delta`."""
        import asyncpg

        if self._pg is None:
            self._pg = await asyncpg.connect(self.db.url)
        pids = await self._pg.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        snapshot: dict[str, Any] = {name: proc_cpu_seconds(p.pid) for name, p in self.processes.items()}
        snapshot["nats-server"] = proc_cpu_seconds(self.nats_pid)
        snapshot["postgres"] = {r["pid"]: proc_cpu_seconds(r["pid"]) for r in pids}
        snapshot["bench"] = time.process_time()
        snapshot.setdefault("smtp sink", self.mailbox.sink_cpu() if self.mailbox is not None else 0.0)
        return snapshot

    def cli(self, *args: str) -> str:
        """`python -m ecandidat.cli ...` against this platform (the operator's commands)."""
        argv = [sys.executable, "-m", "ecandidat.cli", *args]
        result = subprocess.run(argv, env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=180)
        if result.returncode != 0:
            raise BrokenRun(f"ecandidat {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
        return result.stdout


def cpu_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
    """Seconds used between two `Stack.cpu()` snapshots (backends that ended in between are missed)."""
    delta = {k: after[k] - before[k] for k in after if k != "postgres"}
    delta["postgres"] = sum(cpu - before["postgres"].get(pid, 0.0) for pid, cpu in after["postgres"].items())
    return delta


@contextlib.asynccontextmanager
async def platform(
    name: str,
    services: Sequence[str],
    info: dict[str, Any],
    *,
    s3: bool = True,
    smtp: bool | str = True,
    web: bool = False,
    env: dict[str, str] | None = None,
    log_level: str = "INFO",
    gateway: Sequence[str] = ("-m", "gateway"),
) -> AsyncIterator[Stack]:
    """Start `services` (`python -m services.<name>`), the gateway (`python <gateway…>`) and with
    `web` the web process, each a process of its own, against a nats-server, a database, an S3
    server (moto) and an SMTP sink (a thread of this process; `smtp="process"`: its own process,
    `python -m ecandidat.devstack.smtpsink`) of the bench's own; seed the demo offer when the
    candidatures service runs; stop everything at the end."""
    logs = logs_dir(name)
    info["logs"] = str(logs.relative_to(ROOT))
    with workdir(name) as folder, nats_server(folder, logs) as ns, contextlib.ExitStack() as servers:
        s3_server = servers.enter_context(S3Server(data_dir=folder / "s3", log_file=logs / "moto.log")) if s3 else None
        sink = servers.enter_context(SmtpSink(maildir=folder / "maildir")) if smtp is True else None
        async with database(folder) as db:
            info["database"] = db.where
            info["postgresql"] = ", ".join(f"{k}={v}" for k, v in db.settings.items())
            port, web_port, sink_port = free_port(), free_port(), sink.port if sink else free_port()
            base = f"http://{LOCALHOST}:{port}"
            process_env = dict(os.environ, DATABASE_URL=db.url, NATS_URL=ns.url, LOG_FORMAT="json", LOG_LEVEL=log_level)
            process_env.update(GATEWAY_HOST=LOCALHOST, GATEWAY_PORT=str(port), GATEWAY_SERVICES=",".join(services))
            process_env.update(PUBLIC_BASE_URL=base, PYTHONUNBUFFERED="1", ACCOUNTS_CREATIONS_PER_HOUR_CLIENT="1000000")
            # ACCOUNTS_CREATIONS_PER_HOUR_CLIENT: every candidate is created from this machine; development:
            # the bench's own open nats-server and the development LINK_SEALING_KEY
            process_env["ECANDIDAT_ENV"] = "development"
            if smtp:
                process_env.update(SMTP_HOST=LOCALHOST, SMTP_PORT=str(sink_port), SMTP_SECURITY="none")
            if s3_server is not None:
                keys = {"S3_ACCESS_KEY": s3_server.access_key, "S3_SECRET_KEY": s3_server.secret_key}
                process_env.update(keys, S3_ENDPOINT=s3_server.endpoint, S3_BUCKET="bench-pieces")
            if web:
                process_env["WEB_URL"] = f"http://{LOCALHOST}:{web_port}"
            process_env.update(env or {})
            processes = {
                s: Process(s, [sys.executable, "-m", f"services.{s}"], logs / f"{s}.log", process_env) for s in services
            }
            if smtp == "process":
                argv = [sys.executable, "-m", "ecandidat.devstack.smtpsink", "--port", str(sink_port), "--maildir"]
                processes["smtp sink"] = Process("smtp sink", [*argv, str(folder / "maildir")], logs / "smtpsink.log")
            processes["gateway"] = Process("gateway", [sys.executable, *gateway], logs / "gateway.log", process_env)
            if web:
                web_env = dict(process_env, WEB_HOST=LOCALHOST, WEB_PORT=str(web_port), WEB_API_URL=base)
                processes["web"] = Process("web", [sys.executable, "-m", "web"], logs / "web.log", web_env)
            with contextlib.ExitStack() as running:
                for process in processes.values():
                    running.enter_context(process)
                wait_listening(port, processes["gateway"], timeout=90)
                await wait_healthy(base + "/health", list(processes.values()), timeout=90.0)
                if web:
                    wait_listening(web_port, processes["web"], timeout=90)
                stack = Stack(base, process_env, processes, db, ns.url, logs, ns.process.pid)
                stack.web_url = f"http://{LOCALHOST}:{web_port}" if web else ""
                if s3_server is not None and s3_server.process is not None:
                    stack.s3_pid = s3_server.process.pid
                if smtp == "process":
                    wait_listening(sink_port, processes["smtp sink"])
                    stack.mailbox = MaildirMailbox(folder / "maildir", asyncio.get_running_loop())
                elif sink is not None:
                    stack.mailbox = Mailbox(sink, asyncio.get_running_loop())
                if "candidatures" in services:
                    stack.cli("seed-demo")
                info["processes"] = (
                    ", ".join(f"`python -m services.{s}`" for s in services)
                    + f", `python {' '.join(gateway)}`{', `python -m web`' if web else ''}: one process each, "
                    f"LOG_LEVEL={log_level} (json logs to files); load client{' and SMTP sink' if sink else ''}: the bench process"
                )
                try:
                    yield stack
                    stack.check()
                finally:
                    if stack._pg is not None:
                        await stack._pg.close()
                    for process in processes.values():  # SIGTERM to all at once: they stop in parallel
                        if process.popen is not None and process.popen.poll() is None:
                            process.popen.send_signal(signal.SIGTERM)


async def api(
    http: Any,
    stack: Stack,
    method: str,
    path: str,
    *,
    token: str | None = None,
    json_body: Any = None,
    headers: dict[str, str] | None = None,
    data: Any = None,
    expect: Sequence[int] = (200,),
) -> tuple[int, Any]:
    """One set-up request; an unexpected status breaks the run."""
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    async with http.request(method, stack.base + path, json=json_body, headers=sent, data=data) as resp:
        raw = await resp.read()
        status = resp.status
    body = json.loads(raw) if raw and raw[:1] in (b"{", b"[") else raw
    if status not in expect:
        raise BrokenRun(f"{method} {path}: {status} (expected {'/'.join(map(str, expect))}): {raw[:800]!r}")
    return status, body


@dataclass
class Candidate:
    email: str
    numero: str
    token: str
    nom: str
    prenom: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def account_form(email: str, nom: str = "Banc", prenom: str = "Essai", password: str = PASSWORD) -> dict[str, str]:
    return dict(
        nom=nom, prenom=prenom, email=email, email_confirmation=email, password=password, password_confirmation=password
    )


async def create_candidates(stack: Stack, http: Any, count: int, tag: str, parallel: int = 6) -> list[Candidate]:
    """`count` candidates through the public API: account, activation (link from the mail), login, dossier."""
    from tests.unit.dossiers.samples import adresse, baccalaureat, experiences, infos_perso

    assert stack.mailbox is not None
    mailbox = stack.mailbox
    sections = [
        ("informations-personnelles", infos_perso()),
        ("adresse", adresse()),
        ("baccalaureat", baccalaureat()),
        ("experiences-professionnelles", experiences()),  # the demo's VA85 requires it
    ]
    run = uuid.uuid4().hex[:6]
    gate = asyncio.Semaphore(parallel)

    async def one(i: int) -> Candidate:
        async with gate:
            nom, prenom = NOMS[i % len(NOMS)], PRENOMS[(i * 7) % len(PRENOMS)]
            email = f"{tag}.{run}.{i}@example.org"
            form = account_form(email, nom, prenom)
            _, created = await api(http, stack, "POST", f"{API}/accounts", json_body=form, expect=(201,))

            def to_them(_: float, message: EmailMessage) -> bool:
                return str(message["To"]).lower() == email

            mail = await mailbox.wait(lambda: mailbox.matching(to_them), 90, f"activation mail to {email}")
            found = re.search(r"jeton=([A-Za-z0-9_-]+)", text_of(mail[0][1]))
            if not found:
                raise BrokenRun(f"no activation link in the mail to {email}")
            await api(http, stack, "POST", f"{API}/accounts/activation", json_body={"token": found.group(1)})
            login = {"login": created["numero_dossier"], "password": PASSWORD}
            _, session = await api(http, stack, "POST", f"{API}/sessions", json_body=login, expect=(201,))
            for slug, content in sections:
                path = f"{API}/dossier/sections/{slug}"
                await api(
                    http, stack, "PUT", path, token=session["token"], json_body=content, headers={"If-Match": '"0"'}
                )
            return Candidate(email, created["numero_dossier"], session["token"], nom, prenom)

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def staff_session(stack: Stack, http: Any) -> str:
    """The first admin, as an operator creates it: `ecandidat create-admin`, set-up, TOTP, login."""
    import pyotp

    email = f"admin.{uuid.uuid4().hex[:8]}@bench.example"
    out = stack.cli("create-admin", "--email", email)
    found = re.search(r'"token": "([A-Za-z0-9_-]+)"', out)
    if not found:
        raise BrokenRun(f"create-admin printed no set-up token:\n{out[-1000:]}")
    token = found.group(1)
    setup = {"token": token, "password": STAFF_PASSWORD, "password_confirmation": STAFF_PASSWORD}
    _, enrolment = await api(http, stack, "POST", f"{API}/staff/setup", json_body=setup)
    totp = pyotp.TOTP(enrolment["totp_secret"])
    await api(http, stack, "POST", f"{API}/staff/setup/confirmation", json_body={"token": token, "code": totp.now()})
    # A TOTP code is accepted once and the confirmation used the current one: log in with the next
    # one (the service accepts ±1 time step of drift), as an authenticator app shows it 30 s later.
    login = {"email": email, "password": STAFF_PASSWORD, "code": totp.at(time.time() + 30)}
    _, session = await api(http, stack, "POST", f"{API}/staff/sessions", expect=(201,), json_body=login)
    return str(session["token"])


CPU_ORDER = ("gateway", "web", *ALL_SERVICES, "postgres", "nats-server", "bench", "smtp sink")
NOT_PLATFORM = ("bench", "smtp sink")


def print_cpu_table(
    title: str, per: int, windows: list[tuple[str, dict[str, float]]], sink_process: bool = False
) -> None:
    """One row per window: CPU ms per unit of work (`per` units) of each process, and the
    platform's sum: the gateway, web, services, PostgreSQL and nats-server, not the bench's own
    process nor the SMTP sink (a thread counted in bench, or with `sink_process` a process of its own)."""
    names = [n for n in CPU_ORDER if any(n in cpu for _, cpu in windows)]
    rows = [
        [
            label,
            *(cpu.get(n, 0.0) / max(1, per) * 1000 for n in names),
            sum(cpu.get(n, 0.0) for n in names if n not in NOT_PLATFORM) / max(1, per) * 1000,
        ]
        for label, cpu in windows
    ]
    sink = "its own process" if sink_process else "its thread, counted in bench"
    print_table(
        f"{title}; smtp sink: {sink}; platform: the sum without bench and smtp sink",
        ["window", *names, "platform"],
        rows,
    )


# -- samplers: the oldest transaction of the server, peak RSS; profiles ------------------------------------


class Sampler:
    """`await sample()` every `interval` s while the block (`async with`) runs; with `dsn`, on a
    connection of its own (`self.conn`, application_name ecandidat-bench-sampler)."""

    def __init__(self, interval: float, dsn: str | None = None) -> None:
        self.interval, self.dsn, self.conn = interval, dsn, None

    async def sample(self) -> None:
        raise NotImplementedError

    async def _run(self) -> None:
        while True:
            await self.sample()
            await asyncio.sleep(self.interval)

    async def __aenter__(self) -> Any:
        if self.dsn:
            import asyncpg

            self.conn = await asyncpg.connect(self.dsn, server_settings={"application_name": "ecandidat-bench-sampler"})
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *_: Any) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        if self.conn is not None:
            await self.conn.close()


class XminWatch(Sampler):
    """The oldest transaction of the whole PostgreSQL cluster holding a transaction id (the bench's
    own excepted), sampled every `interval` s while the block runs: its age and whose it was (an
    application of `dsn`'s database, or another database). While the relay ordered by the server's
    oldest transaction (`txid < pg_snapshot_xmin`) such a transaction held it back; it is recorded
    to show that it no longer does. On a shared server, others' tests are such transactions."""

    def __init__(self, dsn: str, interval: float = 0.05) -> None:
        super().__init__(interval, dsn)
        self.database = urlsplit(dsn).path.lstrip("/")
        self.samples: list[tuple[float, float, str]] = []  # (time.time(), age s, who)

    async def sample(self) -> None:
        row = await self.conn.fetchrow(
            """SELECT extract(epoch FROM clock_timestamp() - xact_start)::float8 AS age, datname, application_name
               FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()
                 AND application_name NOT LIKE 'ecandidat-bench%' ORDER BY xact_start LIMIT 1"""
        )
        if row is None or row["age"] is None:
            self.samples.append((time.time(), 0.0, "-"))
        else:
            theirs = row["datname"] == self.database
            who = (row["application_name"] or "?") if theirs else f"other database ({row['datname']})"
            self.samples.append((time.time(), row["age"], who))

    def stats(self) -> dict[str, Any]:
        others = [(age, who) for _, age, who in self.samples if who != "-"]
        return {
            "other_xact_max_s": max((age for age, _ in others), default=0.0),
            "other_xact_databases": sorted({who for _, who in others}),
        }

    def rows(self, since: float = 0.0, until: float = math.inf) -> list[list[Any]]:
        """Age percentiles (ms), over every sample then by whose the oldest transaction was."""
        groups: dict[str, list[float]] = {"every sample": []}
        for t, age, who in self.samples:
            if since <= t <= until:
                groups["every sample"].append(age * 1000)
                groups.setdefault(f"  oldest was {who}", []).append(age * 1000)
        if not groups["every sample"]:
            return []
        return [pct_row(k, len(v), v) for k, v in sorted(groups.items(), key=lambda kv: -len(kv[1]))]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class PeakRss(Sampler):
    """The peak RSS (MB) of some processes, sampled every 20 ms while the block runs."""

    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(0.02)
        self.pids, self.peak = pids, {name: 0.0 for name in pids}

    async def sample(self) -> None:
        for name, pid in self.pids.items():
            self.peak[name] = max(self.peak[name], rss_mb(pid))


async def py_spy_during(
    pids: dict[str, int], out: Path, seconds: float, work: Any, rate: int = 200
) -> tuple[dict[str, Path], Any]:
    """Sample `pids` with py-spy (`pip install py-spy`, not a project dependency) into `out` while
    awaiting `work` (a coroutine): the raw files (collapsed stacks) by name, and its result."""
    beside = Path(sys.executable).parent / "py-spy"
    binary = str(beside) if beside.is_file() else shutil.which("py-spy")
    if binary is None:
        raise BrokenRun("--profile needs py-spy: .venv/bin/pip install py-spy")
    outputs = {name: out / f"py-spy-{name}.txt" for name in pids}
    argv = [binary, "record", "--duration", str(int(seconds + 1)), "--rate", str(rate), "--format", "raw"]
    spies = [
        subprocess.Popen(
            [*argv, "--pid", str(pid), "--output", str(outputs[name]), "--nonblocking"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for name, pid in pids.items()
    ]
    await asyncio.sleep(0.5)
    result = await work
    for spy in spies:
        await asyncio.to_thread(spy.wait)
    return {name: path for name, path in outputs.items() if path.exists()}, result


# 'fn (/long/path/site-packages/pkg/mod.py:12)' → 'fn (pkg/mod.py:12)'
_FRAME_PREFIX = re.compile(rf"\((?:.*?site-packages/|.*?lib/python3\.11/|.*?{re.escape(str(ROOT))}/)")


def print_profiles(profiles: dict[str, Path], what: str = "", top: int = 15) -> None:
    """The `top` functions of each py-spy raw file by own samples."""
    for name, path in profiles.items():
        own: dict[str, int] = {}
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                frame = _FRAME_PREFIX.sub("(", stack.split(";")[-1], count=1)
                own[frame] = own.get(frame, 0) + int(count)
        total = sum(own.values())
        print(f"py-spy, {name}{what}: own time, top functions ({total} samples, {path})")
        for frame, count in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
            print(f"  {count / max(1, total) * 100:5.1f}%  {frame}")
        print()


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
