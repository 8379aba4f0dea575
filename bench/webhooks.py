"""Webhooks: deliveries per second to a local receiver, and latency from commit to delivery at a
steady rate, beside raw JetStream publish in the same run.

What is measured and how: bench/README.md, "webhooks".

Exit status: 0 when the run measured what it claims, 1 when it is broken (a lost or duplicated
delivery, a bad signature, a timeout). Every request goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import Arguments  # noqa: E402
from bench._common import BrokenRun, conditions, database, nats_server, percentiles_ms, print_conditions  # noqa: E402
from bench._common import print_table, ratio, run_main, save_results, workdir  # noqa: E402
from bench.outbox_throughput import Env, padding_for, run_raw, run_trickle, TIMEOUT  # noqa: E402

import nats  # noqa: E402
from aiohttp import web  # noqa: E402
from standardwebhooks import Webhook  # noqa: E402

from ecandidat.contracts.accounts import AccountActivated  # noqa: E402
from ecandidat.contracts.errors import Unavailable  # noqa: E402
from ecandidat.contracts.webhooks import NewEndpoint, RegisteredEndpoint  # noqa: E402
from ecandidat.runtime.db import create_pool, migrate  # noqa: E402
from ecandidat.runtime.nats import declare_streams  # noqa: E402
from ecandidat.runtime.outbox import OutboxRelay, add_event  # noqa: E402
from ecandidat.runtime.rpc import RpcClient  # noqa: E402
from services.webhooks.service import WebhooksService  # noqa: E402
from services.webhooks.settings import WebhooksSettings  # noqa: E402


class Receiver:
    def __init__(self) -> None:
        self.secret = ""
        self.arrivals: dict[str, float] = {}
        self.duplicates = 0
        self.bad = 0
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            event = Webhook(self.secret).verify(body, dict(request.headers))
        except Exception:
            self.bad += 1
            return web.Response(status=401)
        if event["id"] in self.arrivals:
            self.duplicates += 1
        else:
            self.arrivals[event["id"]] = time.perf_counter()
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.port = self.runner.addresses[0][1]


async def commit_events(pool: Any, n: int, rate: float | None) -> dict[str, float]:
    """Commit n events (at `rate` per second, or as fast as possible); their commit times by id."""
    committed: dict[str, float] = {}
    start = time.perf_counter()
    for i in range(n):
        if rate:
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        async with pool.acquire() as conn, conn.transaction():
            event_id = await add_event(conn, AccountActivated(account_id=uuid.uuid4(), numero_dossier=f"26B{i:05d}"))
        committed[str(event_id)] = time.perf_counter()
    return committed


async def run_webhooks(pool: Any, receiver: Receiver, n: int, rate: float | None) -> dict[str, Any]:
    receiver.arrivals.clear()
    sent = await commit_events(pool, n, rate)
    deadline = time.monotonic() + TIMEOUT
    while not all(k in receiver.arrivals for k in sent):
        if time.monotonic() > deadline:
            raise BrokenRun(f"webhook deliveries not done within {TIMEOUT:.0f} s")
        await asyncio.sleep(0.01)
    if receiver.duplicates or receiver.bad:
        raise BrokenRun(f"{receiver.duplicates} duplicate(s), {receiver.bad} bad signature(s)")
    last = max(receiver.arrivals[k] for k in sent)
    path = f"webhooks at {rate:g}/s" if rate else "webhooks (burst)"
    latencies = [receiver.arrivals[k] - t for k, t in sent.items()]
    return {"path": path, "events": n, "events_per_s": n / (last - min(sent.values()))} | percentiles_ms(latencies)


def parse_args() -> argparse.Namespace:
    parser = Arguments(
        "webhook deliveries/s and commit→delivery latency beside raw JetStream",
        "smoke run: 200 events, 2 s steady",
        burst=(2000, 200),
        seconds=(20.0, 2.0),
    )
    parser.add_argument("--burst", type=int, help="events of the burst (default 2000, quick 200)")
    parser.add_argument("--rate", type=float, default=100.0, help="events/s of the steady runs (default 100)")
    parser.add_argument("--seconds", type=float, help="duration of the steady runs (default 20, quick 2)")
    return parser.parse_args()


async def main() -> None:
    args = parse_args()
    n = int(args.rate * args.seconds)
    steady = f"{args.rate:g} events/s for {args.seconds:g} s ({n} events)"
    info = conditions(mode="quick" if args.quick else "full", burst=args.burst, steady=steady)
    with workdir("webhooks") as folder, nats_server(folder) as ns:
        async with database(folder) as db:
            info["database"] = db.where
            info["process layout"] = "producer, outbox relay, webhooks service and receiver in this one process"
            print_conditions(info)
            nc = await nats.connect(ns.url)
            await declare_streams(nc.jetstream())
            await migrate(db.url, "accounts", None)
            pool = await create_pool(db.url, "accounts", max_size=4)
            relay = OutboxRelay(db.url, "accounts", nc)
            relay_task = asyncio.create_task(relay.run())
            receiver = Receiver()
            await receiver.start()
            settings = dict(database_url=db.url, nats_url=ns.url, log_format="text", ecandidat_env="development")
            service = WebhooksService(WebhooksSettings(**settings, webhook_allow_private=True))
            await service.start()
            try:
                hook = f"http://127.0.0.1:{receiver.port}/hook"
                endpoint = NewEndpoint(url=hook, event_types=["accounts.account.activated"])
                for _ in range(100):  # the service's rpc subscription reaches nats-server shortly after start()
                    try:
                        registered = await RpcClient(nc, timeout=10).call(endpoint, RegisteredEndpoint)
                        break
                    except Unavailable:
                        await asyncio.sleep(0.1)
                else:
                    raise BrokenRun("the webhooks service never answered NewEndpoint")
                receiver.secret = registered.secret
                raw = Env(db.url, ns.url, padding_for(300), TIMEOUT)  # outbox_throughput's raw JetStream
                await run_webhooks(pool, receiver, 50, None)  # warm-up, not reported
                rows = [await run_raw(raw, args.burst), await run_webhooks(pool, receiver, args.burst, None)]
                at_rate = [
                    await run_trickle(raw, "raw", n, args.rate),
                    await run_webhooks(pool, receiver, n, args.rate),
                ]
            finally:
                await service.stop()
                relay_task.cancel()
                await asyncio.gather(relay_task, return_exceptions=True)
                await receiver.runner.cleanup()
                await pool.close()
                await nc.close()
    print_table(
        "Throughput (events/s)",
        ["path", "events", "events/s"],
        [[r["path"], r["events"], round(r["events_per_s"])] for r in rows],
    )
    print(f"webhooks / raw publish: {ratio(rows[1]['events_per_s'], rows[0]['events_per_s']):.3f}")
    print_table(
        f"Latency at {args.rate:g} events/s (ms)",
        ["path", "events", "p50", "p99", "max"],
        [[r["path"], r["events"], *(round(r[k], 1) for k in ("p50_ms", "p99_ms", "max_ms"))] for r in at_rate],
    )
    save_results("webhooks", {"conditions": info, "throughput": rows, "steady": at_rate})


if __name__ == "__main__":
    run_main(main)
