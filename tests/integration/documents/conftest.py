"""A documents service against the real test servers, driven by events and rpc like its peers do."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import aiohttp
import nats
import pytest

from ecandidat.contracts.auth import Principal
from ecandidat.contracts.base import Event
from ecandidat.contracts.candidatures import CandidatureCreated, RequiredPiece
from ecandidat.contracts.documents import OpenPieceUpload, UploadTicket
from ecandidat.contracts.envelope import envelope
from ecandidat.contracts.subjects import event_subject
from ecandidat.devstack._process import free_port, wait_port
from ecandidat.runtime.rpc import RpcClient
from services.documents.service import DocumentsService
from services.documents.settings import DocumentsSettings
from tests.conftest import eventually
from tests.unit.documents.corpus import EICAR


# What every candidature event of these tests says about the candidature besides its ids.
FACTS = {
    "numero_dossier": "26AB12CD",
    "formation_code": "DAEU-A",
    "formation_libelle": "DAEU option A",
    "centre_code": "DAEU",
}


@dataclass
class Docs:
    service: DocumentsService
    rpc: RpcClient
    nc: nats.NATS

    async def publish(self, event: Event, event_id: uuid.UUID | None = None) -> uuid.UUID:
        event_id = event_id or uuid.uuid4()
        body = envelope(event, event_id=event_id, time=datetime.now(timezone.utc))
        await self.nc.jetstream().publish(
            event_subject(event), body.model_dump_json().encode(), headers={"Nats-Msg-Id": str(event_id)}
        )
        return event_id

    async def candidature(
        self, account_id: uuid.UUID | None = None, pieces: int = 2, retour: date = date(2099, 6, 20)
    ) -> tuple[Principal, uuid.UUID, list[RequiredPiece]]:
        me = Principal(
            realm="candidate", account_id=account_id or uuid.uuid4(), email="c@example.org", numero_dossier="26AB12CD"
        )
        cid = uuid.uuid4()
        required = [
            RequiredPiece(
                piece_id=uuid.uuid4(), code=f"P{i}", libelle=f"Pièce {i}", ordre=i, conditionnelle=i == pieces - 1
            )
            for i in range(pieces)
        ]
        await self.publish(
            CandidatureCreated(
                candidature_id=cid,
                account_id=me.account_id,
                **FACTS,
                centre_libelle="DAEU",
                type_traitement="acces_controle",
                date_limite_retour=retour,
                campagne_libelle="Campagne 2026",
                pieces=required,
            )
        )
        await eventually(lambda: self.slots(cid), message="slots opened")
        return me, cid, required

    async def slots(self, cid: uuid.UUID) -> list:
        async with self.service.pool.acquire() as conn:
            return await conn.fetch("SELECT * FROM piece_slots WHERE candidature_id = $1 ORDER BY ordre", cid)

    async def upload(self, me: Principal, cid: uuid.UUID, slot_id: uuid.UUID, data: bytes) -> tuple[int, dict]:
        ticket = await self.rpc.call(OpenPieceUpload(principal=me, candidature_id=cid, slot_id=slot_id), UploadTicket)
        async with aiohttp.ClientSession() as http:
            async with http.post(ticket.url, data=data, headers={"X-File-Name": "f.pdf"}) as resp:
                return resp.status, await resp.json()


@pytest.fixture
async def docs_for(settings_for, nats_server) -> AsyncIterator:
    started: list[tuple[DocumentsService, nats.NATS]] = []

    async def start(**overrides) -> Docs:
        settings = settings_for(DocumentsSettings, s3_bucket=f"pieces-{uuid.uuid4().hex[:8]}", **overrides)
        service = DocumentsService(settings)
        await service.start()
        nc = await nats.connect(settings.nats_url, **nats_server.connect_options())
        started.append((service, nc))
        return Docs(service, RpcClient(nc, timeout=5), nc)

    yield start
    for service, nc in started:
        await nc.close()
        await service.stop()


@pytest.fixture
async def docs(docs_for) -> Docs:
    return await docs_for()


@pytest.fixture(scope="session")
def clamd_server(tmp_path_factory) -> Iterator[tuple[str, int]]:
    """A real clamd (Debian's clamav-daemon) with a one-signature database that detects EICAR: the
    official databases are not downloaded in tests."""
    binary = shutil.which("clamd")
    if binary is None:
        pytest.skip("clamd is not installed (apt-get install clamav-daemon)")
    folder: Path = tmp_path_factory.mktemp("clamd")
    (folder / "db").mkdir()
    (folder / "db" / "eicar.ndb").write_text("Eicar-Test-Signature:0:0:" + EICAR.hex() + "\n")
    port = free_port()
    (folder / "clamd.conf").write_text(
        f"Foreground yes\nDatabaseDirectory {folder / 'db'}\nTCPSocket {port}\nTCPAddr 127.0.0.1\n"
        f"LogFile {folder / 'clamd.log'}\nStreamMaxLength 10M\n"
    )
    process = subprocess.Popen(
        [binary, "-c", str(folder / "clamd.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        try:
            wait_port("127.0.0.1", port, timeout=60, process=process)
        except (TimeoutError, RuntimeError):
            log = folder / "clamd.log"
            pytest.skip("clamd did not start: " + (log.read_text()[-500:] if log.exists() else ""))
        yield "127.0.0.1", port
    finally:
        process.terminate()
        process.wait(10)
