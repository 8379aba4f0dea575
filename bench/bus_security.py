"""What the secured bus costs: authenticated reads through the gateway, NATS open vs secured, same run.

What is measured and how: bench/README.md, "bus_security".

Exit status 1 when the run is broken (an answer other than 200, a process that died).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import account_form, BrokenRun, conditions, database, free_port, http_load, LOCALHOST  # noqa: E402
from bench._common import logs_dir, median, print_conditions, print_table, Process, run_main, save_results  # noqa: E402
from bench._common import wait_healthy, workdir  # noqa: E402
from ecandidat.devstack.infra import NatsServer  # noqa: E402

PASSWORD = "une phrase de passe de banc d'essai"


def stack_env(bus: NatsServer, database_url: str, port: int, identity: str | None = None) -> dict[str, str]:
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
    return env


async def start_stack(name: str, bus: NatsServer, database_url: str, logs: Path) -> tuple[list[Process], int]:
    port = free_port()
    env = stack_env(bus, database_url, port)
    processes = [
        Process(f"accounts-{name}", [sys.executable, "-m", "services.accounts"], logs / f"accounts-{name}.log", env),
        Process(f"gateway-{name}", [sys.executable, "-m", "gateway"], logs / f"gateway-{name}.log", env),
    ]
    for process in processes:
        process.__enter__()
    try:
        await wait_healthy(f"http://{LOCALHOST}:{port}/health", processes, timeout=120)
    except BaseException:
        for process in processes:
            process.stop()
        raise
    return processes, port


async def make_sessions(port: int, database_url: str, count: int) -> list[str]:
    """Candidates created through the API, activated in the database (no mailer here), logged in."""
    import aiohttp
    import asyncpg

    base = f"http://{LOCALHOST}:{port}/api/v1"
    tokens = []
    async with aiohttp.ClientSession() as http:
        for i in range(count):
            email = f"banc.{uuid.uuid4().hex[:10]}@example.org"
            form = account_form(email, prenom=f"Bus{i}", password=PASSWORD)
            async with http.post(f"{base}/accounts", json=form) as response:
                if response.status != 201:
                    raise BrokenRun(f"account creation answered {response.status}: {await response.text()}")
                account = await response.json()
            conn = await asyncpg.connect(database_url, server_settings={"search_path": "accounts"})
            try:
                await conn.execute(
                    "UPDATE candidates SET activated_at = now() WHERE account_id = $1", uuid.UUID(account["account_id"])
                )
            finally:
                await conn.close()
            async with http.post(f"{base}/sessions", json={"login": email, "password": PASSWORD}) as response:
                if response.status != 201:
                    raise BrokenRun(f"login answered {response.status}: {await response.text()}")
                tokens.append((await response.json())["token"])
    return tokens


async def measure(bus: NatsServer, label: str, database_url: str, logs: Path, token: str, args) -> dict:
    processes, port = await start_stack(label, bus, database_url, logs)
    try:
        url = f"http://{LOCALHOST}:{port}/api/v1/me"
        headers = {"Authorization": f"Bearer {token}"}
        await http_load(url, concurrency=args.concurrency, count=200, headers=headers)  # warm-up
        result = await http_load(
            url, concurrency=args.concurrency, duration=args.duration, label=label, headers=headers
        )
        for process in processes:
            process.check()
        if result.failed:
            raise BrokenRun(
                f"{label}: {result.failed} failed requests: {result.statuses} {result.errors} {result.samples}"
            )
        return result.summary()
    finally:
        for process in processes:
            process.stop()


async def round_trips(bus: NatsServer, seconds: float, concurrency: int) -> float:
    """Rpc round trips per second between the gateway's and the accounts service's identities."""
    import nats

    responder = await nats.connect(bus.url, **bus.connect_options("accounts"))
    caller = await nats.connect(bus.url, **bus.connect_options("gateway"))
    try:

        async def echo(msg) -> None:
            await msg.respond(msg.data)

        await responder.subscribe("rpc.accounts.echo", queue="accounts", cb=echo)
        await responder.flush()
        payload = b"x" * 200
        done = [0]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds

        async def worker() -> None:
            while loop.time() < deadline:
                reply = await caller.request("rpc.accounts.echo", payload, timeout=5)
                if reply.data != payload:
                    raise BrokenRun("echo answered something else")
                done[0] += 1

        started = loop.time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done[0] / (loop.time() - started)
    finally:
        await caller.close()
        await responder.close()


async def main_async(args: argparse.Namespace) -> None:
    info = conditions(bench="bus_security", rounds=args.rounds, duration=args.duration, concurrency=args.concurrency)
    print_conditions(info)
    logs = logs_dir("bus_security")
    with workdir("bus") as folder:
        open_bus = NatsServer(store_dir=folder / "open", name="bench-open", log_file=logs / "nats-open.log")
        secured_bus = NatsServer(
            store_dir=folder / "secured",
            name="bench-secured",
            log_file=logs / "nats-secured.log",
            credentials=folder / "credentials",
        )
        with open_bus, secured_bus:
            secured_bus.provision()
            async with database(folder) as db:
                info["database"] = db.where
                processes, port = await start_stack("setup", secured_bus, db.url, logs)
                try:
                    [token] = await make_sessions(port, db.url, 1)
                finally:
                    for process in processes:
                        process.stop()
                runs: dict[str, list[dict]] = {"open": [], "secured": []}
                trips: dict[str, list[float]] = {"open": [], "secured": []}
                for round_ in range(args.rounds):
                    order = [("open", open_bus), ("secured", secured_bus)]
                    if round_ % 2:
                        order.reverse()
                    for label, bus in order:
                        runs[label].append(await measure(bus, label, db.url, logs, token, args))
                    for label, bus in order:
                        trips[label].append(await round_trips(bus, args.duration / 2, args.concurrency))
    rows = []
    for label, results in runs.items():
        rows.append(
            [
                label,
                *[f"{r['rps']:.0f}" for r in results],
                f"{median([r['rps'] for r in results]):.0f}",
                f"{median([r['p50_ms'] for r in results]):.2f}",
                f"{median([r['p99_ms'] for r in results]):.2f}",
            ]
        )
    open_rps = median([r["rps"] for r in runs["open"]])
    secured_rps = median([r["rps"] for r in runs["secured"]])
    cost = (open_rps - secured_rps) / open_rps * 100
    print_table(
        f"GET /api/v1/me (2 rpc per request), concurrency {args.concurrency}, {args.duration:g} s per run",
        ["bus", *[f"round {i + 1} req/s" for i in range(args.rounds)], "median req/s", "p50 ms", "p99 ms"],
        rows,
    )
    print(f"\ncost of the secured bus: {cost:+.1f} % of the requests per second (target < 5 %)")
    print_table(
        f"bare rpc round trips (gateway -> accounts identities, 200 B), concurrency {args.concurrency}",
        ["bus", *[f"round {i + 1} /s" for i in range(args.rounds)], "median /s"],
        [[label, *[f"{v:.0f}" for v in values], f"{median(values):.0f}"] for label, values in trips.items()],
    )
    rpc_cost = (median(trips["open"]) - median(trips["secured"])) / median(trips["open"]) * 100
    print(f"\ncost of the secured bus on bare rpc: {rpc_cost:+.1f} %")
    save_results(
        "bus_security",
        {
            "conditions": info,
            "runs": runs,
            "round_trips": trips,
            "cost_percent": round(cost, 2),
            "rpc_cost_percent": round(rpc_cost, 2),
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round of 3 s per bus")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.duration = 1, 3.0
    run_main(lambda: main_async(args))


if __name__ == "__main__":
    main()
