"""What the secured bus costs: authenticated reads through the gateway, NATS open vs secured, same run.

What is measured and how: bench/README.md, "bus_security".

Exit status 1 when the run is broken (an answer other than 200, a process that died).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import Arguments, BrokenRun, conditions, database, free_port, http_load, LOCALHOST  # noqa: E402
from bench._common import logs_dir, median, print_conditions, print_table, Process, run_main, save_results  # noqa: E402
from bench._common import wait_healthy, workdir  # noqa: E402
from bench.logins import accounts  # noqa: E402
from ecandidat.devstack.infra import NatsServer  # noqa: E402
from ecandidat.runtime.nats import flush  # noqa: E402


@contextlib.asynccontextmanager
async def stack_on(name: str, bus: NatsServer, database_url: str, logs: Path) -> AsyncIterator[tuple[list, str]]:
    """The accounts service and the gateway on `bus`, healthy: the processes and the gateway's URL."""
    port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        GATEWAY_PORT=str(port),
        GATEWAY_HOST=LOCALHOST,
        GATEWAY_SERVICES="accounts",
        ECANDIDAT_ENV="development",
        LOG_LEVEL="WARNING",
        GATEWAY_SESSION_CACHE_TTL="0",  # both rpc round trips of every request cross the bus
        ACCOUNTS_HASH_WORKERS="1",
        RPC_TIMEOUT="15",
    )
    env.pop("NATS_CREDENTIALS_DIR", None)
    env.update(bus.env())  # NATS_URL, and on the secured bus NATS_CREDENTIALS_DIR: each process its own key
    argv = {"accounts": "services.accounts", "gateway": "gateway"}
    service, gateway = (
        Process(f"{p}-{name}", [sys.executable, "-m", m], logs / f"{p}-{name}.log", env) for p, m in argv.items()
    )
    with service, gateway:
        await wait_healthy(f"http://{LOCALHOST}:{port}/health", [service, gateway], timeout=120)
        yield [service, gateway], f"http://{LOCALHOST}:{port}"


async def measure(bus: NatsServer, label: str, database_url: str, logs: Path, token: str, args: Any) -> dict:
    async with stack_on(label, bus, database_url, logs) as (processes, base):
        load = {"concurrency": args.concurrency, "headers": {"Authorization": f"Bearer {token}"}}
        await http_load(f"{base}/api/v1/me", count=200, **load)  # warm-up
        result = await http_load(f"{base}/api/v1/me", duration=args.duration, label=label, **load)
        for process in processes:
            process.check()
    if result.failed:
        raise BrokenRun(f"{label}: {result.failed} failed requests: {result.statuses} {result.errors}")
    return result.summary()


async def round_trips(bus: NatsServer, seconds: float, concurrency: int) -> float:
    """Rpc round trips per second between the gateway's and the accounts service's identities."""
    import nats

    responder = await nats.connect(bus.url, **bus.connect_options("accounts"))
    caller = await nats.connect(bus.url, **bus.connect_options("gateway"))
    try:

        async def echo(msg: Any) -> None:
            await msg.respond(msg.data)

        await responder.subscribe("rpc.accounts.echo", queue="accounts", cb=echo)
        await flush(responder)
        payload, done = b"x" * 200, [0]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds

        async def worker() -> None:
            while loop.time() < deadline:
                if (await caller.request("rpc.accounts.echo", payload, timeout=5)).data != payload:
                    raise BrokenRun("echo answered something else")
                done[0] += 1

        started = loop.time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done[0] / (loop.time() - started)
    finally:
        await caller.close()
        await responder.close()


async def main(args: argparse.Namespace) -> None:
    info = conditions(bench="bus_security", rounds=args.rounds, duration=args.duration, concurrency=args.concurrency)
    print_conditions(info)
    logs = logs_dir("bus_security")
    with workdir("bus") as folder:
        buses = {
            "open": NatsServer(store_dir=folder / "open", name="bench-open", log_file=logs / "nats-open.log"),
            "secured": NatsServer(
                store_dir=folder / "secured",
                name="bench-secured",
                log_file=logs / "nats-secured.log",
                credentials=folder / "credentials",
            ),
        }
        with buses["open"], buses["secured"]:
            buses["secured"].provision()
            async with database(folder) as db:
                info["database"] = db.where
                async with stack_on("setup", buses["secured"], db.url, logs) as (_, base):
                    [account] = await accounts(SimpleNamespace(base=base), db.url, 1)
                runs: dict[str, list[dict]] = {"open": [], "secured": []}
                trips: dict[str, list[float]] = {"open": [], "secured": []}
                for round_ in range(args.rounds):
                    order = list(buses.items())[:: -1 if round_ % 2 else 1]
                    for label, bus in order:
                        runs[label].append(await measure(bus, label, db.url, logs, account["token"], args))
                    for label, bus in order:
                        trips[label].append(await round_trips(bus, args.duration / 2, args.concurrency))
    rounds = [f"round {i + 1} req/s" for i in range(args.rounds)]
    print_table(
        f"GET /api/v1/me (2 rpc per request), concurrency {args.concurrency}, {args.duration:g} s per run",
        ["bus", *rounds, "median req/s", "p50 ms", "p99 ms"],
        [
            [label, *[f"{r['rps']:.0f}" for r in results]]
            + [f"{median([r[k] for r in results]):.{d}f}" for k, d in (("rps", 0), ("p50_ms", 2), ("p99_ms", 2))]
            for label, results in runs.items()
        ],
    )
    rps = {label: median([r["rps"] for r in results]) for label, results in runs.items()}
    cost = (rps["open"] - rps["secured"]) / rps["open"] * 100
    print(f"\ncost of the secured bus: {cost:+.1f} % of the requests per second (target < 5 %)")
    print_table(
        f"bare rpc round trips (gateway -> accounts identities, 200 B), concurrency {args.concurrency}",
        ["bus", *[f"round {i + 1} /s" for i in range(args.rounds)], "median /s"],
        [[label, *[f"{v:.0f}" for v in values], f"{median(values):.0f}"] for label, values in trips.items()],
    )
    rpc_cost = (median(trips["open"]) - median(trips["secured"])) / median(trips["open"]) * 100
    print(f"\ncost of the secured bus on bare rpc: {rpc_cost:+.1f} %")
    results = {"conditions": info, "runs": runs, "round_trips": trips}
    save_results("bus_security", results | {"cost_percent": round(cost, 2), "rpc_cost_percent": round(rpc_cost, 2)})


if __name__ == "__main__":
    parser = Arguments(__doc__, "smoke run: 1 round of 3 s per bus", rounds=(3, 1), duration=(20.0, 3.0))
    parser.add_argument("--rounds", type=int, help="default 3, quick 1")
    parser.add_argument("--duration", type=float, help="seconds per run (default 20, quick 3)")
    parser.add_argument("--concurrency", type=int, default=16)
    arguments = parser.parse_args()
    run_main(lambda: main(arguments))
