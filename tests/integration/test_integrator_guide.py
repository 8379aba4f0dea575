"""docs/INTEGRATORS.md's NATS way in, as an integrator follows it: connect with the organisation's
nkey file, JetStream under the integrator prefix, a durable consumer of its own; stopped for a
while, it resumes after the last event it acknowledged, losing none; made to start from a date on
several subjects, it gets every event of that date."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from ecandidat.runtime.natsauth import INTEGRATOR, INTEGRATOR_JS_PREFIX

SUBJECT = "evt.candidatures.candidature.confirmed"


async def _publish(nats_server, count: int, subject: str = SUBJECT) -> list[str]:
    nc = await nats.connect(nats_server.url, **nats_server.connect_options())
    ids = []
    for _ in range(count):
        event_id = str(uuid.uuid4())
        await nc.jetstream().publish(subject, json.dumps({"id": event_id}).encode(), headers={"Nats-Msg-Id": event_id})
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


async def test_a_consumer_of_several_subjects_from_a_date_gets_every_event_of_that_date(nats_server):
    withdrawn = "evt.candidatures.candidature.withdrawn"
    await _publish(nats_server, 2)  # kept from before the date, as a platform in service keeps them
    since = datetime.now(timezone.utc)
    confirmed = await _publish(nats_server, 3)
    withdrawals = await _publish(nats_server, 2, withdrawn)

    nc = await nats.connect(nats_server.url, nkeys_seed=str(nats_server.credentials.seed_file(INTEGRATOR)))
    js = nc.jetstream(prefix=INTEGRATOR_JS_PREFIX)
    try:
        # The guide's way: the sequence of the date's first event, asked of a consumer without
        # filter, then the consumer of the subjects from that sequence.
        probe = await js.add_consumer(
            "EVT_CANDIDATURES",
            ConsumerConfig(
                name="pegase_probe",
                ack_policy=AckPolicy.NONE,
                deliver_policy=DeliverPolicy.BY_START_TIME,
                opt_start_time=since,
                inactive_threshold=60,
            ),
        )
        await js.delete_consumer("EVT_CANDIDATURES", "pegase_probe")
        durable = f"pegase_{uuid.uuid4().hex[:8]}"
        await js.add_consumer(
            "EVT_CANDIDATURES",
            ConsumerConfig(
                durable_name=durable,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=probe.delivered.stream_seq + 1,
                filter_subjects=[SUBJECT, withdrawn],
            ),
        )
        sub = await js.pull_subscribe_bind(durable, "EVT_CANDIDATURES")
        handled = []
        while len(handled) < 5:
            (msg,) = await sub.fetch(1, timeout=10)
            handled.append(json.loads(msg.data)["id"])
            await msg.ack_sync()
        await js.delete_consumer("EVT_CANDIDATURES", durable)
    finally:
        await nc.close()
    assert handled == confirmed + withdrawals
