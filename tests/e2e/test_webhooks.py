"""Webhooks end to end: an administrator registers endpoints through the gateway, events committed
on the bus reach real local HTTP receivers, signed (verified with the `standardwebhooks` library),
once each, in order per subject, through a receiver outage; a failing endpoint holds up no other;
a replay delivers a range again; the SSRF guard refuses 127.0.0.1 by default."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import nats
import nats.js.errors
import pytest
from aiohttp import web
from standardwebhooks import Webhook

from ecandidat.contracts.accounts import AccountActivated, AccountPasswordChanged
from ecandidat.contracts.envelope import envelope
from ecandidat.contracts.subjects import event_subject
from ecandidat.runtime import metrics
from tests.conftest import eventually
from tests.e2e.test_accounts import text_of
from tests.e2e.test_accounts_staff import admin

pytestmark = pytest.mark.slow

FAST_WEBHOOKS = dict(
    webhook_allow_private=True,
    webhook_retry_base=0.1,
    webhook_retry_max=0.5,
    webhook_reconcile_interval=0.5,
    webhook_ack_wait=5.0,
)
ACTIVATED, PASSWORD = "accounts.account.activated", "accounts.account.password_changed"


class Receiver:
    """A local HTTP endpoint that verifies each request's signature with the library and records it;
    it can answer 500 to every request, or go down (its port closed) and come back."""

    def __init__(self) -> None:
        self.secret: str | None = None
        self.received: list[dict] = []  # verified bodies, in arrival order
        self.failing = False
        self.port = 0
        self.runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        if self.failing:
            return web.Response(status=500)
        body = await request.read()
        event = Webhook(self.secret).verify(body, dict(request.headers))  # raises on a bad signature
        assert request.headers["webhook-id"] == event["id"]
        self.received.append(event)
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        await self.runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def ids(self, event_type: str | None = None) -> list[str]:
        return [e["id"] for e in self.received if event_type is None or e["type"].endswith(event_type)]


@pytest.fixture
async def receivers():
    made: list[Receiver] = []

    async def make() -> Receiver:
        receiver = Receiver()
        await receiver.start()
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        if receiver.runner is not None:
            await receiver.runner.cleanup()


@pytest.fixture
async def bus(nats_server):
    """Commits events on the public stream as the producer would (ops identity, Nats-Msg-Id)."""
    nc = await nats.connect(nats_server.url, **nats_server.connect_options())
    js = nc.jetstream()

    async def publish(event) -> str:
        event_id = uuid.uuid4()
        cloud = envelope(event, event_id=event_id, time=datetime.now(timezone.utc), subject=str(event.account_id))
        await js.publish(event_subject(event), cloud.model_dump_json().encode(), headers={"Nats-Msg-Id": str(event_id)})
        return str(event_id)

    yield publish
    await nc.close()


async def platform_with_webhooks(start_platform, **webhooks):
    return await start_platform("accounts", "webhooks", webhooks={**FAST_WEBHOOKS, **webhooks})


async def registered(staff, receiver: Receiver, event_types: list[str]) -> str:
    status, body, _ = await staff.call(
        "POST", "/api/v1/staff/webhooks", {"url": receiver.url, "event_types": event_types}
    )
    assert status == 201, body
    assert body["secret"].startswith("whsec_") and body["endpoint"]["status"] == "active"
    receiver.secret = body["secret"]
    return body["endpoint"]["id"]


def activated(n: int) -> AccountActivated:
    return AccountActivated(account_id=uuid.uuid4(), numero_dossier=f"26WH{n:04d}")


def password_changed(n: int) -> AccountPasswordChanged:
    return AccountPasswordChanged(**_sample(AccountPasswordChanged, n))


def _sample(model, n: int) -> dict:
    from gateway.examples import example

    schema = model.model_json_schema()
    data = example(schema, schema.get("$defs", {}), depth=1)
    data["account_id"] = str(uuid.uuid4())
    return data


async def test_signed_in_order_once_each_through_an_outage_and_replayed(start_platform, receivers, bus):
    platform = await platform_with_webhooks(start_platform)
    staff = await admin(platform)
    receiver = await receivers()
    # Kept from before the endpoint and the replay's range, as a platform in service keeps them: an
    # activation, older than the range's, which nats-server's own start by time on several subjects
    # took for the range's first, skipping every activation of the range (services.webhooks.delivery).
    await bus(activated(99))
    endpoint = await registered(staff, receiver, [ACTIVATED, PASSWORD])

    since = datetime.now(timezone.utc)  # the replay's range starts here: the suite's other events are older
    first = [await bus(activated(i)) for i in range(5)]
    await eventually(lambda: receiver.ids() == first, timeout=30, message="the first events")

    await receiver.stop()  # down: its port is closed
    during = []
    for i in range(5, 15):
        during.append(await bus(activated(i)))
    others = [await bus(password_changed(i)) for i in range(3)]
    status, log, _ = await staff.call("GET", f"/api/v1/staff/webhooks/{endpoint}/deliveries")
    assert status == 200, log
    await eventually(lambda: _failed_attempt(staff, endpoint), timeout=30, message="attempts while down")
    await receiver.start()  # back, on the same port
    await eventually(
        lambda: set(receiver.ids()) == set(first + during + others),
        timeout=60,
        message="every event once the receiver is back",
    )
    assert receiver.ids(ACTIVATED) == first + during  # in order per subject
    assert receiver.ids(PASSWORD) == others
    assert len(receiver.ids()) == len(set(receiver.ids()))  # none twice

    status, log, _ = await staff.call("GET", f"/api/v1/staff/webhooks/{endpoint}/deliveries?limit=500")
    assert status == 200 and {d["status"] for d in log["items"]} == {"delivered"}
    assert max(d["attempts"] for d in log["items"]) > 1

    # Replay: the range of this test's events goes out again, same ids, in order.
    received = len(receiver.received)
    status, body, _ = await staff.call(
        "POST",
        f"/api/v1/staff/webhooks/{endpoint}/replays",
        {"since": since.isoformat(), "until": datetime.now(timezone.utc).isoformat()},
    )
    assert status == 202, body
    await eventually(
        lambda: len(receiver.received) >= received + len(first + during + others),
        timeout=60,
        message="the replayed range",
    )
    replayed = [e["id"] for e in receiver.received[received:] if e["type"].endswith(ACTIVATED)]
    assert replayed == first + during

    async def replay_finished() -> bool:
        async with platform.services["webhooks"].pool.acquire() as conn:
            return await conn.fetchval(
                "SELECT bool_and(finished_at IS NOT NULL AND pending_streams = '{}') FROM replays WHERE endpoint_id = $1",
                uuid.UUID(endpoint),
            )

    await eventually(replay_finished, timeout=60, message="the replay recorded as finished")


async def _failed_attempt(staff, endpoint) -> bool:
    _, log, _ = await staff.call("GET", f"/api/v1/staff/webhooks/{endpoint}/deliveries")
    return any(d["status"] == "pending" and d["attempts"] >= 1 and d["last_error"] for d in log["items"])


async def test_a_failing_endpoint_holds_up_no_other(start_platform, receivers, bus):
    platform = await platform_with_webhooks(start_platform)
    staff = await admin(platform)
    failing, healthy = await receivers(), await receivers()
    failing.failing = True
    await registered(staff, failing, [ACTIVATED])
    await registered(staff, healthy, [ACTIVATED])
    sent = [await bus(activated(100 + i)) for i in range(5)]
    await eventually(lambda: healthy.ids() == sent, timeout=30, message="the healthy endpoint's deliveries")
    assert failing.received == []
    text = metrics.exposition(await metrics.service_families(platform.services["webhooks"])).decode()
    assert 'ecandidat_webhook_requests_total{outcome="failed"}' in text
    assert 'ecandidat_webhook_endpoints{status="failing"}' in text
    failing.failing = False  # it recovers: its events follow, in order
    await eventually(lambda: failing.ids() == sent, timeout=30, message="the recovered endpoint's deliveries")


async def test_rotation_pause_and_the_admin_api_refusals(start_platform, receivers, bus):
    platform = await platform_with_webhooks(start_platform)
    staff = await admin(platform)
    receiver = await receivers()
    endpoint = await registered(staff, receiver, [ACTIVATED])
    old_secret = receiver.secret

    status, body, _ = await staff.call("POST", f"/api/v1/staff/webhooks/{endpoint}/secret")
    assert status == 200 and body["secret"] != old_secret
    receiver.secret = body["secret"]  # the new one verifies; the old one still signs beside it meanwhile
    first = await bus(activated(200))
    await eventually(lambda: receiver.ids() == [first], timeout=30, message="delivery with the new secret")
    assert "secret" not in json.dumps((await staff.call("GET", "/api/v1/staff/webhooks"))[1])

    dispatcher = platform.services["webhooks"].dispatcher
    durable = f"webhooks_ep-{uuid.UUID(endpoint).hex}-accounts"
    js = platform.services["webhooks"].nc.jetstream()
    _, pumping = dispatcher.pumps[durable]
    status, body, _ = await staff.call("POST", f"/api/v1/staff/webhooks/{endpoint}/pause")
    assert status == 200 and body["status"] == "paused"
    await eventually(
        lambda: pumping.finished and durable not in dispatcher.pumps,
        timeout=30,
        message="the paused endpoint's loop ended",
    )
    held = await bus(activated(201))

    async def held_back() -> bool:  # in the endpoint's consumer, neither delivered nor pulled by anyone
        info = await js.consumer_info("EVT_ACCOUNTS", durable)
        return info.num_pending >= 1 and info.num_ack_pending == 0 and info.num_waiting == 0

    await eventually(held_back, timeout=30, message="the event held back for the paused endpoint")
    assert receiver.ids() == [first] and durable not in dispatcher.pumps
    status, body, _ = await staff.call("POST", f"/api/v1/staff/webhooks/{endpoint}/resume")
    assert status == 200 and body["status"] == "active"
    await eventually(lambda: receiver.ids() == [first, held], timeout=30, message="delivery after resume")

    for payload, field in (
        ({"url": "ftp://example.org/x", "event_types": [ACTIVATED]}, "url"),
        ({"url": "https://example.org/x", "event_types": ["nope.nope"]}, "event_types"),
        ({"url": "https://example.org/x", "event_types": []}, "event_types"),
    ):
        status, body, _ = await staff.call("POST", "/api/v1/staff/webhooks", payload)
        assert status == 422 and body["errors"][0]["field"] == field, body
    status, body, _ = await staff.call("POST", f"/api/v1/staff/webhooks/{uuid.uuid4()}/pause")
    assert status == 404, body
    status, body, _ = await staff.call("DELETE", f"/api/v1/staff/webhooks/{uuid.uuid4()}")
    assert status == 404, body
    status, body, _ = await staff.call(
        "POST",
        f"/api/v1/staff/webhooks/{endpoint}/replays",
        {"since": "2026-03-14T10:00:00+01:00", "until": "2026-03-14T09:00:00+01:00"},
    )
    assert status == 422, body

    witness = await receivers()
    await registered(staff, witness, [ACTIVATED])
    _, pumping = dispatcher.pumps[durable]
    status, _, _ = await staff.call("DELETE", f"/api/v1/staff/webhooks/{endpoint}")
    assert status == 204
    status, body, _ = await staff.call("GET", "/api/v1/staff/webhooks")
    assert endpoint not in {e["id"] for e in body["items"]}
    await eventually(
        lambda: pumping.finished and durable not in dispatcher.pumps,
        timeout=30,
        message="the deleted endpoint's loop ended",
    )
    with pytest.raises(nats.js.errors.NotFoundError):  # its consumer is gone from the stream
        await js.consumer_info("EVT_ACCOUNTS", durable)
    gone = await bus(activated(202))
    # The other endpoint has it: the event went through the dispatcher, which had nowhere else to send it.
    await eventually(lambda: gone in witness.ids(), timeout=30, message="the event delivered to the other endpoint")
    assert gone not in receiver.ids()


async def test_loopback_is_refused_by_default(start_platform, receivers):
    platform = await start_platform("accounts", "webhooks")
    staff = await admin(platform)
    receiver = await receivers()
    for url in (
        receiver.url,
        "http://localhost:8080/x",
        "http://[::1]/x",
        "http://169.254.169.254/latest",
        "http://10.0.0.8/x",
    ):
        status, body, _ = await staff.call("POST", "/api/v1/staff/webhooks", {"url": url, "event_types": [ACTIVATED]})
        assert status == 422 and body["errors"][0]["field"] == "url", (url, body)
        assert "privée, locale ou réservée" in body["detail"]
    status, body, _ = await staff.call("GET", "/api/v1/staff/webhooks")
    assert status == 200 and receiver.url not in {e["url"] for e in body["items"]}


async def test_an_endpoint_failing_too_long_is_disabled_its_administrator_mailed_and_resumed(
    start_platform, receivers, bus, smtp_sink
):
    platform = await start_platform(
        "accounts", "mailer", "webhooks", webhooks={**FAST_WEBHOOKS, "webhook_give_up_after": 1.0}
    )
    staff = await admin(platform)
    receiver = await receivers()
    receiver.failing = True
    endpoint = await registered(staff, receiver, [ACTIVATED])
    sent = [await bus(activated(300 + i)) for i in range(2)]

    async def disabled() -> bool:
        _, body, _ = await staff.call("GET", "/api/v1/staff/webhooks")
        return any(e["id"] == endpoint and e["status"] == "disabled" and e["disabled_at"] for e in body["items"])

    await eventually(disabled, timeout=30, message="the endpoint disabled")
    (mail,) = await smtp_sink.wait_for(
        1, timeout=30, match=lambda m: m["To"] == staff.email and "webhooks a été désactivé" in m["Subject"]
    )
    assert receiver.url in text_of(mail) and "HTTP 500" in text_of(mail)

    receiver.failing = False
    status, body, _ = await staff.call("POST", f"/api/v1/staff/webhooks/{endpoint}/resume")
    assert status == 200 and body["status"] == "active" and body["failing_since"] is None
    await eventually(lambda: receiver.ids() == sent, timeout=30, message="nothing lost while disabled")


async def test_two_replicas_deliver_in_order_once_each(start_platform, receivers, bus, settings_for):
    """Both replicas run every endpoint's loop; the consumer hands out one event at a time, so the
    order and the single delivery hold whichever replica sends."""
    from services.webhooks.service import WebhooksService
    from services.webhooks.settings import WebhooksSettings

    platform = await platform_with_webhooks(start_platform)
    second = WebhooksService(settings_for(WebhooksSettings, **FAST_WEBHOOKS), clock=platform.clock)
    await second.start()
    try:
        staff = await admin(platform)
        receiver = await receivers()
        endpoint = await registered(staff, receiver, [ACTIVATED])
        durable = f"webhooks_ep-{uuid.UUID(endpoint).hex}-accounts"
        js = second.nc.jetstream()

        async def both_waiting() -> bool:  # each replica's loop has a pull request pending
            try:
                return (await js.consumer_info("EVT_ACCOUNTS", durable)).num_waiting >= 2
            except nats.js.errors.NotFoundError:
                return False

        await eventually(both_waiting, timeout=30, message="both replicas pulling")
        sent = [await bus(activated(400 + i)) for i in range(20)]

        def shares() -> list[int]:
            return [
                sum(p.delivered for p, _ in s.dispatcher.pumps.values())
                for s in (platform.services["webhooks"], second)
            ]

        async def all_acknowledged() -> bool:  # nothing left that could be delivered (again)
            info = await js.consumer_info("EVT_ACCOUNTS", durable)
            return info.num_pending == 0 and info.num_ack_pending == 0 and sum(shares()) >= len(sent)

        await eventually(all_acknowledged, timeout=60, message="every event delivered and acknowledged")
        assert receiver.ids() == sent
        assert sum(shares()) == len(sent) and all(shares()), shares()  # both replicas sent some
    finally:
        await second.stop()
