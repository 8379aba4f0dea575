"""Rpc over NATS request/reply: typed errors, timeouts, bounded concurrency, queue groups."""

from __future__ import annotations

import asyncio
import json
import urllib.request

import asyncpg
import nats
import pytest
from pydantic import Field

from ecandidat.contracts.base import RpcReply, RpcRequest
from ecandidat.contracts.errors import Conflict, RpcTimeout, ServiceError, Unavailable
from ecandidat.runtime.nats import flush
from ecandidat.runtime.rpc import RpcClient, RpcServer
from tests.conftest import eventually


class Echo(RpcRequest):
    service = "rpctest"
    operation = "echo"
    text: str = Field(max_length=10)
    sleep: float = 0.0
    fail: bool = False
    crash: bool = False
    held: bool = False  # answers only once the test opens GATE
    database_down: bool = False


GATE = asyncio.Event()
HELD: list[str] = []  # the held requests in progress
MOST_HELD: list[int] = [0]  # the most held requests in progress at once


class Echoed(RpcReply):
    text: str
    instance: str


async def serve(url: str, name: str, concurrency: int = 8, **options) -> tuple[RpcServer, object]:
    nc = await nats.connect(url, **options)
    server = RpcServer(nc, "rpctest", concurrency=concurrency)

    @server.route(Echo)
    async def echo(req: Echo, ctx) -> Echoed:
        if req.sleep:
            await asyncio.sleep(req.sleep)
        if req.held:
            HELD.append(req.text)
            MOST_HELD[0] = max(MOST_HELD[0], len(HELD))
            await GATE.wait()
            HELD.remove(req.text)
        if req.fail:
            raise Conflict("Cette candidature existe déjà.", candidature_id="c-1")
        if req.crash:
            raise KeyError("a bug")
        if req.database_down:
            raise asyncpg.CannotConnectNowError("the database system is starting up")
        return Echoed(text=req.text, instance=name)

    await server.start()
    return server, nc


@pytest.fixture
async def rpc(nats_server):
    server, server_nc = await serve(nats_server.url, "a", **nats_server.connect_options())
    nc = await nats.connect(nats_server.url, **nats_server.connect_options())
    yield RpcClient(nc, timeout=15.0), nats_server
    await server.stop()
    await server_nc.close()
    await nc.close()


async def test_call_returns_the_typed_reply(rpc):
    client, _ = rpc
    reply = await client.call(Echo(text="bonjour"), Echoed)
    assert reply == Echoed(text="bonjour", instance="a")


async def test_call_raw_gives_the_result_as_the_service_serialised_it(rpc):
    """What the gateway relays without parsing it: the reply model's own JSON; errors still raise."""
    client, _ = rpc
    raw = await client.call_raw(Echo(text="bonjour"))
    assert raw == Echoed(text="bonjour", instance="a").model_dump_json().encode()
    with pytest.raises(ServiceError) as info:
        await client.call_raw(Echo(text="x", fail=True))
    assert info.value.code == "conflict"


async def test_a_reply_not_written_by_the_kit_is_parsed(rpc):
    client, server = rpc
    nc = await nats.connect(server.url, **server.connect_options())

    async def answer(msg) -> None:
        await msg.respond(b'{ "result" : {"text": "x", "instance": "other"} }')

    await nc.subscribe("rpc.rpctest.other", cb=answer)
    await flush(nc)  # the server holds the subscription before the request is sent
    try:
        assert await client.call_subject("rpc.rpctest.other", b"{}") == {"text": "x", "instance": "other"}
    finally:
        await nc.close()


async def test_service_error_reaches_the_caller_typed(rpc):
    client, _ = rpc
    with pytest.raises(ServiceError) as info:
        await client.call(Echo(text="x", fail=True), Echoed)
    assert info.value.code == "conflict"
    assert info.value.message == "Cette candidature existe déjà."
    assert info.value.extra == {"candidature_id": "c-1"}


async def test_a_bug_becomes_an_internal_error_without_details(rpc):
    client, _ = rpc
    with pytest.raises(ServiceError) as info:
        await client.call(Echo(text="x", crash=True), Echoed)
    assert info.value.code == "internal"
    assert "KeyError" not in info.value.message


async def test_an_unavailable_database_is_unavailable_with_a_retry_delay_not_a_bug(rpc):
    client, _ = rpc
    with pytest.raises(Unavailable) as info:
        await client.call(Echo(text="x", database_down=True), Echoed)
    assert info.value.extra["retry_after"] > 0
    assert "réessayer" in info.value.message


async def test_invalid_request_is_refused_with_field_details(rpc):
    client, _ = rpc
    with pytest.raises(ServiceError) as info:
        await client.call_subject("rpc.rpctest.echo", b'{"text": "far too long text", "unknown": 1}')
    assert info.value.code == "invalid"
    fields = {d.field: d.message for d in info.value.details}
    assert fields["text"].startswith("Ce champ est trop long")
    assert fields["unknown"] == "Ce champ n'est pas attendu."


