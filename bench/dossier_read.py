"""Reading a whole dossier through the gateway (`GET /api/v1/dossier`), beside a bare aiohttp endpoint.

What is measured: the gateway (its own process) authenticates the bearer token, asks the dossiers
service (`python -m services.dossiers`, its own process) over NATS request/reply
(`rpc.dossiers.get_dossier`); the service reads the dossier row, its sections and its candidatures
scope from PostgreSQL, computes completeness and read-only flags and answers ~4 KB of JSON. The
dossiers read are filled beforehand (every section) for `--candidates` accounts, read round-robin.
The baseline is a bare aiohttp app returning a fixed JSON body of the same size (its own process),
measured in the same run with the same client, alternating which goes first each round.

Authentication (`--auth`): `session` (the default) is the real one — the accounts service runs too
(`python -m services.accounts`), the candidates are created, activated and logged in through the
gateway, and each request carries its session token, resolved by the gateway as in production (its
session cache, revoked by the accounts' signal). `bench` is the former figure's: a bench
authenticator (token `bench-<account uuid>` → that candidate), no session lookup at all.

Servers: a nats-server and a database of the bench's own (the machine's PostgreSQL at
127.0.0.1:5432 when it answers, else a private cluster). Every request goes to 127.0.0.1; each run
is bounded in time.

    .venv/bin/python bench/dossier_read.py             # ~1 min
    .venv/bin/python bench/dossier_read.py --quick     # ~30 s
    .venv/bin/python bench/dossier_read.py --quick --auth bench   # without session authentication

Exit status 1 when the run is broken (an answer other than 200, a process that died).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ecandidat.devstack.infra import NatsServer, PostgresServer, drop_database, ensure_database, free_port, reachable  # noqa: E402

LOCALHOST = "127.0.0.1"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


# -- child processes: the gateway with a bench authenticator, the bare baseline -----------------------


def serve_gateway(port: int, bench_auth: bool) -> None:
    from aiohttp import web

    from ecandidat.contracts.auth import Principal
    from ecandidat.contracts.errors import Unauthenticated
    from ecandidat.runtime import logging as kit_logging
    from gateway.api import AUTHENTICATOR
    from gateway.app import create_app
    from gateway.settings import GatewaySettings

    settings = GatewaySettings()
    kit_logging.configure("gateway", settings.log_level, settings.log_format)
    app = create_app(settings)
    if not bench_auth:
        web.run_app(app, host=LOCALHOST, port=port, access_log=None, print=None)
        return

    async def authenticate(request: web.Request, op) -> Principal:
        token = request.headers.get("Authorization", "").removeprefix("Bearer bench-")
        try:
            account_id = uuid.UUID(token)
        except ValueError:
            raise Unauthenticated("Vous devez être connecté pour accéder à cette ressource.") from None
        return Principal(realm="candidate", account_id=account_id, email="bench@example.org")

    app[AUTHENTICATOR] = authenticate
    web.run_app(app, host=LOCALHOST, port=port, access_log=None, print=None)


def serve_bare(port: int, body_file: Path) -> None:
    from aiohttp import web

    body = body_file.read_bytes()

    async def dossier(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/v1/dossier", dossier)
    web.run_app(app, host=LOCALHOST, port=port, access_log=None, print=None)


# -- the bench --------------------------------------------------------------------------------------


def spawn(argv: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )


async def wait_ok(
    url: str, procs: list[subprocess.Popen], headers: dict[str, str] | None = None, timeout: float = 60
) -> None:
    import aiohttp

    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in procs):
                raise SystemExit("a server exited early (see logs)")
            try:
                async with http.get(url, headers=headers) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.3)
    raise SystemExit(f"{url} did not answer 200 within {timeout} s")


async def seed(nats_url: str, accounts: list[uuid.UUID]) -> None:
    """Fill every section of the dossiers of `accounts` through the service's rpc."""
    import nats

    from ecandidat.contracts.auth import Principal
    from ecandidat.contracts.dossiers import SECTION_MODELS, WRITABLE_SECTIONS, SaveSection, SectionSaved
    from ecandidat.runtime.rpc import RpcClient
    from tests.unit.dossiers import samples

    contents = {
        "informations_personnelles": samples.infos_perso(),
        "adresse": samples.adresse(),
        "baccalaureat": samples.baccalaureat(),
        "cursus_externe": samples.cursus_externe(),
        "stages": samples.stages(),
        "experiences_professionnelles": samples.experiences(),
    }
    nc = await nats.connect(nats_url)
    client = RpcClient(nc, timeout=10)
    for account_id in accounts:
        me = Principal(realm="candidate", account_id=account_id, email="bench@example.org")
        for section in WRITABLE_SECTIONS:
            content = SECTION_MODELS[section].model_validate(contents[section])
            await client.call(
                SaveSection(principal=me, account_id=account_id, expected_version=0, **{section: content}), SectionSaved
            )
    await nc.close()


