"""Candidate logins per second through the gateway, beside raw argon2id hashes per second.

What is measured and how: bench/README.md, "logins". Rounds alternate raw argon2id verifications
(the accounts service's own hashing pool, in this process) and login bursts through the gateway
(`POST /api/v1/sessions`, with `GET /health` probed every 100 ms); then `GET /api/v1/me` through
a gateway keeping resolved sessions and one resolving them by rpc at every request (TTL 0), in
`--me-rounds` pairs (order alternating), the ratio the median of the pairs' ratios.
Targets: logins/s ≥ 0.8 × raw hashes/s, /health p99 < 50 ms, /me kept ≥ 2 × /me by rpc.

Exit status 1 when the run is broken (an answer other than 201/200, a process that died).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import account_form, API, api, Arguments, BrokenRun, conditions, free_port, http_load  # noqa: E402
from bench._common import LoadResult, LOCALHOST, PASSWORD, platform, print_conditions  # noqa: E402
from bench._common import print_table, Process, run_main, save_results, wait_healthy  # noqa: E402
from services.accounts.passwords import Passwords  # noqa: E402
from services.accounts.settings import AccountsSettings  # noqa: E402

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
    stored, done, started = await passwords.hash(PASSWORD), [0], time.perf_counter()

    async def loop() -> None:
        while time.perf_counter() < started + seconds:
            assert await passwords.verify(stored, PASSWORD)
            done[0] += 1

    await asyncio.gather(*(loop() for _ in range(workers)))
    elapsed = time.perf_counter() - started
    await passwords.close()
    return done[0] / elapsed


async def accounts(stack: Any, dsn: str, count: int) -> list[dict[str, Any]]:
    """`count` candidate accounts created through the gateway at `stack.base`, activated in the
    database (no mailer in these benches), logged in: each creation's answer, with its `token`."""
    import asyncpg

    async with aiohttp.ClientSession() as http:
        made = []
        for i in range(count):
            form = account_form(f"bench.{uuid.uuid4().hex[:10]}@example.org", prenom=f"Essai{i}")
            made.append((await api(http, stack, "POST", f"{API}/accounts", json_body=form, expect=(201,)))[1])
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("UPDATE accounts.candidates SET activated_at = now()")
        finally:
            await conn.close()
        for account in made:
            login = {"login": account["numero_dossier"], "password": PASSWORD}
            _, session = await api(http, stack, "POST", f"{API}/sessions", json_body=login, expect=(201,))
            account["token"] = session["token"]
    return made


async def login_burst(base: str, numeros: list[str], concurrency: int, seconds: float) -> tuple[LoadResult, LoadResult]:
    """Logins with `concurrency` clients for `seconds`, and `GET /health` every PROBE_INTERVAL meanwhile."""
    bodies = [{"login": numero, "password": PASSWORD} for numero in numeros]
    load = {"method": "POST", "bodies": bodies, "expect": 201, "label": "logins"}
    logins = http_load(base + f"{API}/sessions", concurrency=concurrency, duration=seconds, **load)
    health = http_load(base + "/health", concurrency=1, duration=seconds, pause=PROBE_INTERVAL, label="/health")
    return await asyncio.gather(logins, health)


async def main(args: argparse.Namespace) -> None:
    workers = int(os.environ.get("ACCOUNTS_HASH_WORKERS", os.cpu_count() or 2))
    info = conditions(
        mode="quick" if args.quick else "full",
        argon2id=f"m={AccountsSettings().accounts_hash_memory_kib} KiB t=2 p=1, {workers} hash threads",
        clients=args.concurrency,
        rounds=f"{args.rounds} of {args.duration:g} s logins between {args.duration / 2:g} s raw runs",
        **{"/me rounds": f"{args.me_rounds} pairs of {args.duration / 2:g} s (by rpc, kept), order alternating"},
    )
    env = {"GATEWAY_HEALTH_SHARED_FOR": "0", "ACCOUNTS_HASH_WORKERS": str(workers)}
    env["ACCOUNTS_THROTTLE_FREE_CLIENT"] = "1000000"  # every login comes from this machine
    async with platform("logins", ("accounts",), info, s3=False, smtp=False, log_level="WARNING", env=env) as stack:
        port = free_port()
        uncached_env = dict(stack.env, GATEWAY_PORT=str(port), GATEWAY_SESSION_CACHE_TTL="0")
        argv = [sys.executable, "-m", "gateway"]
        with Process("gateway-uncached", argv, stack.logs / "gateway-uncached.log", uncached_env) as uncached_gateway:
            uncached = f"http://{LOCALHOST}:{port}"
            await wait_healthy(uncached + "/health", [uncached_gateway])
            made = await accounts(stack, stack.db.url, 4)
            numeros = [a["numero_dossier"] for a in made]
            print_conditions(info)
            await login_burst(stack.base, numeros, args.concurrency, 2.0)  # warm-up
            # Rounds alternate raw and logins, so that both see the same drift of a shared machine.
            raws = [await raw_hashes_per_second(workers, args.duration / 2)]
            bursts = []
            for _ in range(args.rounds):
                bursts.append(await login_burst(stack.base, numeros, args.concurrency, args.duration))
                raws.append(await raw_hashes_per_second(workers, args.duration / 2))
            mes: dict[str, list[LoadResult]] = {"cached": [], "rpc": []}
            headers = [{"Authorization": f"Bearer {a['token']}"} for a in made]
            for i in range(args.me_rounds):  # paired rounds, the order alternating
                for kind, url in [("rpc", uncached), ("cached", stack.base)][:: 1 if i % 2 == 0 else -1]:
                    me = http_load(
                        url + f"{API}/me",
                        concurrency=args.concurrency,
                        duration=args.duration / 2,
                        headers=headers,
                        label=f"/me {kind}",
                    )
                    mes[kind].append(await me)
            uncached_gateway.check()
    report(info, raws, bursts, mes)