async def test_timeout_is_a_typed_error(rpc):
    client, _ = rpc
    with pytest.raises(RpcTimeout):
        await client.call(Echo(text="slow", sleep=3), Echoed, timeout=0.3)


async def test_no_service_is_unavailable(rpc):
    client, _ = rpc
    with pytest.raises(Unavailable):
        await client.call_subject("rpc.nobody.here", b"{}")


async def test_a_slow_request_does_not_hold_up_the_others(rpc):
    client, _ = rpc
    GATE.clear()
    slow = asyncio.create_task(client.call(Echo(text="slow", held=True), Echoed, timeout=30))
    try:
        await eventually(lambda: HELD == ["slow"], message="the slow request is in progress")
        # The slow request answers only after the fast ones: they cannot have waited behind it.
        replies = await asyncio.gather(*(client.call(Echo(text=str(i)), Echoed, timeout=30) for i in range(5)))
        assert [r.text for r in replies] == [str(i) for i in range(5)]
        assert not slow.done()
    finally:
        GATE.set()
    assert (await slow).text == "slow"


async def test_concurrency_is_bounded(nats_server):
    server, server_nc = await serve(nats_server.url, "bounded", concurrency=2, **nats_server.connect_options())
    nc = await nats.connect(nats_server.url, **nats_server.connect_options())
    try:
        client = RpcClient(nc, timeout=60)
        GATE.clear()
        MOST_HELD[0] = 0
        calls = asyncio.gather(*(client.call(Echo(text=f"x{i}", held=True), Echoed) for i in range(4)))
        # Held until the server has received the four requests: unbounded, all four would be
        # handled now (nothing but the loop between their arrival and the handler).
        await eventually(
            lambda: server_nc.stats["in_msgs"] >= 4 and len(HELD) == 2, message="two requests held, four received"
        )
        GATE.set()
        assert len(await calls) == 4
        assert MOST_HELD[0] == 2, f"{MOST_HELD[0]} handlers ran at once"
    finally:
        GATE.set()
        await server.stop()
        await server_nc.close()
        await nc.close()


async def test_replicas_share_requests_through_the_queue_group(nats_server):
    a, nca = await serve(nats_server.url, "a", **nats_server.connect_options())
    b, ncb = await serve(nats_server.url, "b", **nats_server.connect_options())
    nc = await nats.connect(nats_server.url, **nats_server.connect_options())
    try:
        client = RpcClient(nc)
        replies = await asyncio.gather(*(client.call(Echo(text=str(i)), Echoed) for i in range(200)))
        by = {r.instance for r in replies}
        assert by == {"a", "b"}
        assert len(replies) == 200
    finally:
        for s, c in ((a, nca), (b, ncb)):
            await s.stop()
            await c.close()
        await nc.close()


async def test_a_started_server_is_known_to_nats_before_start_returns(nats_server):
    """A service reports itself ready once its rpc server has started: by then nats-server must
    route requests to it, or the first callers get « no responders » (a 503)."""
    nc = await nats.connect(nats_server.url, **nats_server.connect_options())
    server = RpcServer(nc, "rpctest")

    @server.route(Echo)
    async def echo(req: Echo, ctx) -> Echoed:
        return Echoed(text=req.text, instance="x")

    try:
        await server.start()
        # No await between start() and this blocking read: the client cannot send anything meanwhile.
        url = f"http://{nats_server.host}:{nats_server.monitor_port}/subsz?subs=1&test=rpc.rpctest.echo"
        with urllib.request.urlopen(url, timeout=5) as response:
            subsz = json.load(response)
        assert [s["subject"] for s in subsz.get("subscriptions_list", [])] == ["rpc.rpctest.echo"], subsz
    finally:
        await server.stop()
        await nc.close()


async def test_a_subscription_flushed_by_the_kit_gets_the_next_message_from_any_connection(nats_server):
    """`ecandidat.runtime.nats.flush` returns once the server holds what the connection sent: a
    subscription just made gets a message published right after from another connection, every
    time. (With nats-py's own `flush()` instead, three runs lost it 30, 19 and 50 times in 1,000:
    its PING overtakes the SUB.)"""
    options = nats_server.connect_options()
    lost = 0
    for _ in range(1000):
        listener, sender = (
            await nats.connect(nats_server.url, **options),
            await nats.connect(nats_server.url, **options),
        )
        try:
            heard = asyncio.Event()

            async def hear(_msg) -> None:
                heard.set()

            await listener.subscribe("kit.flush.probe", cb=hear)
            await flush(listener)
            await sender.publish("kit.flush.probe", b"")
            await sender.flush()
            try:
                await asyncio.wait_for(heard.wait(), 2)
            except asyncio.TimeoutError:
                lost += 1
        finally:
            await listener.close()
            await sender.close()
    assert lost == 0
