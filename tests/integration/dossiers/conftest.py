"""A dossiers service running in the test's event loop against the session's NATS and PostgreSQL."""

from __future__ import annotations

import base64
import gzip
import uuid
from datetime import date, datetime, timezone

import pytest

from ecandidat.contracts.auth import Principal
from ecandidat.contracts.base import Event
from ecandidat.contracts.candidatures import CandidatureCreated
from ecandidat.contracts.envelope import envelope
from ecandidat.contracts.subjects import event_subject
from ecandidat.runtime.db import connect
from ecandidat.runtime.rpc import RpcClient
from services.dossiers.service import DossiersService
from services.dossiers.settings import DossiersSettings
from tests.conftest import operator_publish


@pytest.fixture
async def dossiers(settings_for):
    service = DossiersService(settings_for(DossiersSettings))
    await service.start()
    yield service
    await service.stop()


@pytest.fixture
def rpc(dossiers) -> RpcClient:
    return RpcClient(dossiers.nc, timeout=10)


@pytest.fixture
async def dossiers_db(database_url):
    conn = await connect(database_url, "dossiers")
    yield conn
    await conn.close()


def candidate(account_id: uuid.UUID | None = None) -> Principal:
    account_id = account_id or uuid.uuid4()
    return Principal(
        realm="candidate",
        account_id=account_id,
        email=f"{account_id.hex[:8]}@example.org",
        numero_dossier=account_id.hex[:8].upper(),
    )


def staff(*roles: str, centres: tuple[str, ...] = (), commissions: tuple[str, ...] = ()) -> Principal:
    return Principal(
        realm="staff",
        account_id=uuid.uuid4(),
        email="agent@univ.example",
        roles=roles,
        centres=centres,
        commissions=commissions,
    )


def packed(csv_bytes: bytes) -> str:
    return base64.b64encode(gzip.compress(csv_bytes)).decode()


async def publish(dossiers: DossiersService, event: Event, *, event_id: uuid.UUID | None = None) -> uuid.UUID:
    """Publish an event the way a producer's outbox relay does (envelope, Nats-Msg-Id)."""
    event_id = event_id or uuid.uuid4()
    body = envelope(
        event, event_id=event_id, time=datetime.now(timezone.utc), subject=str(getattr(event, "account_id", ""))
    )
    await operator_publish(
        dossiers.settings, event_subject(event), body.model_dump_json().encode(), headers={"Nats-Msg-Id": str(event_id)}
    )
    return event_id


def candidature_created(
    account_id: uuid.UUID, centre: str = "DAEU", commission: str | None = "COM-DAEU"
) -> CandidatureCreated:
    return CandidatureCreated(
        candidature_id=uuid.uuid4(),
        account_id=account_id,
        numero_dossier="22PB7Y36",
        formation_code="DAEU-A",
        formation_libelle="DAEU option A",
        centre_code=centre,
        commission_code=commission,
        centre_libelle="Diplôme d'Accès aux Etudes Universitaires",
        type_traitement="acces_controle",
        date_limite_retour=date(2026, 6, 20),
        campagne_libelle="Campagne 2026",
    )