PASSWORD = "cheval agrafe pile correcte"


async def candidates_with_sessions(base: str, database_url: str, count: int) -> tuple[list[uuid.UUID], list[str]]:
    """`count` candidate accounts created through the gateway, activated, logged in: (ids, tokens)."""
    import aiohttp
    import asyncpg

    emails, tokens = [], []
    async with aiohttp.ClientSession() as http:
        for i in range(count):
            email = f"bench.{uuid.uuid4().hex[:10]}@example.org"
            form = dict(
                nom="Banc",
                prenom=f"Essai{i}",
                email=email,
                email_confirmation=email,
                password=PASSWORD,
                password_confirmation=PASSWORD,
            )
            async with http.post(f"{base}/api/v1/accounts", json=form) as resp:
                assert resp.status == 201, await resp.text()
            emails.append(email)
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute("UPDATE accounts.candidates SET activated_at = now()")
        finally:
            await conn.close()
        ids = []
        for email in emails:
            async with http.post(f"{base}/api/v1/sessions", json={"login": email, "password": PASSWORD}) as resp:
                assert resp.status == 201, await resp.text()
                tokens.append((await resp.json())["token"])
            async with http.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {tokens[-1]}"}) as resp:
                ids.append(uuid.UUID((await resp.json())["account_id"]))
    return ids, tokens


async def load(url: str, tokens: list[str], concurrency: int, duration: float) -> dict:
    """GET `url` from `concurrency` kept-alive workers for `duration` s; latency = request → body read."""
    import aiohttp

    assert url.startswith(f"http://{LOCALHOST}:")
    latencies: list[float] = []
    bad: dict[str, int] = {}
    deadline = time.perf_counter() + duration
    counter = iter(range(10**9))

    async def worker(http: aiohttp.ClientSession) -> None:
        while time.perf_counter() < deadline:
            token = tokens[next(counter) % len(tokens)]
            started = time.perf_counter()
            try:
                async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
                    await resp.read()
                    if resp.status != 200:
                        bad[str(resp.status)] = bad.get(str(resp.status), 0) + 1
                        continue
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                bad[type(exc).__name__] = bad.get(type(exc).__name__, 0) + 1
                continue
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency), timeout=aiohttp.ClientTimeout(total=10)
    ) as http:
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(q: float) -> float:
        return (
            latencies[max(0, min(len(latencies) - 1, int(q / 100 * len(latencies) + 0.5) - 1))] * 1000
            if latencies
            else float("nan")
        )

    return {"rps": len(latencies) / elapsed, "p50": pct(50), "p99": pct(99), "ok": len(latencies), "bad": bad}


