"""Health through the gateway: the public status, the probes, the administrators' report."""

from __future__ import annotations

import uuid

import pytest

from ecandidat.contracts.auth import Principal
from tests.conftest import eventually, start_postgres, stop_postgres


async def get(platform, path: str) -> tuple[int, dict, dict]:
    async with platform.http.get(platform.url(path)) as resp:
        return resp.status, await resp.json(content_type=None), dict(resp.headers)


async def test_public_health_says_up_and_nothing_more(start_platform):
    platform = await start_platform("mailer")
    status, body, _ = await get(platform, "/health")
    assert (status, body) == (200, {"status": "up"}), "no instance, host, bucket or backlog in the public answer"
    assert (await get(platform, "/health/live"))[:2] == (200, {"status": "up"})
    assert (await get(platform, "/health/ready"))[:2] == (200, {"status": "ready"})


async def test_a_required_service_missing_is_down_and_not_ready(start_platform):
    platform = await start_platform("mailer", gateway={"gateway_services": ("mailer", "accounts")})
    status, body, headers = await get(platform, "/health")
    assert (status, body) == (503, {"status": "down"})
    assert int(headers["Retry-After"]) > 0
    assert (await get(platform, "/health/ready"))[:2] == (503, {"status": "not_ready"})
    assert (await get(platform, "/health/live"))[:2] == (200, {"status": "up"})


async def test_a_missing_service_that_is_not_required_only_degrades(start_platform):
    platform = await start_platform(
        "mailer", gateway={"gateway_services": ("mailer", "accounts"), "gateway_required_services": ("mailer",)}
    )
    assert (await get(platform, "/health"))[:2] == (200, {"status": "degraded"})
    assert (await get(platform, "/health/ready"))[:2] == (200, {"status": "ready"})


async def test_an_smtp_outage_is_degraded_never_unready(start_platform, smtp_sink):
    platform = await start_platform("mailer")
    smtp_sink.stop()
    try:
        await eventually(lambda: _status_is(platform, "degraded"), timeout=30, message="SMTP down seen")
        assert (await get(platform, "/health/ready"))[:2] == (200, {"status": "ready"})
    finally:
        smtp_sink.start()
    await eventually(lambda: _status_is(platform, "up"), timeout=30, message="SMTP back")


async def test_a_background_loop_that_stopped_is_degraded(start_platform):
    platform = await start_platform("mailer")
    sender = next(t for t in platform.services["mailer"].tasks if t.name == "mailer-sender")
    sender.cancel()
    await eventually(lambda: _status_is(platform, "degraded"), message="the stopped sender seen")
    assert (await get(platform, "/health/ready"))[:2] == (200, {"status": "ready"})


async def _status_is(platform, status: str) -> bool:
    return (await get(platform, "/health"))[1] == {"status": status}


def staff(*roles: str) -> Principal:
    return Principal(realm="staff", account_id=uuid.uuid4(), email="exploitation@example.org", roles=roles)


async def test_the_detailed_report_is_for_administrators(start_platform, start_token_gateway, smtp_sink):
    await start_platform("mailer")
    http = await start_token_gateway({"admin": staff("admin"), "gestion": staff("gestionnaire")}, ("mailer",))
    async with http.get("/api/v1/staff/health") as resp:
        assert resp.status == 401
    async with http.get("/api/v1/staff/health", headers={"Authorization": "Bearer gestion"}) as resp:
        assert resp.status == 403
    smtp_sink.stop()
    try:

        async def smtp_reported_down():
            async with http.get("/api/v1/staff/health", headers={"Authorization": "Bearer admin"}) as resp:
                assert resp.status == 200
                report = await resp.json()
            return report if not report["services"]["mailer"]["checks"]["smtp"]["ok"] else None

        report = await eventually(smtp_reported_down, timeout=30, message="the report names the SMTP outage")
    finally:
        smtp_sink.start()
    assert report["status"] == "degraded"
    mailer = report["services"]["mailer"]
    assert mailer["ready"] is True and mailer["ok"] is False and mailer["instance"]
    assert set(mailer["checks"]) >= {"database", "nats", "smtp", "tasks"}
    assert "storage" not in mailer["checks"]  # the mailer holds no storage keys: documents gives the letters
    assert mailer["checks"]["database"]["detail"].startswith("outbox backlog")


@pytest.mark.slow
async def test_requests_answer_503_with_retry_after_while_the_database_is_down(
    private_pg, private_database_url, private_nats, start_platform
):
    connection = {"database_url": private_database_url, "nats_url": private_nats.url}
    platform = await start_platform("accounts", accounts=connection, gateway={"nats_url": private_nats.url})
    login = {"login": "personne@example.org", "password": "une phrase de passe assez longue"}
    await stop_postgres(private_pg)
    try:
        async with platform.http.post(platform.url("/api/v1/sessions"), json=login) as resp:
            body = await resp.json(content_type=None)
            assert resp.status == 503, body
            assert resp.content_type == "application/problem+json"
            assert body["code"] == "unavailable" and "réessayer" in body["detail"]
            assert int(resp.headers["Retry-After"]) > 0
        for path, status in (("/health", 503), ("/health/ready", 503), ("/health/live", 200)):
            assert (await get(platform, path))[0] == status, path
    finally:
        await start_postgres(private_pg)

    async def refused_as_unknown() -> bool:
        async with platform.http.post(platform.url("/api/v1/sessions"), json=login) as resp:
            return resp.status == 401

    await eventually(refused_as_unknown, timeout=30, message="the service answers again once the database is back")
