"""The clamd INSTREAM client against a small fake clamd that speaks the protocol (the real daemon
is exercised by the integration tests when `clamd` is installed)."""

from __future__ import annotations

import asyncio
import struct

import pytest

from services.documents.clamd import Clamd

from .corpus import EICAR


class FakeClamd:
    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        command = await reader.readuntil(b"\0")
        if command == b"zPING\0":
            writer.write(b"PONG\0")
        elif command == b"zINSTREAM\0":
            data = b""
            while True:
                (size,) = struct.unpack("!I", await reader.readexactly(4))
                if size == 0:
                    break
                data += await reader.readexactly(size)
            self.received.append(data)
            writer.write(b"stream: Eicar-Test-Signature FOUND\0" if EICAR in data else b"stream: OK\0")
        await writer.drain()
        writer.close()

    async def __aenter__(self) -> int:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def __aexit__(self, *exc) -> None:
        self.server.close()
        await self.server.wait_closed()


async def test_instream_sends_the_file_in_length_prefixed_chunks(tmp_path):
    fake = FakeClamd()
    async with fake as port:
        clamd = Clamd(host="127.0.0.1", port=port)
        assert await clamd.ping() == "PONG"
        clean = tmp_path / "clean.bin"
        clean.write_bytes(b"a" * 200_000)
        assert (await clamd.scan_file(clean)).clean
        virus = tmp_path / "eicar.com"
        virus.write_bytes(EICAR)
        verdict = await clamd.scan_file(virus)
    assert not verdict.clean and verdict.signature == "Eicar-Test-Signature"
    assert fake.received == [b"a" * 200_000, EICAR]


async def test_an_unreachable_clamd_is_a_connection_error(tmp_path):
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    path = tmp_path / "f"
    path.write_bytes(b"x")
    with pytest.raises(ConnectionError):
        await Clamd(host="127.0.0.1", port=port, timeout=2).scan_file(path)
