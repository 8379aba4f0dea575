"""A ClamAV scan over clamd's INSTREAM protocol, on asyncio (TCP or Unix socket).

`zINSTREAM\\0`, then chunks each prefixed by their length (4 bytes, network order), then a
zero-length chunk; clamd answers `stream: OK`, `stream: <signature> FOUND` or `... ERROR`.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass
from pathlib import Path

from ecandidat.contracts.errors import ServiceError, Unavailable

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Verdict:
    clean: bool
    signature: str | None = None


class Clamd:
    def __init__(
        self, *, host: str | None = None, port: int | None = None, socket: str | None = None, timeout: float = 30.0
    ) -> None:
        if not socket and not (host and port):
            raise ValueError("clamd needs CLAMD_SOCKET or CLAMD_HOST and CLAMD_PORT")
        self.host, self.port, self.socket, self.timeout = host, port, socket, timeout

    def __repr__(self) -> str:
        return f"clamd at {self.socket or f'{self.host}:{self.port}'}"

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.socket:
            return await asyncio.open_unix_connection(self.socket)
        return await asyncio.open_connection(self.host, self.port)

    async def ping(self) -> str:
        reply = await self._command(b"zPING\0", None)
        if reply != "PONG":
            raise ConnectionError(f"clamd answered {reply!r} to PING")
        return "PONG"

    async def scan_file(self, path: Path) -> Verdict:
        reply = await self._command(b"zINSTREAM\0", path)
        if reply.endswith("OK"):
            return Verdict(True)
        if reply.endswith("FOUND"):
            return Verdict(False, reply.removeprefix("stream:").removesuffix("FOUND").strip())
        raise ConnectionError(f"clamd could not scan: {reply}")

    async def _command(self, command: bytes, path: Path | None) -> str:
        try:
            async with asyncio.timeout(self.timeout):
                reader, writer = await self._open()
                try:
                    writer.write(command)
                    if path is not None:
                        with path.open("rb") as f:
                            while chunk := f.read(CHUNK):
                                writer.write(struct.pack("!I", len(chunk)) + chunk)
                                await writer.drain()
                        writer.write(struct.pack("!I", 0))
                    await writer.drain()
                    reply = await reader.readuntil(b"\0")
                finally:
                    writer.close()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
            raise ConnectionError(f"{self!r}: {exc!r}") from exc
        return reply.rstrip(b"\0").decode("utf-8", "replace").strip()


def infected(signature: str | None) -> ServiceError:
    return ServiceError(
        f"Ce fichier a été détecté comme contenant un virus ({signature}) : il n'a pas été enregistré. "
        "Analysez votre ordinateur avec un antivirus, puis déposez une copie saine du document.",
        code="invalid",
        reason="virus",
    )


def scan_unavailable() -> Unavailable:
    return Unavailable(
        "L'analyse antivirus est momentanément indisponible : votre fichier n'a pas été enregistré. "
        "Réessayez dans quelques minutes."
    )
