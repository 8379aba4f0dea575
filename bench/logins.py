"""Candidate logins per second through the gateway, beside raw argon2id hashes per second.

What is measured, in one run:
1. raw: argon2id verifications per second through the accounts service's own hashing pool
   (`services.accounts.passwords.Passwords`: m=19 MiB, t=2, p=1, ACCOUNTS_HASH_WORKERS threads —
   default: the cores — at the same lowered priority), in this process, with nothing else running;
2. logins: `POST /api/v1/sessions` through the gateway (`python -m gateway`) → NATS →
   the accounts service (`python -m services.accounts`) → argon2id verify + session insert, with
   C concurrent clients for a fixed duration; every answer must be 201;
3. during the login burst, `GET /health` every 100 ms (gateway → NATS → accounts' health checks):
   its p50/p99 latency shows whether the service keeps serving while it hashes;
4. `GET /api/v1/me` with C clients afterwards, through two gateways of the same run: one keeping
   resolved sessions (`GATEWAY_SESSION_CACHE_TTL`, default 30 s; a revocation reaches it by signal)
   and one resolving the session by rpc at every request (TTL 0, the baseline), in `--me-rounds` pairs
   (order alternating); the ratio is the median of the pairs' ratios;
5. rounds alternate (raw, logins, raw, logins, ..., raw) so that both see the same drift of a
   shared machine; the ratio reported is the median over rounds of (the round's logins/s / the mean
   of the raw runs just before and after it), which a load that comes and goes cannot skew much.

The services run as their own processes against a nats-server and a database of the bench's own
(the machine's PostgreSQL at 127.0.0.1:5432 when it answers, else a private cluster). Targets:
logins/s ≥ 0.8 × raw hashes/s, /health p99 < 50 ms. Every request goes to 127.0.0.1.

    .venv/bin/python bench/logins.py                             # ~1 min
    .venv/bin/python bench/logins.py --rounds 1 --duration 5     # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ecandidat.devstack.infra import (  # noqa: E402
    NatsServer,
    PostgresServer,
    drop_database,
    ensure_database,
    free_port,
    reachable,
    wait_port,
)
from services.accounts.passwords import Passwords  # noqa: E402
from services.accounts.settings import AccountsSettings  # noqa: E402

PASSWORD = "cheval agrafe pile correcte"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PROBE_INTERVAL = 0.1  # seconds between two /health probes (each costs an rpc and two checks in the service)


async def raw_hashes_per_second(workers: int, seconds: float) -> float:
    """argon2id verifications per second through the service's own hashing pool (same class, same
    parameters, same threads and thread priority), `workers` at a time, with nothing else running."""
    s = AccountsSettings()
    passwords = Passwords(
        workers=workers,
        memory_kib=s.accounts_hash_memory_kib,
        time_cost=s.accounts_hash_time,
        parallelism=s.accounts_hash_parallelism,
        niceness=s.accounts_hash_niceness,
    )
    stored = await passwords.hash(PASSWORD)
    deadline = time.perf_counter() + seconds
    done = 0

    async def loop() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            assert await passwords.verify(stored, PASSWORD)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(workers)))
    elapsed = time.perf_counter() - started
    await passwords.close()
    return done / elapsed


def start(name: str, module: str, env: dict[str, str], logs: Path) -> subprocess.Popen:
    log = open(logs / f"{name}.log", "wb")
    return subprocess.Popen(
        [sys.executable, "-m", module], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


async def create_accounts(http: aiohttp.ClientSession, base: str, dsn: str, count: int) -> list[str]:
    import asyncpg

    numeros = []
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
            numeros.append((await resp.json())["numero_dossier"])
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("UPDATE accounts.candidates SET activated_at = now()")
    finally:
        await conn.close()
    return numeros


async def login_burst(base: str, numeros: list[str], concurrency: int, seconds: float) -> dict:
    latencies: list[float] = []
    health: list[float] = []
    errors: dict[str, int] = {}
    stop = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency + 2)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def client(i: int) -> None:
            body = {"login": numeros[i % len(numeros)], "password": PASSWORD}
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                async with http.post(f"{base}/api/v1/sessions", json=body) as resp:
                    await resp.read()
                    if resp.status != 201:
                        errors[str(resp.status)] = errors.get(str(resp.status), 0) + 1
                        continue
                latencies.append(time.perf_counter() - t0)

        async def prober() -> None:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                async with http.get(f"{base}/health") as resp:
                    await resp.read()
                    if resp.status != 200:
                        errors[f"health {resp.status}"] = errors.get(f"health {resp.status}", 0) + 1
                health.append(time.perf_counter() - t0)
                await asyncio.sleep(PROBE_INTERVAL)

        started = time.perf_counter()
        await asyncio.gather(prober(), *(client(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "logins": len(latencies),
        "elapsed": elapsed,
        "latencies": sorted(latencies),
        "health": sorted(health),
        "errors": errors,
    }


async def who_am_i(base: str, numeros: list[str], concurrency: int, seconds: float) -> dict:
    """`GET /api/v1/me` with `concurrency` clients on the sessions of `numeros`."""
    latencies: list[float] = []
    failures = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
        tokens = []
        for numero in numeros:
            async with http.post(f"{base}/api/v1/sessions", json={"login": numero, "password": PASSWORD}) as resp:
                tokens.append((await resp.json())["token"])
        stop = time.perf_counter() + seconds

        async def client(i: int) -> None:
            nonlocal failures
            headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}"}
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                async with http.get(f"{base}/api/v1/me", headers=headers) as resp:
                    await resp.read()
                    failures += resp.status != 200
                latencies.append(time.perf_counter() - t0)

        started = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(concurrency)))
    return {
        "rate": len(latencies) / (time.perf_counter() - started),
        "latencies": sorted(latencies),
        "failures": failures,
    }


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, int(round(q / 100 * len(values))) - 1))] * 1000


async def main(args: argparse.Namespace) -> int:
    workers = int(os.environ.get("ACCOUNTS_HASH_WORKERS", os.cpu_count() or 2))
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-logins-") as tmp:
        folder = Path(tmp)
        pg = None
        admin = os.environ.get("TEST_PG_ADMIN_URL", PG_ADMIN)
        if not reachable("127.0.0.1", 5432):
            pg = PostgresServer(folder / "pg", durable=False).start()
            admin = pg.url
        dbname = f"bench_logins_{uuid.uuid4().hex[:8]}"
        dsn = await ensure_database(admin, dbname)
        nats = NatsServer(store_dir=folder / "nats").start()
        port = free_port()
        env = dict(
            os.environ,
            DATABASE_URL=dsn,
            NATS_URL=nats.url,
            GATEWAY_PORT=str(port),
            GATEWAY_SERVICES="accounts",
            GATEWAY_HEALTH_SHARED_FOR="0",
            ACCOUNTS_HASH_WORKERS=str(workers),
            LOG_LEVEL="WARNING",
            ACCOUNTS_THROTTLE_FREE_CLIENT="1000000",
            ACCOUNTS_CREATIONS_PER_HOUR_CLIENT="1000000",
            # The bench's own open bus and the development sealing key are allowed.
            ECANDIDAT_ENV="development",
        )
        uncached_port = free_port()
        uncached_env = dict(env, GATEWAY_PORT=str(uncached_port), GATEWAY_SESSION_CACHE_TTL="0")
        processes = [
            start("accounts", "services.accounts", env, folder),
            start("gateway", "gateway", env, folder),
            start("gateway-uncached", "gateway", uncached_env, folder),
        ]
        try:
            wait_port("127.0.0.1", port, 60, process=processes[1])
            wait_port("127.0.0.1", uncached_port, 60, process=processes[2])
            base = f"http://127.0.0.1:{port}"
            uncached = f"http://127.0.0.1:{uncached_port}"
            async with aiohttp.ClientSession() as http:
                for _ in range(100):  # the accounts service answers its health rpc once migrated
                    async with http.get(f"{base}/health") as resp:
                        if resp.status == 200:
                            break
                    await asyncio.sleep(0.2)
                numeros = await create_accounts(http, base, dsn, 4)
            await login_burst(base, numeros, args.concurrency, 2.0)  # warm-up
            # Rounds alternate raw and logins, so that both see the same drift of a shared machine.
            raws = [await raw_hashes_per_second(workers, args.duration / 2)]
            bursts = []
            for _ in range(args.rounds):
                bursts.append(await login_burst(base, numeros, args.concurrency, args.duration))
                raws.append(await raw_hashes_per_second(workers, args.duration / 2))
            mes = {"cached": [], "rpc": []}
            for i in range(args.me_rounds):  # paired rounds, the order alternating
                pair = [("rpc", uncached), ("cached", base)][:: 1 if i % 2 == 0 else -1]
                for kind, url in pair:
                    mes[kind].append(await who_am_i(url, numeros, args.concurrency, args.duration / 2))
            me = max(mes["rpc"], key=lambda m: m["rate"])
            cached = max(mes["cached"], key=lambda m: m["rate"])
        finally:
            for p in processes:
                p.terminate()
            for p in processes:
                p.wait(10)
            nats.stop()
            await drop_database(admin, dbname)
            if pg is not None:
                pg.stop()
    raw = statistics.mean(raws)
    # Per round: the logins' rate over the mean of the raw runs just before and just after it.
    ratios = [b["logins"] / b["elapsed"] / statistics.mean(raws[i : i + 2]) for i, b in enumerate(bursts)]
    burst = {
        "logins": sum(b["logins"] for b in bursts),
        "elapsed": sum(b["elapsed"] for b in bursts),
        "latencies": sorted(x for b in bursts for x in b["latencies"]),
        "health": sorted(x for b in bursts for x in b["health"]),
        "errors": {k: v for b in bursts for k, v in b["errors"].items()},
    }
    rate = burst["logins"] / burst["elapsed"]
    print(
        f"conditions: {os.cpu_count()} cores, load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
        f"argon2id m={AccountsSettings().accounts_hash_memory_kib} KiB t=2 p=1, {workers} hash threads, "
        f"{args.concurrency} concurrent clients, {args.rounds} rounds of {args.duration:g} s logins "
        f"between {args.duration / 2:g} s raw runs"
    )
    print()
    rows = [
        ("raw argon2id verify (mean)", f"{raw:.1f} /s", "runs: " + ", ".join(f"{r:.1f}" for r in raws)),
        (
            "logins through the gateway",
            f"{rate:.1f} /s",
            f"p50 {pct(burst['latencies'], 50):.0f} ms, p99 {pct(burst['latencies'], 99):.0f} ms, {burst['logins']} logins",
        ),
        (
            "logins / raw (target ≥ 0.80)",
            f"{statistics.median(ratios):.2f}",
            f"median of the rounds' ratios ({', '.join(f'{r:.2f}' for r in ratios)}; overall {rate / raw:.2f}), "
            + ("PASS" if statistics.median(ratios) >= 0.8 else "MISS"),
        ),
        (
            "GET /health during the burst",
            f"p99 {pct(burst['health'], 99):.1f} ms",
            f"p50 {pct(burst['health'], 50):.1f} ms, max {pct(burst['health'], 100):.1f} ms, {len(burst['health'])} probes, "
            f"{'PASS' if pct(burst['health'], 99) < 50 else 'MISS'} (target p99 < 50 ms)",
        ),
        (
            "GET /api/v1/me, session by rpc each time",
            f"{me['rate']:.0f} /s",
            f"p50 {pct(me['latencies'], 50):.1f} ms, p99 {pct(me['latencies'], 99):.1f} ms: resolve_session + get_account "
            "(GATEWAY_SESSION_CACHE_TTL=0; best of the rounds)",
        ),
        (
            "GET /api/v1/me, session kept by the gateway",
            f"{cached['rate']:.0f} /s",
            f"p50 {pct(cached['latencies'], 50):.1f} ms, p99 {pct(cached['latencies'], 99):.1f} ms: get_account only "
            "(revocations by signal; best of the rounds)",
        ),
        (
            "/me kept ÷ /me by rpc (target ≥ 2)",
            f"{statistics.median(c['rate'] / r['rate'] for c, r in zip(mes['cached'], mes['rpc'])):.2f}",
            f"median of {len(mes['rpc'])} paired rounds; best ÷ best {cached['rate'] / me['rate']:.2f}; runs: "
            + ", ".join(f"{c['rate']:.0f}/{r['rate']:.0f}" for c, r in zip(mes["cached"], mes["rpc"])),
        ),
    ]
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>{value_width}}  detail")
    print(f"{'-' * width}  {'-' * value_width}  ------")
    for name, value, detail in rows:
        print(f"{name:<{width}}  {value:>{value_width}}  {detail}")
    if any(m["failures"] for runs in mes.values() for m in runs):
        burst["errors"]["me"] = sum(m["failures"] for runs in mes.values() for m in runs)
    if burst["errors"]:
        print(f"\nBROKEN RUN: non-201/200 answers {burst['errors']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=4.0, help="seconds of each login burst (raw runs: half)")
    parser.add_argument("--rounds", type=int, default=8, help="login bursts, each followed by a raw run")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent login clients")
    parser.add_argument(
        "--me-rounds", type=int, default=4, help="paired GET /me rounds (by rpc, kept), order alternating"
    )
    sys.exit(asyncio.run(main(parser.parse_args())))
