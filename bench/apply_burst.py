"""The campaign-opening burst: N candidates applying at once through the gateway (issue 5).

What is measured: N candidates, each with an activated account, a session and a dossier complete
enough to apply, send `POST /api/v1/candidatures` at the same instant (one connection each,
N requests released together). Each apply goes gateway (its own process) → session resolved by the
accounts service (rpc) → candidatures service (rpc `apply`): offer checks, dossier completeness asked
of the dossiers service (rpc), then one transaction (advisory lock per candidate, insert, history,
piece list, outbox event) → 201. Reported per burst: candidatures per second (N / time from
release to the last answer), p50/p99/max latency, and, after the answers, when the N confirmation
mails ("Votre candidature à la formation …") were all accepted by the SMTP sink: the asynchronous
tail (outbox relay → JetStream → mailer → SMTP; the documents service opens the piece slots from
the same event). CPU seconds used by each process from the release to the last mail, per
candidature, show where the work goes.

Baseline, same run, same load client (`bench/_common.py` `request_load`), same concurrency N:
the bare aiohttp process (`bench/_common.py bare`) answering `POST /echo` (the same JSON body and
Authorization header; it decodes the body and answers a fixed JSON). Rounds alternate which goes
first; each round applies to another formation of the demo offer, so every round is a first
application for every candidate. After the rounds, every candidate's list (`GET
/api/v1/candidatures`) must hold exactly one candidature per burst's formation and nothing else.

Set-up (not timed), all through the public API as a candidate would: account creation (argon2id),
activation with the link read from the SMTP sink, login (argon2id again), three dossier sections
(informations personnelles, adresse, baccalauréat). The demo offer comes from the operator CLI
(`ecandidat seed-demo`). Every service runs as its own process (`python -m services.<name>`,
`python -m gateway`, LOG_LEVEL=INFO, json logs in bench/results/apply_burst-<time>/) against a
nats-server, a database, an S3 server (moto) and an SMTP sink (in this process) of the bench's own.

This module also holds the platform helpers that `refusal_latency.py` and `staff_list.py` import
(`platform`, `Mailbox`, `create_candidates`, `staff_session`, `api`).

    .venv/bin/python bench/apply_burst.py --quick      # 50 candidates, 2 rounds, < 2 min
    .venv/bin/python bench/apply_burst.py              # 200 candidates, 3 rounds
    .venv/bin/python bench/apply_burst.py --profile    # + py-spy on every service during one more burst

Exit status 1 when the run is broken (an apply that did not answer 201, a candidate whose list is
not exactly one candidature per burst, a confirmation mail missing, a process that died); a slow
result is not a failure. Every request goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    wait_healthy,
    ROOT,
    BrokenRun,
    Call,
    Database,
    LoadResult,
    Process,
    bare_server,
    conditions,
    database,
    free_port,
    logs_dir,
    median,
    nats_server,
    print_conditions,
    print_table,
    proc_cpu_seconds,
    ratio,
    request_load,
    run_main,
    save_results,
    start_py_spy,
    summarize_collapsed,
    wait_listening,
    workdir,
)
from ecandidat.devstack.infra import S3Server, SmtpSink  # noqa: E402

API = "/api/v1"
PASSWORD = "cheval agrafe pile correcte"
STAFF_PASSWORD = "une phrase de passe pour la gestion du banc"
ALL_SERVICES = ("accounts", "mailer", "dossiers", "candidatures", "documents")

# The demo offer's formations (services/candidatures/seed.py); one per burst, the last for the warm-up.
FORMATIONS = ["DU-MUSICO", "M1-BIOVIE", "DU-LSF", "DU-ERGO", "DU-ACCOMP", "VA85-LIC", "REPRISE-L1", "DAEU-A", "DAEU-B"]
WARMUP_FORMATION = "DAEU-B"

NOMS = [
    "Martin",
    "Bernard",
    "Thomas",
    "Petit",
    "Robert",
    "Richard",
    "Durand",
    "Dubois",
    "Moreau",
    "Laurent",
    "Simon",
    "Michel",
    "Lefèvre",
    "Leroy",
    "Roux",
    "David",
    "Bertrand",
    "Morel",
    "Fournier",
    "Girard",
    "Bonnet",
    "Dupont",
    "Lambert",
    "Fontaine",
    "Rousseau",
    "Vincent",
    "Müller",
    "Lefebvre",
    "Faure",
    "André",
    "Mercier",
    "Blanc",
    "Guérin",
    "Boyer",
    "Garnier",
    "Chevalier",
    "François",
    "Legrand",
    "Gauthier",
    "García",
    "Perrin",
    "Robin",
    "Clément",
    "Morin",
    "Nicolas",
    "Henry",
    "Roussel",
    "Mathieu",
    "Gautier",
    "Masson",
    "Marchand",
    "Duval",
    "Denis",
    "Dumont",
    "Marie",
    "Lemaire",
    "Noël",
    "Meyer",
    "Dufour",
    "Meunier",
]
PRENOMS = [
    "Camille",
    "Léa",
    "Manon",
    "Chloé",
    "Inès",
    "Jade",
    "Louise",
    "Zoé",
    "Lina",
    "Emma",
    "Hugo",
    "Lucas",
    "Louis",
    "Nathan",
    "Gabriel",
    "Jules",
    "Adam",
    "Raphaël",
    "Arthur",
    "Théo",
    "Élise",
    "Noé",
    "Maël",
    "Anaïs",
    "Océane",
    "Yanis",
    "Sarah",
    "Mathis",
    "Clément",
    "Héloïse",
]


# -- the platform, shared with refusal_latency.py and staff_list.py --------------------------------


class Mailbox:
    """What the SMTP sink accepted, with the wall-clock time (time.time()) of each acceptance.

    The sink calls `on_message` in its own thread once the message is stored; waiters in the event
    loop are woken through `call_soon_threadsafe`.
    """

    def __init__(self, sink: SmtpSink, loop: asyncio.AbstractEventLoop) -> None:
        self._lock = threading.Lock()
        self._loop = loop
        self._changed = asyncio.Event()
        self.items: list[tuple[float, EmailMessage]] = []
        self.by_recipient: dict[str, list[tuple[float, EmailMessage]]] = {}
        self.sink_thread = 0
        sink.on_message = self._on_message

    def sink_cpu(self) -> float:
        """CPU seconds used so far by the SMTP sink's thread (part of this process's CPU)."""
        if not self.sink_thread:
            return 0.0
        try:
            fields = Path(f"/proc/self/task/{self.sink_thread}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return 0.0

    def _on_message(self, message: EmailMessage) -> None:
        at = time.time()
        self.sink_thread = threading.get_native_id()
        with self._lock:
            self.items.append((at, message))
            self.by_recipient.setdefault(str(message["To"]).lower(), []).append((at, message))
        self._loop.call_soon_threadsafe(self._changed.set)

    def of(self, recipient: str, template: str | None = None) -> list[tuple[float, EmailMessage]]:
        with self._lock:
            found = list(self.by_recipient.get(recipient.lower(), []))
        return [(t, m) for t, m in found if template is None or m["X-Ecandidat-Template"] == template]

    def matching(self, predicate: Callable[[float, EmailMessage], bool]) -> list[tuple[float, EmailMessage]]:
        with self._lock:
            found = list(self.items)
        return [(t, m) for t, m in found if predicate(t, m)]

    async def wait(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        """Wait until `check()` is truthy (re-checked at each new mail, at least every 0.2 s)."""
        deadline = time.monotonic() + timeout
        while True:
            self._changed.clear()
            result = check()
            if result:
                return result
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrokenRun(f"mails: {what} not there after {timeout:.0f} s")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.2))


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


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
    mailbox: Mailbox | None = None
    info: dict[str, Any] = field(default_factory=dict)
    _pg: Any = None  # a connection of the bench's, to find this database's backends

    def check(self) -> None:
        for process in self.processes.values():
            process.check()

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
        snapshot["smtp sink"] = self.mailbox.sink_cpu() if self.mailbox is not None else 0.0
        return snapshot

    async def close(self) -> None:
        if self._pg is not None:
            await self._pg.close()

    def cli(self, *args: str) -> str:
        """`python -m ecandidat.cli ...` against this platform (the operator's commands)."""
        result = subprocess.run(
            [sys.executable, "-m", "ecandidat.cli", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=180,
        )
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
    smtp: bool = True,
    env: dict[str, str] | None = None,
) -> AsyncIterator[Stack]:
    """Start `services` and the gateway as processes, seed the demo offer; stop everything at the end."""
    logs = logs_dir(name)
    info["logs"] = str(logs.relative_to(ROOT))
    with workdir(name) as folder, nats_server(folder, logs) as ns, contextlib.ExitStack() as servers:
        s3_server = servers.enter_context(S3Server(data_dir=folder / "s3", log_file=logs / "moto.log")) if s3 else None
        sink = servers.enter_context(SmtpSink(maildir=folder / "maildir")) if smtp else None
        async with database(folder) as db:
            info["database"] = db.where
            info["postgresql"] = ", ".join(f"{k}={v}" for k, v in db.settings.items())
            port = free_port()
            process_env = dict(os.environ)
            process_env.update(
                DATABASE_URL=db.url,
                NATS_URL=ns.url,
                GATEWAY_HOST="127.0.0.1",
                GATEWAY_PORT=str(port),
                GATEWAY_SERVICES=",".join(services),
                PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
                LOG_FORMAT="json",
                LOG_LEVEL="INFO",
                PYTHONUNBUFFERED="1",
                ACCOUNTS_CREATIONS_PER_HOUR_CLIENT="1000000",  # every candidate is created from this machine
                # The bench's own open nats-server and the development LINK_SEALING_KEY are allowed.
                ECANDIDAT_ENV="development",
            )
            if sink is not None:
                process_env.update(SMTP_HOST=sink.host, SMTP_PORT=str(sink.port), SMTP_SECURITY="none")
            if s3_server is not None:
                process_env.update(
                    S3_ENDPOINT=s3_server.endpoint,
                    S3_ACCESS_KEY=s3_server.access_key,
                    S3_SECRET_KEY=s3_server.secret_key,
                    S3_BUCKET="bench-pieces",
                )
            process_env.update(env or {})
            processes = {
                s: Process(s, [sys.executable, "-m", f"services.{s}"], logs / f"{s}.log", process_env) for s in services
            }
            processes["gateway"] = Process(
                "gateway", [sys.executable, "-m", "gateway"], logs / "gateway.log", process_env
            )
            with contextlib.ExitStack() as running:
                for process in processes.values():
                    running.enter_context(process)
                wait_listening(port, processes["gateway"], timeout=90)
                base = f"http://127.0.0.1:{port}"
                await wait_healthy(base + "/health", list(processes.values()), timeout=90.0)
                stack = Stack(base, process_env, processes, db, ns.url, logs, nats_pid=ns.process.pid, info=info)
                if sink is not None:
                    stack.mailbox = Mailbox(sink, asyncio.get_running_loop())
                if "candidatures" in services:
                    stack.cli("seed-demo")
                info["processes"] = (
                    ", ".join(f"`python -m services.{s}`" for s in services)
                    + ", `python -m gateway`: one process each, LOG_LEVEL=INFO (json logs to files); "
                    "load client and SMTP sink: the bench process"
                )
                try:
                    yield stack
                    stack.check()
                finally:
                    await stack.close()
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


def _dossier() -> list[tuple[str, dict[str, Any]]]:
    from tests.unit.dossiers.samples import adresse, baccalaureat, infos_perso

    return [("informations-personnelles", infos_perso()), ("adresse", adresse()), ("baccalaureat", baccalaureat())]


async def create_candidates(stack: Stack, http: Any, count: int, tag: str, parallel: int = 6) -> list[Candidate]:
    """`count` candidates through the public API: account, activation (link from the mail), login, dossier."""
    assert stack.mailbox is not None
    sections = _dossier()
    run = uuid.uuid4().hex[:6]
    gate = asyncio.Semaphore(parallel)

    async def one(i: int) -> Candidate:
        async with gate:
            nom, prenom = NOMS[i % len(NOMS)], PRENOMS[(i * 7) % len(PRENOMS)]
            email = f"{tag}.{run}.{i}@example.org"
            form = dict(
                nom=nom,
                prenom=prenom,
                email=email,
                email_confirmation=email,
                password=PASSWORD,
                password_confirmation=PASSWORD,
            )
            _, created = await api(http, stack, "POST", f"{API}/accounts", json_body=form, expect=(201,))
            mail = await stack.mailbox.wait(lambda: stack.mailbox.of(email), 90, f"activation mail to {email}")
            found = re.search(r"jeton=([A-Za-z0-9_-]+)", text_of(mail[0][1]))
            if not found:
                raise BrokenRun(f"no activation link in the mail to {email}")
            await api(http, stack, "POST", f"{API}/accounts/activation", json_body={"token": found.group(1)})
            _, session = await api(
                http,
                stack,
                "POST",
                f"{API}/sessions",
                json_body={"login": created["numero_dossier"], "password": PASSWORD},
                expect=(201,),
            )
            for slug, content in sections:
                await api(
                    http,
                    stack,
                    "PUT",
                    f"{API}/dossier/sections/{slug}",
                    token=session["token"],
                    json_body=content,
                    headers={"If-Match": '"0"'},
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
    _, enrolment = await api(
        http,
        stack,
        "POST",
        f"{API}/staff/setup",
        json_body={"token": token, "password": STAFF_PASSWORD, "password_confirmation": STAFF_PASSWORD},
    )
    totp = pyotp.TOTP(enrolment["totp_secret"])
    await api(http, stack, "POST", f"{API}/staff/setup/confirmation", json_body={"token": token, "code": totp.now()})
    # A TOTP code is accepted once and the confirmation used the current one: log in with the next
    # one (the service accepts ±1 time step of drift), as an authenticator app shows it 30 s later.
    _, session = await api(
        http,
        stack,
        "POST",
        f"{API}/staff/sessions",
        expect=(201,),
        json_body={"email": email, "password": STAFF_PASSWORD, "code": totp.at(time.time() + 30)},
    )
    return session["token"]


CPU_ORDER = (
    "gateway",
    "accounts",
    "dossiers",
    "candidatures",
    "documents",
    "mailer",
    "postgres",
    "nats-server",
    "bench",
    "smtp sink",
)


class WaitSampler:
    """What this database's backends are doing, sampled every `interval` s while active:
    (state, wait event) → samples, e.g. ('active', 'Lock:object') for a commit waiting for the
    cluster-wide NOTIFY lock, ('active', 'IO:WALSync') for a commit flushing, ('idle in transaction',
    'Client:ClientRead') for a transaction waiting for its service's next statement."""

    def __init__(self, dsn: str, interval: float = 0.02) -> None:
        self.dsn, self.interval = dsn, interval
        self.counts: dict[str, int] = {}
        self.samples = 0
        self._task: asyncio.Task[None] | None = None
        self._on = False

    async def start(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.dsn)

        async def loop() -> None:
            try:
                while True:
                    if self._on:
                        rows = await conn.fetch(
                            """SELECT state, coalesce(wait_event_type || ':' || wait_event, 'CPU (no wait)') AS what
                               FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
                                 AND state IN ('active', 'idle in transaction') AND backend_type = 'client backend'"""
                        )
                        self.samples += 1
                        for r in rows:
                            key = f"{r['state']}: {r['what']}"
                            self.counts[key] = self.counts.get(key, 0) + 1
                    await asyncio.sleep(self.interval)
            finally:
                await conn.close()

        self._task = asyncio.create_task(loop())

    @contextlib.contextmanager
    def sampling(self) -> Any:
        self._on = True
        try:
            yield
        finally:
            self._on = False

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def rows(self) -> list[list[Any]]:
        total = max(1, self.samples)
        return [[key, count, count / total] for key, count in sorted(self.counts.items(), key=lambda kv: -kv[1])]


def print_cpu_table(title: str, per: int, windows: list[tuple[str, dict[str, float]]]) -> None:
    """One row per window: CPU ms per unit of work (`per` units) of each process, and their sum."""
    names = [n for n in CPU_ORDER if any(n in cpu for _, cpu in windows)]
    rows = [
        [
            label,
            *(cpu.get(n, 0.0) / max(1, per) * 1000 for n in names),
            sum(cpu.get(n, 0.0) for n in names if n != "smtp sink") / max(1, per) * 1000,
        ]
        for label, cpu in windows
    ]
    print_table(title + "; smtp sink: its thread, already counted in bench", ["window", *names, "total"], rows)


def profile_summary(path: Path, top: int = 12) -> list[str]:
    total, own, _ = summarize_collapsed(path, top)
    return [f"{count / max(1, total) * 100:5.1f}%  {frame}" for frame, count in own]


# -- the burst ---------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 candidates, 2 rounds (< 2 min)")
    parser.add_argument("--candidates", type=int, help="N, candidates in each burst (default 200, quick 50)")
    parser.add_argument("--rounds", type=int, help="bursts, each beside a bare one (default 3, quick 2)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="one more burst with py-spy sampling gateway, accounts, dossiers, candidatures",
    )
    args = parser.parse_args()
    args.candidates = args.candidates or (50 if args.quick else 200)
    args.rounds = min(args.rounds or (2 if args.quick else 3), len(FORMATIONS) - 2)
    return args


WARMUP = 4


async def burst(
    stack: Stack, candidates: list[Candidate], formation: str, label: str, waits: WaitSampler | None = None
) -> dict[str, Any]:
    """Everyone applies to `formation` at once; then wait for their N confirmation mails."""
    assert stack.mailbox is not None
    calls = [Call("POST", f"{API}/candidatures", c.auth, {"formation_code": formation}, expect=201) for c in candidates]
    emails = {c.email.lower() for c in candidates}
    cpu0 = await stack.cpu()
    started = time.time()
    with waits.sampling() if waits is not None else contextlib.nullcontext():
        result, answers = await request_load(stack.base, calls, concurrency=len(calls), label=label, timeout=60)
    cpu_answers = await stack.cpu()

    def confirmations(count: int) -> Callable[[], list[float]]:
        def check() -> list[float]:
            found = stack.mailbox.matching(
                lambda t, m: (
                    t >= started
                    and str(m["To"]).lower() in emails
                    and m["X-Ecandidat-Template"] == "candidature_created"
                )
            )
            return sorted(t for t, _ in found) if len(found) >= count else []

        return check

    mails = (
        await stack.mailbox.wait(confirmations(result.ok), 120, f"{result.ok} confirmation mails ({label})")
        if result.ok
        else []
    )
    if result.ok < len(candidates):  # applies answered 504 may have been created all the same: their mails too
        with contextlib.suppress(BrokenRun):
            mails = await stack.mailbox.wait(confirmations(len(candidates)), 30, "")
    cpu_mails = await stack.cpu()
    stack.check()
    return {
        "result": result,
        "answers": answers,
        "started": started,
        "mails_all_s": (mails[-1] - started) if mails else float("nan"),
        "mails": len(mails),
        "cpu_answers": cpu_delta(cpu0, cpu_answers),
        "cpu_total": cpu_delta(cpu0, cpu_mails),
    }


async def bare_burst(base: str, candidates: list[Candidate], formation: str) -> LoadResult:
    calls = [Call("POST", "/echo", c.auth, {"formation_code": formation}) for c in candidates]
    result, _ = await request_load(base, calls, concurrency=len(calls), label="bare aiohttp POST /echo")
    return result


async def reference_burst(stack: Stack, candidates: list[Candidate]) -> LoadResult:
    """The part of an apply that is not the candidatures service's own: the gateway, the session
    (accounts rpc) and the dossier's completeness (dossiers rpc), at the same concurrency."""
    calls = [Call("GET", f"{API}/dossier/completude", c.auth) for c in candidates]
    result, _ = await request_load(stack.base, calls, concurrency=len(calls), label="GET /dossier/completude")
    return result


async def main() -> None:
    import aiohttp

    args = parse_args()
    info = conditions(mode="quick" if args.quick else "full", candidates=args.candidates, rounds=args.rounds)
    rows: list[dict[str, Any]] = []
    profiles: dict[str, Path] = {}
    async with platform("apply_burst", ALL_SERVICES, info) as stack:
        bare, bare_port = bare_server(stack.logs)
        with bare:
            wait_listening(bare_port, bare)
            bare_base = f"http://127.0.0.1:{bare_port}"
            setup_started = time.monotonic()
            async with aiohttp.ClientSession() as http:
                everyone = await create_candidates(stack, http, args.candidates + WARMUP, "burst")
            info["set-up"] = (
                f"{len(everyone)} candidates (account, activation, login, 3 dossier sections) in "
                f"{time.monotonic() - setup_started:.0f} s"
            )
            warm, candidates = everyone[:WARMUP], everyone[WARMUP:]
            await burst(stack, warm, WARMUP_FORMATION, "warm-up")
            await bare_burst(bare_base, warm, WARMUP_FORMATION)
            print_conditions(info)
            waits = WaitSampler(stack.db.url)
            await waits.start()
            used = []
            for rnd in range(args.rounds):
                formation = FORMATIONS[rnd]
                used.append(formation)
                order = ["bare", "reference", "apply"]
                order = order[rnd % 3 :] + order[: rnd % 3]  # rotate, so that drift favours none
                row: dict[str, Any] = {"round": rnd + 1, "formation": formation}
                for target in order:
                    await asyncio.sleep(1.0)  # let the previous burst's background work settle
                    if target == "bare":
                        row["bare"] = await bare_burst(bare_base, candidates, formation)
                    elif target == "reference":
                        row["reference"] = await reference_burst(stack, candidates)
                    else:
                        row.update(await burst(stack, candidates, formation, f"apply {formation}", waits))
                rows.append(row)
                gw, bb, ref = row["result"], row["bare"], row["reference"]
                print(
                    f"  round {rnd + 1} ({formation}): {gw.ok}/{len(candidates)} applied in {gw.elapsed:.2f} s "
                    f"= {gw.rps:.1f}/s, p50 {gw.ms(50):.0f} ms, p99 {gw.ms(99):.0f} ms; mails all sent at "
                    f"+{row['mails_all_s']:.2f} s | completude {ref.rps:.0f}/s p99 {ref.ms(99):.0f} ms "
                    f"| bare {bb.rps:.0f}/s p99 {bb.ms(99):.1f} ms",
                    flush=True,
                )
            if args.profile:
                formation = FORMATIONS[args.rounds]
                used.append(formation)
                names = ("gateway", "accounts", "dossiers", "candidatures")
                outputs = {n: stack.logs / f"py-spy-{n}.txt" for n in names}
                spies = [start_py_spy(stack.processes[n].pid, outputs[n], 12, rate=250) for n in names]
                await asyncio.sleep(1.0)
                prof = await burst(stack, candidates, formation, f"profiled {formation}")
                for spy in spies:
                    await asyncio.to_thread(spy.wait)
                profiles = {n: p for n, p in outputs.items() if p.exists()}
                print(f"  profiled burst: {prof['result'].rps:.1f}/s (py-spy slows the processes)")
            await waits.stop()
            broken = await check_lists(stack, candidates, used, rows)
    report(info, rows, profiles, len(candidates), waits)
    problems = [
        f"round {r['round']}: {r['result'].failed} of {len(candidates)} applies not answered 201 "
        f"({r.get('failed_but_created', 0)} created nevertheless): {r['result'].failure_samples[:1]}"
        for r in rows
        if r["result"].ok != len(candidates)
    ] + broken
    problems += [
        f"round {r['round']}: {r[k].failed} {k} requests failed {r[k].failure_samples}"
        for r in rows
        for k in ("bare", "reference")
        if r[k].failed
    ]
    if problems:
        raise BrokenRun("; ".join(problems))


async def check_lists(
    stack: Stack, candidates: list[Candidate], formations: list[str], rows: list[dict[str, Any]]
) -> list[str]:
    """Every candidate holds exactly one candidature per burst's formation, and nothing else; an
    apply that was not answered 201 but whose candidature exists is counted per round."""
    calls = [Call("GET", f"{API}/candidatures", c.auth) for c in candidates]
    result, answers = await request_load(stack.base, calls, concurrency=8, label="check")
    wrong = []
    held: list[set[str]] = []
    for candidate, answer in zip(candidates, answers):
        if answer.status != 200:
            wrong.append(f"{candidate.email}: GET /candidatures {answer.status}")
            held.append(set())
            continue
        codes = sorted(item["formation_code"] for item in json.loads(answer.body)["items"])
        held.append(set(codes))
        if codes != sorted(formations):
            wrong.append(f"{candidate.email}: {codes}")
    print(
        f"  check: {len(candidates) - len(wrong)}/{len(candidates)} candidates hold exactly one candidature "
        f"for each of {', '.join(formations)}"
    )
    for row in rows:
        failed = [i for i, a in enumerate(row["answers"]) if a.status != 201]
        created = sum(1 for i in failed if row["formation"] in held[i])
        row["failed_but_created"] = created
        if failed:
            statuses = sorted({a.status for a in row["answers"] if a.status != 201})
            print(
                f"  round {row['round']}: {len(failed)} applies answered {statuses} instead of 201; "
                f"{created} of them were nevertheless created (the service finished after the gateway gave up)"
            )
    return [f"{len(wrong)} candidates with a wrong list, e.g. {wrong[:3]}"] if wrong else []


def report(
    info: dict[str, Any], rows: list[dict[str, Any]], profiles: dict[str, Path], n: int, waits: WaitSampler
) -> None:
    print()
    print_conditions(info)
    table = []
    for r in rows:
        for key, label in (
            ("result", "POST /candidatures"),
            ("reference", "GET /dossier/completude"),
            ("bare", "bare POST /echo"),
        ):
            x = r[key]
            table.append(
                [
                    r["round"],
                    r["formation"] if key == "result" else "",
                    label,
                    f"{x.ok}/{n}",
                    x.elapsed,
                    x.rps,
                    x.ms(50),
                    x.ms(99),
                    x.ms(100),
                    r["mails_all_s"] if key == "result" else None,
                ]
            )
    print_table(
        f"each burst: {n} requests at once (concurrency {n}, one per candidate, same load client)",
        ["round", "formation", "target", "ok", "burst s", "req/s", "p50 ms", "p99 ms", "max ms", "mails done s"],
        table,
    )

    def med(key: str, fn: Callable[[LoadResult], float]) -> float:
        return median([fn(r[key]) for r in rows])

    def paired(key: str, fn: Callable[[LoadResult], float]) -> float:
        return median([ratio(fn(r[key]), fn(r["bare"])) for r in rows])

    summary = [
        [
            label,
            med(key, lambda x: x.rps),
            med(key, lambda x: x.ms(50)),
            med(key, lambda x: x.ms(99)),
            paired(key, lambda x: x.rps),
            paired(key, lambda x: x.ms(50)),
            paired(key, lambda x: x.ms(99)),
        ]
        for key, label in (
            ("result", "POST /candidatures (apply)"),
            ("reference", "GET /dossier/completude"),
            ("bare", "bare aiohttp POST /echo"),
        )
    ]
    print_table(
        f"summary: median of {len(rows)} rounds; ratios to bare aiohttp paired by round",
        ["target", "req/s", "p50 ms", "p99 ms", "req/s ratio", "p50 ratio", "p99 ratio"],
        summary,
    )
    tails = [r["mails_all_s"] for r in rows]
    print(
        f"  confirmation mails: all {n} accepted by the SMTP sink at +{median(tails):.2f} s after the release "
        f"(median of rounds; per round: {', '.join(f'{t:.2f}' for t in tails)})\n"
    )
    print_cpu_table(
        "CPU ms per candidature, by process, from the release of the burst (postgres: this database's "
        "backends; bench: load client + SMTP sink)",
        n,
        [(f"{r['round']}: until the last 201", r["cpu_answers"]) for r in rows]
        + [(f"{r['round']}: until the last mail", r["cpu_total"]) for r in rows],
    )
    print_table(
        f"this database's client backends during the apply bursts, {waits.samples} samples every 20 ms: "
        "state and wait event (mean backends per sample)",
        ["state: wait event", "backend samples", "mean"],
        waits.rows(),
    )
    for name, path in profiles.items():
        print(f"py-spy, {name}: own time, top functions")
        for line in profile_summary(path):
            print(f"  {line}")
        print()
    saved = save_results(
        "apply_burst",
        {
            "conditions": info,
            "rounds": [
                {
                    "round": r["round"],
                    "formation": r["formation"],
                    "apply": r["result"].summary(),
                    "bare": r["bare"].summary(),
                    "reference": r["reference"].summary(),
                    "mails_all_s": r["mails_all_s"],
                    "cpu_answers": r["cpu_answers"],
                    "cpu_total": r["cpu_total"],
                    "failed_but_created": r.get("failed_but_created", 0),
                }
                for r in rows
            ],
            "pg_waits": waits.counts,
            "pg_wait_samples": waits.samples,
        },
    )
    print(f"raw results: {saved.relative_to(ROOT)}")


if __name__ == "__main__":
    run_main(main)
