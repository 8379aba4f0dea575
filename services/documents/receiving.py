"""An upload's bytes, from the HTTP stream to a spool file: size limit enforced while reading (the
first byte past the limit ends the upload), SHA-256 computed on the way, nothing kept in memory
beyond one chunk."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from aiohttp import StreamReader

from ecandidat.contracts.errors import ServiceError

from .inspection import empty, too_large

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Received:
    path: Path
    size: int
    sha256: str


def interrupted() -> ServiceError:
    return ServiceError(
        "L'envoi du fichier a été interrompu : déposez-le à nouveau.", code="bad_request", reason="interrompu"
    )


@contextlib.asynccontextmanager
async def spooled(stream: StreamReader, limit: int, spool_dir: str | None) -> AsyncIterator[Received]:
    """Receive the stream into a temporary file that is removed when the block ends."""
    fd, name = tempfile.mkstemp(prefix="upload-", dir=spool_dir)
    path = Path(name)
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as out:
            while True:
                try:
                    chunk = await stream.readany()
                except (ConnectionError, OSError) as exc:
                    raise interrupted() from exc
                except Exception as exc:  # a malformed chunked body: aiohttp's payload errors
                    if isinstance(exc, ServiceError):
                        raise
                    raise interrupted() from exc
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise too_large(limit)
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise empty()
        yield Received(path, size, digest.hexdigest())
    finally:
        path.unlink(missing_ok=True)
