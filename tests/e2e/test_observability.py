"""What an operator watches: `/metrics` after a journey, the access log, the request id that follows
a request into the events it causes, and the delivery log that keeps no working link."""

from __future__ import annotations

import io
import json
import logging
import re
import uuid

import aiohttp
import nats
import pytest

from ecandidat.runtime.logging import JsonFormatter
from gateway.metrics import METRICS_PORT
from tests.conftest import eventually
from tests.e2e.test_accounts import (
    PASSWORD,
    account_form,
    api,
    create_account,
    login,
    mail_to,
    sealing_overrides,
    token_in,
)


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text format (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def scrape(port: int, path: str = "/metrics") -> tuple[int, str]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}{path}") as response:
            return response.status, await response.text()


@pytest.fixture
async def platform(start_platform):
    overrides = sealing_overrides()
    for name in ("accounts", "mailer"):
        overrides[name]["metrics_port"] = 0
    overrides["gateway"]["metrics_port"] = 0
    return await start_platform("accounts", "mailer", **overrides)


@pytest.fixture
def access_log():
    """The gateway's access log lines, formatted as in production (JSON, bound fields included)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("gateway"))
    logger = logging.getLogger("gateway.access")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


async def test_metrics_after_a_journey(platform, smtp_sink, nats_server, access_log):
    request_id = f"journey-{uuid.uuid4().hex[:12]}"
    form = account_form()
    status, account, _ = await api(platform, "POST", "/api/v1/accounts", form, headers={"X-Request-Id": request_id})
    assert status == 201, account
    token = token_in(await mail_to(smtp_sink, form["email"], "validez votre compte"))
    status, _, _ = await api(platform, "POST", "/api/v1/accounts/activation", {"token": token})
    assert status == 200
    session = await login(platform, account["numero_dossier"], PASSWORD)
    for _ in range(2):  # the second from the gateway's copies: the session and the account's view
        status, _, _ = await api(platform, "GET", "/api/v1/me", token=session)
        assert status == 200
    status, _, _ = await api(platform, "GET", "/api/v1/me", token="pas-un-jeton")
    assert status == 401

    # The gateway: requests by route template and status, latencies, rpc latency by subject.
    status, text = await scrape(platform.app[METRICS_PORT])
    assert status == 200
    assert sample(text, "ecandidat_http_requests_total", route="/api/v1/accounts", method="POST", status="201") >= 1
    assert sample(text, "ecandidat_http_requests_total", route="/api/v1/sessions", method="POST", status="201") >= 1
    assert sample(text, "ecandidat_http_requests_total", route="/api/v1/me", method="GET", status="200") >= 1
    assert sample(text, "ecandidat_http_requests_total", route="/api/v1/me", method="GET", status="401") >= 1
    assert sample(text, "ecandidat_http_request_duration_seconds_count", route="/api/v1/me", method="GET") >= 2
    assert (
        sample(text, "ecandidat_rpc_client_duration_seconds_count", subject="rpc.accounts.create_account", outcome="ok")
        >= 1
    )
    assert account["numero_dossier"] not in text  # ids never become labels
    # What the gateway keeps: the session and the account's view, each asked once and then kept.
    for kind in ("session", "account"):
        assert sample(text, "ecandidat_gateway_kept_lookups_total", kind=kind, outcome="miss") >= 1
        assert sample(text, "ecandidat_gateway_kept_lookups_total", kind=kind, outcome="hit") >= 1
        assert sample(text, "ecandidat_gateway_kept", kind=kind) >= 1
    assert 'ecandidat_gateway_kept{kind="dossier"} 0.0' in text.splitlines()  # no dossier read yet

    # The accounts service: rpc handled, the outbox drained, the probes.
    accounts = platform.services["accounts"]
    status, text = await scrape(accounts.metrics_port)
    assert sample(text, "ecandidat_rpc_server_duration_seconds_count", subject="rpc.accounts.login") >= 1

    async def outbox_drained() -> bool:
        text = (await scrape(accounts.metrics_port))[1]
        return "ecandidat_outbox_backlog" in text and sample(text, "ecandidat_outbox_backlog", service="accounts") == 0

    await eventually(outbox_drained, message="outbox backlog 0")
    assert sample(text, "ecandidat_outbox_published_total", service="accounts") >= 2
    assert (await scrape(accounts.metrics_port, "/health/live"))[0] == 200
    assert (await scrape(accounts.metrics_port, "/health/ready"))[0] == 200

    # The mailer: consumers settled the events, lag is visible, the mail is counted as sent.
    mailer = platform.services["mailer"]

    async def mail_sent() -> str | None:
        text = (await scrape(mailer.metrics_port))[1]
        return text if sample(text, "ecandidat_mail_deliveries", status="sent") >= 1 else None

    text = await eventually(mail_sent, message="a sent mail counted")
    assert sample(text, "ecandidat_events_settled_total", consumer="mailer_notifications", outcome="ack") >= 1
    assert "ecandidat_consumer_pending{" in text and 'stream="PRV_ACCOUNTS"' in text

    # One JSON access line per request, with the request id.
    lines = access_log()
    created = [line for line in lines if line["route"] == "/api/v1/accounts" and line["status"] == 201]
    assert any(line.get("request_id") == request_id for line in created), created
    assert all({"method", "status", "duration_ms", "client"} <= set(line) for line in lines)

    # The request id travels in the event it caused (a CloudEvents extension attribute).
    nc = await nats.connect(nats_server.url, **nats_server.connect_options())
    try:
        found = []
        sub = await nc.jetstream().subscribe("evt.accounts.account.created", ordered_consumer=True)
        while True:
            try:
                msg = await sub.next_msg(timeout=2)
            except nats.errors.TimeoutError:
                break
            envelope = json.loads(msg.data)
            if envelope["data"]["account_id"] == account["account_id"]:
                found.append(envelope)
        await sub.unsubscribe()
    finally:
        await nc.close()
    [event] = found
    assert event["requestid"] == request_id


async def test_the_delivery_log_gives_no_working_link(platform, smtp_sink):
    account = await create_account(platform, smtp_sink)
    mailer = platform.services["mailer"]
    async with mailer.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT body_text, body_html FROM deliveries WHERE recipient = $1 AND template = 'account_created'",
            account["email"],
        )
    stored = row["body_text"] + row["body_html"]
    assert account["activation"] not in stored
    kept = re.search(r"jeton=([^\s\"<]+)", row["body_text"]).group(1)
    status, body, _ = await api(platform, "POST", "/api/v1/accounts/activation", {"token": kept})
    assert status in (400, 410, 422), body  # what the database holds does not activate the account
    status, body, _ = await api(platform, "POST", "/api/v1/accounts/activation", {"token": account["activation"]})
    assert status == 200, body  # the mail sent did carry the working link