async def bench(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="ecandidat-bench-dossier-"))
    db_name = f"ecandidat_bench_{uuid.uuid4().hex[:10]}"
    pg_private = None
    if reachable("127.0.0.1", 5432):
        admin = PG_ADMIN
        where = f"machine's PostgreSQL 127.0.0.1:5432, database {db_name}"
    else:
        pg_private = PostgresServer(work / "pg")
        pg_private.__enter__()
        admin, where = pg_private.url, "private PostgreSQL cluster"
    database_url = await ensure_database(admin, db_name)
    procs: list[subprocess.Popen] = []
    try:
        with NatsServer(store_dir=work / "nats") as ns:
            gw_port, bare_port = free_port(), free_port()
            env = dict(
                os.environ,
                DATABASE_URL=database_url,
                NATS_URL=ns.url,
                GATEWAY_PORT=str(gw_port),
                GATEWAY_SERVICES="dossiers,accounts" if args.auth == "session" else "dossiers",
                LOG_LEVEL="WARNING",
                LOG_FORMAT="json",
                # The bench's own open bus and the development sealing key are allowed.
                ECANDIDAT_ENV="development",
                ACCOUNTS_THROTTLE_FREE_CLIENT="1000000",
                ACCOUNTS_CREATIONS_PER_HOUR_CLIENT="1000000",
            )
            procs.append(spawn([sys.executable, "-m", "services.dossiers"], work / "dossiers.log", env))
            if args.auth == "session":
                procs.append(spawn([sys.executable, "-m", "services.accounts"], work / "accounts.log", env))
            gateway_argv = [sys.executable, __file__, "gateway", "--port", str(gw_port)]
            if args.auth == "bench":
                gateway_argv.append("--bench-auth")
            procs.append(spawn(gateway_argv, work / "gateway.log", env))
            await wait_ok(f"http://{LOCALHOST}:{gw_port}/health", procs)
            base = f"http://{LOCALHOST}:{gw_port}"
            if args.auth == "session":
                accounts, tokens = await candidates_with_sessions(base, database_url, args.candidates)
            else:
                accounts = [uuid.uuid4() for _ in range(args.candidates)]
                tokens = [f"bench-{a}" for a in accounts]
            await seed(ns.url, accounts)
            gateway_url = f"{base}/api/v1/dossier"
            import aiohttp

            async with aiohttp.ClientSession() as http:
                async with http.get(gateway_url, headers={"Authorization": f"Bearer {tokens[0]}"}) as resp:
                    body = await resp.read()
            assert json.loads(body)["completude"]["complet"], body[:300]
            (work / "body.json").write_bytes(body)
            procs.append(
                spawn(
                    [sys.executable, __file__, "bare", "--port", str(bare_port), "--body", str(work / "body.json")],
                    work / "bare.log",
                    env,
                )
            )
            bare_url = f"http://{LOCALHOST}:{bare_port}/api/v1/dossier"
            await wait_ok(bare_url, procs)
            targets = {"bare aiohttp": bare_url, "gateway GET /dossier": gateway_url}
            for url in targets.values():  # warm-up
                await load(url, tokens, max(args.concurrency), 1.0)
            print(
                f"conditions: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start, {where}, "
                f"nats-server {ns.url}, dossier body {len(body)} bytes, {len(tokens)} dossiers, {args.auth} authentication, "
                f"{args.duration:.0f} s per run, {args.rounds} rounds\n"
            )
            rows: list[tuple[int, str, dict]] = []
            for c in args.concurrency:
                for rnd in range(args.rounds):
                    order = list(targets.items())[:: 1 if rnd % 2 == 0 else -1]
                    for label, url in order:
                        result = await load(url, tokens, c, args.duration)
                        rows.append((c, label, result))
                        print(
                            f"  C={c:<3} round {rnd + 1}: {label:<22} {result['rps']:>8.0f} req/s  "
                            f"p50 {result['p50']:6.2f} ms  p99 {result['p99']:7.2f} ms  non-200 {result['bad'] or 0}",
                            flush=True,
                        )
            print("\nsummary (median over rounds)")
            print(f"  {'C':>3}  {'target':<22} {'req/s':>8}  {'p50 ms':>7}  {'p99 ms':>7}")
            for c in args.concurrency:
                for label in targets:
                    runs = [r for cc, lab, r in rows if cc == c and lab == label]
                    print(
                        f"  {c:>3}  {label:<22} {statistics.median(r['rps'] for r in runs):>8.0f}  "
                        f"{statistics.median(r['p50'] for r in runs):>7.2f}  {statistics.median(r['p99'] for r in runs):>7.2f}"
                    )
            broken = [r for _, _, r in rows if r["bad"]] or [p for p in procs if p.poll() is not None]
            return 1 if broken else 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        await drop_database(admin, db_name)
        if pg_private is not None:
            pg_private.__exit__(None, None, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    gw = sub.add_parser("gateway")
    gw.add_argument("--port", type=int, required=True)
    gw.add_argument("--bench-auth", action="store_true")
    bare = sub.add_parser("bare")
    bare.add_argument("--port", type=int, required=True)
    bare.add_argument("--body", type=Path, required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--concurrency", default="1,16")
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument(
        "--auth",
        choices=("session", "bench"),
        default="session",
        help="session: real sessions (accounts service, login); bench: a bench authenticator, no lookup",
    )
    parser.add_argument("--duration", type=float)
    parser.add_argument("--rounds", type=int)
    args = parser.parse_args()
    if args.command == "gateway":
        serve_gateway(args.port, args.bench_auth)
    elif args.command == "bare":
        serve_bare(args.port, args.body)
    else:
        args.concurrency = [int(c) for c in args.concurrency.split(",")]
        args.duration = args.duration or (3.0 if args.quick else 6.0)
        args.rounds = args.rounds or (2 if args.quick else 3)
        sys.exit(asyncio.run(bench(args)))


if __name__ == "__main__":
    main()