def report(info: dict[str, Any], raws: list[float], bursts: list[Any], mes: dict[str, list[LoadResult]]) -> None:
    me, cached = (max(mes[k], key=lambda m: m.rps) for k in ("rpc", "cached"))
    raw = statistics.mean(raws)
    # Per round: the logins' rate over the mean of the raw runs just before and just after it.
    ratios = [b.rps / statistics.mean(raws[i : i + 2]) for i, (b, _) in enumerate(bursts)]
    logins, health = (LoadResult("", 0, 0, sorted(x for b in bursts for x in b[k].latencies), {}, {}) for k in (0, 1))
    rate, pairs, mark = logins.ok / sum(b.elapsed for b, _ in bursts), list(zip(mes["cached"], mes["rpc"])), "PASS MISS"
    best = "best of the rounds"
    rows = [
        ("raw argon2id verify (mean)", f"{raw:.1f} /s", "runs: " + ", ".join(f"{r:.1f}" for r in raws)),
        (
            "logins through the gateway",
            f"{rate:.1f} /s",
            f"p50 {logins.ms(50):.0f} ms, p99 {logins.ms(99):.0f} ms, {logins.ok} logins",
        ),
        (
            "logins / raw (target ≥ 0.80)",
            f"{statistics.median(ratios):.2f}",
            f"median of the rounds' ratios ({', '.join(f'{r:.2f}' for r in ratios)}; overall {rate / raw:.2f}), "
            + mark.split()[statistics.median(ratios) < 0.8],
        ),
        (
            "GET /health during the burst",
            f"p99 {health.ms(99):.1f} ms",
            f"p50 {health.ms(50):.1f} ms, max {health.ms(100):.1f} ms, {health.ok} probes, "
            f"{mark.split()[health.ms(99) >= 50]} (target p99 < 50 ms)",
        ),
        (
            "GET /api/v1/me, session by rpc each time",
            f"{me.rps:.0f} /s",
            f"p50 {me.ms(50):.1f} ms, p99 {me.ms(99):.1f} ms: resolve_session + get_account (GATEWAY_SESSION_CACHE_TTL=0; {best})",
        ),
        (
            "GET /api/v1/me, session kept by the gateway",
            f"{cached.rps:.0f} /s",
            f"p50 {cached.ms(50):.1f} ms, p99 {cached.ms(99):.1f} ms: no rpc (session and view kept; {best})",
        ),
        (
            "/me kept ÷ /me by rpc (target ≥ 2)",
            f"{statistics.median(c.rps / r.rps for c, r in pairs):.2f}",
            f"median of {len(pairs)} paired rounds; best ÷ best {cached.rps / me.rps:.2f}; runs: "
            + ", ".join(f"{c.rps:.0f}/{r.rps:.0f}" for c, r in pairs),
        ),
    ]
    print()
    print_table("logins", ["measure", "value", "detail"], rows)
    save_results("logins", {"conditions": info, "raws": raws, "ratios": ratios, "rows": rows})
    failed = [
        f"{r.label}: {r.statuses} {r.errors}"
        for r in [*(r for b in bursts for r in b), *mes["rpc"], *mes["cached"]]
        if r.failed
    ]
    if failed:
        raise BrokenRun("; ".join(failed))


if __name__ == "__main__":
    sized = {"duration": (4.0, 2.0), "rounds": (8, 1), "me_rounds": (4, 2)}
    parser = Arguments(__doc__, "1 round of 2 s logins, 2 /me pairs", **sized)
    parser.add_argument("--duration", type=float, help="seconds of each login burst, raw runs: half (default 4)")
    parser.add_argument("--rounds", type=int, help="login bursts, each followed by a raw run (default 8)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent login clients")
    parser.add_argument(
        "--me-rounds", type=int, help="paired GET /me rounds (by rpc, kept), order alternating (default 4, quick 2)"
    )
    arguments = parser.parse_args()
    run_main(lambda: main(arguments))
