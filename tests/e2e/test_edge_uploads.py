"""Uploads on slow and broken connections: a slow but steady upload is never cut (timeouts measure
silence, not duration), a client that really stalls is told so (408) and logged as the client's
problem, a client that leaves mid-upload is logged as such, and `Expect: 100-continue` with a body
over the limit is answered 413 without "100 Continue" first.

The timescales are shortened (an idle timeout of a couple of seconds, a file of a few dozen KB
sent in small steps) so that the tests stay fast; the shape is the one of a 4.9 MB scan sent at
14 KB/s for six minutes."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.conftest import eventually
from tests.e2e.test_edge_input import PROBLEM, Edge, applied, put_head, start_edge
from tests.unit.documents import corpus

IDLE = 2.0
pytestmark = pytest.mark.slow


@pytest.fixture
async def edge(start_platform, start_token_gateway) -> Edge:
    return await start_edge(
        start_platform,
        start_token_gateway,
        "dossiers",
        "candidatures",
        "documents",
        gateway_upload_idle_timeout=IDLE,
        gateway_documents_timeout=IDLE,
    )


def gateway_warnings(caplog) -> list[str]:
    return [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.name.startswith("gateway") and r.levelno >= logging.WARNING
    ]


async def test_a_slow_but_steady_upload_outlasts_every_timeout(edge, monkeypatch):
    # Before, the gateway → documents request relied on aiohttp's default *total* timeout (300 s):
    # scaled down to the test's timescale, it is 1.5 s, less than the upload below takes.
    monkeypatch.setattr(aiohttp.client, "DEFAULT_TIMEOUT", aiohttp.ClientTimeout(total=1.5))
    auth, cid, items = await applied(edge)
    pdf = corpus.reportlab_pdf("Relevé de notes", pages=4)
    step = -(-len(pdf) // 40)  # forty steps of 0.1 s

    async def throttled() -> AsyncIterator[bytes]:
        for offset in range(0, len(pdf), step):
            yield pdf[offset : offset + step]
            await asyncio.sleep(0.1)  # far below the idle timeout, whatever the machine's load

    started = time.monotonic()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as client:
        async with client.put(
            f"http://127.0.0.1:{edge.port}/api/v1/candidatures/{cid}/pieces/{items[0]['slot_id']}/fichier",
            data=throttled(),
            headers={**auth, "X-File-Name": "releve.pdf", "Content-Type": "application/pdf"},
        ) as resp:
            body = await resp.json()
            assert resp.status == 201, body
    took = time.monotonic() - started
    assert took > 3.0, took  # longer than the scaled total timeout and than the idle timeout
    assert body["statut"] == "transmise" and body["size"] == len(pdf)


async def test_a_stalled_upload_is_a_408_logged_as_the_clients_problem(edge, caplog):
    caplog.set_level(logging.INFO)
    auth, cid, items = await applied(edge)
    pdf = corpus.reportlab_pdf()
    reader, writer = await asyncio.open_connection("127.0.0.1", edge.port)
    try:
        writer.write(
            put_head(
                f"/candidatures/{cid}/pieces/{items[0]['slot_id']}/fichier", auth, len(pdf), b"X-File-Name: cv.pdf"
            )
            + b"\r\n"
            + pdf[: len(pdf) // 2]
        )
        await writer.drain()
        started = time.monotonic()
        status_line = await asyncio.wait_for(reader.readline(), timeout=60)
        waited = time.monotonic() - started
        head, _, body = (await asyncio.wait_for(reader.read(), timeout=30)).partition(b"\r\n\r\n")
    finally:
        writer.close()
    assert status_line.split()[1] == b"408", status_line
    assert waited >= IDLE * 0.9
    assert PROBLEM.encode() in head
    problem = json.loads(body)
    assert problem["code"] == "request_timeout" and "Aucune donnée reçue" in problem["detail"]
    assert any(r.getMessage() == "upload stalled by the client" and r.levelno == logging.INFO for r in caplog.records)
    assert gateway_warnings(caplog) == []
    status, _, listed = await edge.call("GET", f"/candidatures/{cid}/pieces", auth)
    assert listed["items"][0]["statut"] == "en_attente"


async def test_a_client_leaving_mid_upload_is_logged_as_such_not_as_an_outage(edge, caplog):
    caplog.set_level(logging.INFO)
    auth, cid, items = await applied(edge)
    pdf = corpus.reportlab_pdf()
    reader, writer = await asyncio.open_connection("127.0.0.1", edge.port)
    writer.write(
        put_head(f"/candidatures/{cid}/pieces/{items[0]['slot_id']}/fichier", auth, len(pdf), b"X-File-Name: cv.pdf")
        + b"\r\n"
        + pdf[: len(pdf) // 2]
    )
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.close()
    await eventually(
        lambda: any(r.getMessage() == "client disconnected during upload" for r in caplog.records),
        message="the disconnection is logged",
    )
    assert gateway_warnings(caplog) == []
    status, _, listed = await edge.call("GET", f"/candidatures/{cid}/pieces", auth)
    assert listed["items"][0]["statut"] == "en_attente"


async def expect_continue(port: int, head: bytes) -> tuple[bytes, bytes]:
    """Send only the head of a request with `Expect: 100-continue`: the first status line answered, and the rest."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head + b"Expect: 100-continue\r\n\r\n")
        await writer.drain()
        first = await asyncio.wait_for(reader.readline(), timeout=30)
        rest = b""
        if not first.startswith(b"HTTP/1.1 100"):
            rest = await asyncio.wait_for(reader.read(), timeout=30)
        return first, rest
    finally:
        writer.close()


async def test_expect_100_continue_over_the_limit_is_a_413_without_continue(edge):
    auth, cid, items = await applied(edge)
    upload = f"/candidatures/{cid}/pieces/{items[0]['slot_id']}/fichier"
    fifty_mb = 50 * 1024 * 1024
    for head in (
        put_head(upload, auth, fifty_mb),
        put_head(upload, auth, fifty_mb, ctype=b"multipart/form-data; boundary=x"),
        b"POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 2000000\r\nConnection: close\r\n",
    ):
        first, rest = await expect_continue(edge.port, head)
        assert first.startswith(b"HTTP/1.1 413"), first
        assert PROBLEM.encode() in rest and "volumineux".encode() in rest
    # Refused for another reason (not logged in): the final answer, no "100 Continue" either.
    first, _ = await expect_continue(edge.port, put_head(upload, {"Authorization": "Bearer inconnu"}, 1000))
    assert first.startswith(b"HTTP/1.1 401"), first

    # Within the limit: "100 Continue", then the body, then the answer.
    pdf = corpus.reportlab_pdf()
    reader, writer = await asyncio.open_connection("127.0.0.1", edge.port)
    try:
        writer.write(put_head(upload, auth, len(pdf), b"X-File-Name: cv.pdf") + b"Expect: 100-continue\r\n\r\n")
        await writer.drain()
        assert (await asyncio.wait_for(reader.readline(), timeout=30)).startswith(b"HTTP/1.1 100")
        assert await reader.readline() == b"\r\n"
        writer.write(pdf)
        await writer.drain()
        final = await asyncio.wait_for(reader.readline(), timeout=30)
        assert final.startswith(b"HTTP/1.1 201"), final
    finally:
        writer.close()
