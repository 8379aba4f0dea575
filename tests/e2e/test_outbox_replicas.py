"""Two replicas of a service, each a real process with its own NATS user: the events committed by
the replica whose outbox relay stands by are published by the leader at once, told by the
replica's signal, not found at the leader's next poll (a minute here); and when the leader's
process stops, the other replica's relay takes over at once, not at its next try of the lock."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys

import nats
import pytest

from ecandidat.devstack._process import free_port
from ecandidat.runtime.sealing import new_key
from ecandidat.runtime.nats import flush
from tests.conftest import eventually
from tests.e2e.test_accounts import account_form, api, sealing_overrides
from tests.e2e.test_observability import sample, scrape

pytestmark = pytest.mark.slow

POLL = 60  # seconds: OUTBOX_POLL_INTERVAL and OUTBOX_LOCK_RETRY of both replicas, longer than any wait here
WITHIN = 5.0  # seconds an account's event may take from its creation's answer to the bus


@pytest.mark.timeout(300)  # two real accounts processes started on a machine that may be loaded
async def test_a_replica_s_events_reach_the_bus_at_once_through_the_leader(
    start_platform, process_env, nats_server, tmp_path
):
    key = new_key()
    ports = [free_port(), free_port()]
    env = dict(
        process_env,
        LINK_SEALING_KEY=key,
        ACCOUNTS_HASH_WORKERS="1",
        ACCOUNTS_CREATIONS_PER_HOUR_CLIENT="1000000",
        OUTBOX_POLL_INTERVAL=str(POLL),
        OUTBOX_LOCK_RETRY=str(POLL),
    )
    logs = [open(tmp_path / f"accounts-{i}.log", "ab") for i in range(2)]
    replicas = [
        subprocess.Popen(
            [sys.executable, "-m", "services.accounts"], env=dict(env, METRICS_PORT=str(port)), stdout=log, stderr=log
        )
        for port, log in zip(ports, logs)
    ]
    operator = await nats.connect(nats_server.url, **nats_server.connect_options())
    created: dict[str, float] = {}  # account id → when its event reached the bus

    async def heard(msg) -> None:
        created[json.loads(msg.data)["data"]["account_id"]] = asyncio.get_running_loop().time()

    try:
        await operator.subscribe("evt.accounts.account.created", cb=heard)
        await flush(operator)

        async def roles() -> dict[str, int] | None:
            texts = []
            for port in ports:
                try:
                    texts.append((await scrape(port))[1])
                except OSError:
                    return None
            leaders = [sample(t, "ecandidat_outbox_relay_leader", service="accounts") for t in texts]
            if sorted(leaders) != [0.0, 1.0]:
                return None
            return {"leader": ports[leaders.index(1.0)], "standby": ports[leaders.index(0.0)]}

        found = await eventually(roles, timeout=120, message="both replicas up, one of them the relay's leader")
        overrides = sealing_overrides()
        platform = await start_platform(gateway={**overrides["gateway"], "gateway_services": ("accounts",)})

        async def signals(port: int, direction: str) -> float:
            return sample(
                (await scrape(port))[1], "ecandidat_outbox_signals_total", service="accounts", direction=direction
            )

        loop = asyncio.get_running_loop()
        accounts = 0
        # Creations go to either replica (a NATS queue group): until the standby has had two of them.
        while await signals(found["standby"], "sent") < 2:
            assert accounts < 40, "forty creations and none answered by the standby replica"
            status, body, _ = await api(platform, "POST", "/api/v1/accounts", account_form())
            assert status == 201, body
            answered = loop.time()
            account_id = body["account_id"]
            await eventually(
                lambda: account_id in created, timeout=WITHIN, message=f"account {accounts + 1}'s event on the bus"
            )
            assert created[account_id] - answered < WITHIN
            accounts += 1
        assert await signals(found["leader"], "received") >= 2

        # A rolling deployment stops the leader: the standby takes over at once, not at its next
        # try of the lock (a minute), and the next account's event goes through it.
        leader = replicas[ports.index(found["leader"])]
        leader.send_signal(signal.SIGTERM)
        await asyncio.to_thread(leader.wait, 30)

        async def standby_leads() -> bool:
            text = (await scrape(found["standby"]))[1]
            return sample(text, "ecandidat_outbox_relay_leader", service="accounts") == 1.0

        await eventually(standby_leads, timeout=WITHIN, message="the standby took over the relay")
        status, body, _ = await api(platform, "POST", "/api/v1/accounts", account_form())
        assert status == 201, body
        account_id = body["account_id"]
        await eventually(lambda: account_id in created, timeout=WITHIN, message="the event through the new leader")
    finally:
        for process in replicas:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in replicas:
            try:
                await asyncio.to_thread(process.wait, 30)
            except subprocess.TimeoutExpired:
                process.kill()
        await operator.close()
        for log in logs:
            log.close()
