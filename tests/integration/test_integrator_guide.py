"""docs/INTEGRATORS.md's NATS way in, as an integrator follows it: connect with the organisation's
nkey file, JetStream under the integrator prefix, a durable consumer of its own; stopped for a
while, it resumes after the last event it acknowledged, losing none."""

from __future__ import annotations

import json
import uuid

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from ecandidat.runtime.natsauth import INTEGRATOR, INTEGRATOR_JS_PREFIX

SUBJECT = "evt.candidatures.candidature.confirmed"


async def _publish(nats_server, count: int) -> list[str]:
    nc = await nats.connect(nats_server.url, **nats_server.connect_options())
    ids = []
    for _ in range(count):
        event_id = str(uuid.uuid4())
        await nc.jetstream().publish(SUBJECT, json.dumps({"id": event_id}).encode(), headers={"Nats-Msg-Id": event_id})
        ids.append(event_id)
    await nc.close()
    return ids


async def _subscribe(nats_server, durable: str):
    nc = await nats.connect(nats_server.url, nkeys_seed=str(nats_server.credentials.seed_file(INTEGRATOR)))
    js = nc.jetstream(prefix=INTEGRATOR_JS_PREFIX)
    sub = await js.pull_subscribe(
        SUBJECT,
        durable=durable,
        stream="EVT_CANDIDATURES",
        config=ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT, ack_wait=60, max_ack_pending=1, deliver_policy=DeliverPolicy.NEW
        ),
    )  # the guide says ALL; the test stream holds others
    return nc, sub


async def test_a_durable_consumer_resumes_after_downtime(nats_server):
    assert INTEGRATOR_JS_PREFIX == "JS.ecandidat.API"  # the prefix the guide gives
    durable = f"pegase_{uuid.uuid4().hex[:8]}"
    nc, sub = await _subscribe(nats_server, durable)
    first = await _publish(nats_server, 3)
    handled = []
    for _ in range(2):
        (msg,) = await sub.fetch(1, timeout=10)
        handled.append(json.loads(msg.data)["id"])
        await msg.ack_sync()
    await nc.close()  # the integrator's program stops before handling the third event

    later = await _publish(nats_server, 2)  # published during the downtime
    nc, sub = await _subscribe(nats_server, durable)  # the same program, started again
    try:
        while len(handled) < 5:
            (msg,) = await sub.fetch(1, timeout=70)  # the unacknowledged third comes back within ack_wait
            handled.append(json.loads(msg.data)["id"])
            await msg.ack_sync()
    finally:
        await nc.close()
    assert handled == first + later
