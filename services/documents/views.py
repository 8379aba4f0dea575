"""The HTTP views: the internal endpoint where the gateway streams uploads to and downloads from.

Not exposed to the internet (bind it to the internal network); each request must carry a
single-use ticket that an rpc handed out after checking who may do what. Bytes never travel over
NATS: they go gateway ⇄ documents over HTTP and documents ⇄ object storage.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote, unquote

from aiohttp import web

from ecandidat.contracts.errors import HTTP_STATUS, NotFound, ServiceError
from ecandidat.runtime.logging import bind

from . import handlers, recap, replies, store, tickets
from .clamd import infected, scan_unavailable
from .context import Deps
from .domain import StoredFile, sanitize_file_name
from .inspection import FileRefused, Inspected, inspect_file
from .receiving import spooled

log = logging.getLogger(__name__)


def _error(err: ServiceError) -> web.Response:
    body = json.dumps({"error": err.body().model_dump(mode="json")}, ensure_ascii=False).encode()
    return web.Response(status=HTTP_STATUS.get(err.code, 400), body=body, content_type="application/json")


@web.middleware
async def _errors(request: web.Request, handler) -> web.StreamResponse:
    with bind(request_id=request.headers.get("X-Request-Id", ""), path=request.path[:30]):
        try:
            return await handler(request)
        except ServiceError as err:
            return _error(err)
        except Exception:
            log.exception("documents endpoint failed")
            return _error(ServiceError("Une erreur interne est survenue.", code="internal"))


class Endpoint:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.settings = deps.settings
        self.runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> str:
        """Listen; return the base URL the gateway reaches the endpoint at."""
        app = web.Application(middlewares=[_errors])
        app.router.add_post("/internal/uploads/{token}", self.upload)
        app.router.add_get("/internal/downloads/{token}", self.download)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        s = self.settings
        site = web.TCPSite(self.runner, s.documents_http_host, s.documents_http_port)
        await site.start()
        port = self.runner.addresses[0][1]
        host = s.documents_http_host if s.documents_http_host not in {"0.0.0.0", "::", ""} else socket.gethostname()
        self.base_url = (s.documents_http_advertise or f"http://{host}:{port}").rstrip("/")
        return self.base_url

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    # -- uploads ----------------------------------------------------------------------------------

    async def upload(self, request: web.Request) -> web.Response:
        deps, s = self.deps, self.settings
        ticket = await tickets.take(
            deps.pool, request.match_info["token"], ("piece_upload", "template_upload"), deps.now()
        )
        raw_name = unquote(request.headers.get("X-File-Name", ""))
        async with spooled(request.content, s.documents_max_file_size, s.documents_spool_dir) as received:
            await self._scan(received.path)
            inspected = await asyncio.get_running_loop().run_in_executor(
                deps.inspector, inspect_file, received.path, s.documents_max_file_size
            )
            if ticket.kind == "template_upload" and inspected.content_type != "application/pdf":
                raise FileRefused(
                    "Le modèle d'une pièce doit être un PDF (à remplir par le candidat).",
                    code="unsupported_media_type",
                    reason="modele_non_pdf",
                )
            name = sanitize_file_name(raw_name, inspected.content_type)
            prefix = (
                f"pieces/{ticket.candidature_id}" if ticket.kind == "piece_upload" else f"modeles/{ticket.piece_id}"
            )
            key = f"{prefix}/{uuid.uuid4()}"
            await deps.storage.put_file(key, received.path, received.size, inspected.content_type)
        stored = StoredFile(key, name, inspected.content_type, received.size, received.sha256)
        try:
            reply = await self._commit(ticket, stored, inspected)
        except BaseException:
            await handlers.forget_object(deps, key, "refused_after_store")
            raise
        log.info("file accepted", extra={"key": key, "size": received.size, "kind": ticket.kind})
        return web.Response(status=201, body=reply.model_dump_json().encode(), content_type="application/json")

    async def _scan(self, path: Path) -> None:
        if self.deps.clamd is None:
            return
        try:
            verdict = await self.deps.clamd.scan_file(path)
        except ConnectionError as exc:
            log.warning("antivirus scan failed", extra={"error": str(exc)})
            raise scan_unavailable() from None
        if not verdict.clean:
            log.warning("infected upload refused", extra={"signature": verdict.signature})
            raise infected(verdict.signature)

    async def _commit(self, ticket: tickets.Ticket, stored: StoredFile, inspected: Inspected):
        deps = self.deps
        if ticket.kind == "piece_upload":
            return await handlers.commit_deposit(deps, ticket.on_behalf_of(), ticket.candidature, ticket.slot, stored)
        now = deps.now()
        async with deps.pool.acquire() as conn, conn.transaction():
            old = await store.template(conn, ticket.piece, lock=True)
            if old is not None:
                await store.queue_deletions(conn, [old["file_key"]], "template.replaced", now)
            row = await store.put_template(
                conn,
                ticket.piece,
                ticket.extra.get("libelle") or stored.name,
                stored.key,
                stored.name,
                stored.size,
                stored.sha256,
                ticket.on_behalf_of().email,
                now,
            )
        return replies.template_view(row)

    # -- downloads --------------------------------------------------------------------------------

    async def download(self, request: web.Request) -> web.StreamResponse:
        deps = self.deps
        ticket = await tickets.take(
            deps.pool,
            request.match_info["token"],
            ("piece_file", "template", "dossier", "letter", "decision_letter"),
            deps.now(),
        )
        if ticket.kind == "dossier":
            async with recap.generated(deps, ticket, request.headers.get("X-Request-Id")) as (path, name):
                return await self._send(request, _file_chunks(path), path.stat().st_size, "application/pdf", name)
        async with deps.pool.acquire() as conn:
            if ticket.kind == "piece_file":
                row = await store.slot_row(conn, ticket.candidature, ticket.slot)
                if row is None or row["file_key"] is None:
                    raise NotFound("Aucun fichier n'est déposé pour cette pièce.")
                key, size, ctype, name = row["file_key"], row["size"], row["content_type"], row["file_name"]
            elif ticket.kind in ("letter", "decision_letter"):
                if ticket.kind == "letter":
                    row = await store.current_letter(conn, ticket.candidature)
                else:
                    row = await store.letter_of_decision(conn, uuid.UUID(ticket.extra["decision_id"]))
                if row is None:
                    raise NotFound("Aucune lettre n'est disponible pour cette candidature.")
                key, size, ctype, name = row["file_key"], row["size"], "application/pdf", row["file_name"]
            else:
                row = await store.template(conn, ticket.piece)
                if row is None:
                    raise NotFound("Aucun modèle n'est disponible pour cette pièce.")
                key, size, ctype, name = row["file_key"], row["size"], "application/pdf", row["file_name"]
        return await self._send(request, await deps.storage.open_stream(key), size, ctype, name)

    async def _send(
        self, request: web.Request, chunks: AsyncIterator[bytes], size: int, content_type: str, name: str
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": content_type, "Content-Length": str(size), "X-File-Name": quote(name)}
        )
        await response.prepare(request)
        async for chunk in chunks:
            await response.write(chunk)
        await response.write_eof()
        return response


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(256 * 1024):
            yield chunk
