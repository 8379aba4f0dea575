"""Another replica of a kit test's service, in a process of its own: its outbox relay stands by
(the test's relay holds the lock) while it commits events, then it prints how many signals it
sent to the leader and waits for its stdin to close.

`python -m tests.integration.outbox_replica DSN SCHEMA PRODUCER COUNT` with NATS_URL and the
connection's seed (NATS_NKEY_SEED) in the environment.
"""

from __future__ import annotations

import asyncio
import os
import sys

import nats

from ecandidat.contracts.base import Event
from ecandidat.runtime.db import create_pool
from ecandidat.runtime.outbox import OutboxRelay, add_event


async def main(dsn: str, schema: str, producer: str, count: int) -> None:
    probe = type(
        "Probe",
        (Event,),
        {"__annotations__": {"value": int}, "producer": producer, "entity": "probe", "action": "happened"},
    )
    options = {"nkeys_seed_str": os.environ["NATS_NKEY_SEED"]} if os.environ.get("NATS_NKEY_SEED") else {}
    nc = await nats.connect(os.environ["NATS_URL"], **options)
    pool = await create_pool(dsn, schema, max_size=2)
    relay = OutboxRelay(dsn, schema, nc, poll_interval=3600)
    task = asyncio.create_task(relay.run())
    while relay.state != "standby":
        await asyncio.sleep(0.02)
    for value in range(count):
        async with pool.acquire() as conn, conn.transaction():
            await add_event(conn, probe(value=value))
        await asyncio.sleep(0.05)
    await nc.flush()
    print(f"committed {count} signals {relay.signals_sent} state {relay.state}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await pool.close()
    await nc.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
