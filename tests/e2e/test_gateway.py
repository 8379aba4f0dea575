"""The gateway's edge behaviour: OpenAPI, the error model, security headers, request ids."""

from __future__ import annotations

import asyncio

import aiohttp
import nats
import pytest
from aiohttp import web
from openapi_spec_validator import validate

from ecandidat.contracts.base import RpcReply, RpcRequest
from ecandidat.contracts.errors import ErrorDetail, InvalidInput
from ecandidat.runtime.rpc import RpcServer
from gateway.api import REQUEST_ID, json_response
from gateway.app import create_app
from gateway.keys import RPC
from gateway.settings import GatewaySettings


async def test_openapi_document_is_served_and_valid(start_platform):
    platform = await start_platform("mailer")
    async with platform.http.get(platform.url("/api/v1/openapi.json")) as resp:
        assert resp.status == 200
        doc = await resp.json()
    validate(doc)
    assert "/health" in doc["paths"]


async def test_asyncapi_document_and_page_are_served(start_platform):
    platform = await start_platform("mailer", gateway={"integrator_nats_host": "nats.univ-exemple.fr:4222"})
    async with platform.http.get(platform.url("/api/v1/asyncapi.json")) as resp:
        assert resp.status == 200 and resp.headers["Cache-Control"] == "public, max-age=300"
        doc = await resp.json()
    assert doc["asyncapi"] == "3.0.0" and doc["servers"]["bus"]["host"] == "nats.univ-exemple.fr:4222"
    assert doc["channels"]["accounts_account_created"]["address"] == "evt.accounts.account.created"
    async with platform.http.get(platform.url("/api/v1/asyncapi.html")) as resp:
        assert resp.status == 200 and resp.content_type == "text/html"
        assert "script-src" not in resp.headers["Content-Security-Policy"]
        page = await resp.text()
    assert "<code>evt.candidatures.candidature.confirmed</code>" in page


class Probe(RpcRequest):
    service = "probe"
    operation = "run"
    mode: str


class Probed(RpcReply):
    mode: str


@pytest.fixture
async def probe_gateway(settings_for, nats_server):
    """A gateway with a route that calls a real rpc service whose behaviour the test chooses."""
    nc = await nats.connect(nats_server.url, **nats_server.connect_options())
    server = RpcServer(nc, "probe")

    @server.route(Probe)
    async def run(req: Probe, ctx):
        if req.mode == "refuse":
            raise InvalidInput(
                "La date de naissance est invalide.",
                details=[ErrorDetail(field="date_naissance", message="Date impossible.")],
            )
        if req.mode == "slow":
            await asyncio.sleep(2)
        if req.mode == "bug":
            raise ZeroDivisionError("secret internal detail")
        return Probed(mode=ctx.request_id)

    await server.start()
    # rpc.probe.* is no platform service: this gateway connects as the operator identity to call it.
    ops_seed = str(nats_server.credentials.seed_file("ops"))
    app = create_app(settings_for(GatewaySettings, rpc_timeout=0.5, nats_nkey_seed_file=ops_seed))

    async def call(request: web.Request) -> web.Response:
        reply = await request.app[RPC].call(
            Probe(mode=request.match_info["mode"]), Probed, request_id=request[REQUEST_ID]
        )
        return json_response(reply)

    async def crash(request: web.Request) -> web.Response:
        raise RuntimeError("stack trace material")

    async def typed(request: web.Request) -> web.Response:
        # A route that builds a request model from a path value it did not check itself.
        return json_response(Probe(mode=request.match_info["mode"], **({"extra": 1} if request.query.get("x") else {})))

    app.router.add_get("/probe/{mode}", call)
    app.router.add_get("/typed/{mode}", typed)
    app.router.add_get("/crash", crash)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    http = aiohttp.ClientSession(f"http://127.0.0.1:{runner.addresses[0][1]}")
    yield http
    await http.close()
    await runner.cleanup()
    await server.stop()
    await nc.close()


async def test_rpc_error_becomes_problem_json(probe_gateway):
    async with probe_gateway.get("/probe/refuse") as resp:
        assert resp.status == 422
        assert resp.content_type == "application/problem+json"
        body = await resp.json()
    assert body["code"] == "invalid"
    assert body["detail"] == "La date de naissance est invalide."
    assert body["errors"] == [{"field": "date_naissance", "message": "Date impossible."}]
    assert body["type"].endswith("/invalid") and body["title"] == "Données invalides"


async def test_rpc_timeout_becomes_504_problem_json(probe_gateway):
    async with probe_gateway.get("/probe/slow") as resp:
        assert resp.status == 504
        assert resp.content_type == "application/problem+json"
        body = await resp.json()
    assert body["code"] == "timeout"
    assert "réessayer" in body["detail"]


async def test_service_bug_and_gateway_bug_never_show_a_trace(probe_gateway):
    for path, status in (("/probe/bug", 500), ("/crash", 500)):
        async with probe_gateway.get(path) as resp:
            text = await resp.text()
            assert resp.status == status
            assert resp.content_type == "application/problem+json"
        assert "Traceback" not in text and "secret internal detail" not in text and "stack trace material" not in text


async def test_unknown_route_and_method_are_problem_json(probe_gateway):
    async with probe_gateway.get("/no/such/thing") as resp:
        assert resp.status == 404
        assert (await resp.json())["code"] == "not_found"
    async with probe_gateway.post("/crash") as resp:
        assert resp.status == 405
        assert (await resp.json())["code"] == "method_not_allowed"


async def test_request_id_is_echoed_and_reaches_the_service(probe_gateway):
    async with probe_gateway.get("/probe/ok", headers={"X-Request-Id": "req-0123456789"}) as resp:
        assert resp.headers["X-Request-Id"] == "req-0123456789"
        assert (await resp.json())["mode"] == "req-0123456789"
    async with probe_gateway.get("/probe/ok", headers={"X-Request-Id": "bad id <script>"}) as resp:
        assert resp.headers["X-Request-Id"] != "bad id <script>"
        assert len(resp.headers["X-Request-Id"]) == 32


async def test_security_headers_on_every_response(probe_gateway):
    for path in ("/probe/ok", "/no/such/thing", "/crash"):
        async with probe_gateway.get(path) as resp:
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
            assert resp.headers["X-Frame-Options"] == "DENY"
            assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
            assert resp.headers["Cache-Control"] == "no-store"


async def test_a_model_refusing_a_path_value_is_a_422_not_a_500(probe_gateway):
    async with probe_gateway.get("/typed/ok?x=1") as resp:
        assert resp.status == 422
        body = await resp.json()
    assert body["code"] == "invalid" and body["errors"][0]["field"] == "extra"
