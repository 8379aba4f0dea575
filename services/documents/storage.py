"""Object storage through the minio client, which is synchronous: every call runs in a bounded
thread pool so that the event loop never waits on the network."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlparse

import aiohttp
from minio import Minio
from minio.error import S3Error

from ecandidat.contracts.errors import NotFound

from .settings import DocumentsSettings


class ObjectMissing(NotFound):
    """A file a row still names is gone from storage (replaced or deleted meanwhile)."""

    def __init__(self, key: str) -> None:
        super().__init__("Ce fichier n'est plus disponible : il a été remplacé ou supprimé entre-temps.")
        self.key = key


def _missing(key: str, exc: S3Error) -> Exception:
    return ObjectMissing(key) if exc.code in {"NoSuchKey", "NoSuchObject"} else exc


CHUNK = 256 * 1024


PUT_CHUNK = 64 * 1024


async def _file_chunks(f: BinaryIO) -> AsyncIterator[bytes]:
    """A just-received spool file, read in the event loop (it is in the page cache: a read is a
    copy), 64 KB at a time. aiohttp's own file payload reads 256 KB chunks in a thread and keeps
    the unsent rest in the connection's buffer: with 50 uploads going to S3 at once, the documents
    process held some 40 MB more at its peak (bench/uploads.py)."""
    while chunk := f.read(PUT_CHUNK):
        yield chunk


class Storage:
    def __init__(self, settings: DocumentsSettings) -> None:
        url = urlparse(settings.s3_endpoint)
        self.client = Minio(
            url.netloc,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            secure=url.scheme == "https",
            region=settings.s3_region,
        )
        self.bucket = settings.s3_bucket
        self.executor = ThreadPoolExecutor(max_workers=settings.s3_threads, thread_name_prefix="documents-s3")
        self._http: aiohttp.ClientSession | None = None

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def ensure_bucket(self) -> None:
        def create() -> None:
            if not self.client.bucket_exists(self.bucket):
                try:
                    self.client.make_bucket(self.bucket)
                except S3Error as exc:  # created by another replica meanwhile
                    if exc.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                        raise

        await self._run(create)

    async def put_file(self, key: str, path: Path, size: int, content_type: str) -> None:
        """Stream a file to storage. minio's `put_object` reads a whole part (the whole file here)
        into memory in its thread; instead the client signs a short-lived PUT URL and the bytes
        go from the file to S3 by aiohttp, `PUT_CHUNK` at a time (`_file_chunks`), aiohttp waiting
        for the connection to drain between them."""
        url = await self._run(self.client.presigned_put_object, self.bucket, key, timedelta(minutes=5))
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300))
        with path.open("rb") as f:
            async with self._http.put(
                url, data=_file_chunks(f), headers={"Content-Type": content_type, "Content-Length": str(size)}
            ) as resp:
                if resp.status >= 300:
                    raise OSError(f"storage refused {key}: HTTP {resp.status} {(await resp.text())[:200]}")

    async def put_bytes(self, key: str, data: bytes, content_type: str = "application/pdf") -> None:
        """A small generated file (a letter): the minio client in the pool."""
        await self._run(
            lambda: self.client.put_object(self.bucket, key, io.BytesIO(data), len(data), content_type=content_type)
        )

    async def delete(self, key: str) -> None:
        await self._run(self.client.remove_object, self.bucket, key)

    async def keys(self, prefix: str = "") -> list[str]:
        return await self._run(
            lambda: [o.object_name for o in self.client.list_objects(self.bucket, prefix=prefix, recursive=True)]
        )

    async def download_to(self, key: str, path: Path) -> None:
        try:
            await self._run(self.client.fget_object, self.bucket, key, str(path))
        except S3Error as exc:
            raise _missing(key, exc) from exc

    async def open_stream(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes, chunk by chunk, each chunk read in the pool; opened before returning,
        so a missing object fails here rather than in the middle of a response."""
        try:
            response = await self._run(self.client.get_object, self.bucket, key)
        except S3Error as exc:
            raise _missing(key, exc) from exc

        async def chunks() -> AsyncIterator[bytes]:
            try:
                while chunk := await self._run(response.read, CHUNK):
                    yield chunk
            finally:
                response.close()
                response.release_conn()

        return chunks()

    async def check(self) -> str:
        await self._run(self.client.bucket_exists, self.bucket)
        return f"bucket {self.bucket} reachable"

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
