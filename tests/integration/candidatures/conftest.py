"""The candidatures service in the test loop, with stand-ins for the services it asks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import nats
import pytest

from ecandidat.contracts.auth import Principal
from ecandidat.contracts.dossiers import Completeness, GetCompleteness
from ecandidat.contracts.errors import Unavailable
from ecandidat.contracts.documents import (
    FreezePieces,
    FreezeResult,
    GetPiecesReadiness,
    MissingPiece,
    PiecesReadiness,
    PiecesReadinessList,
    ReleasePieces,
)
from ecandidat.runtime.clock import OffsetClock
from ecandidat.runtime.rpc import RpcClient, RpcServer
from services.candidatures.seed import seed_demo
from services.candidatures.service import CandidaturesService
from services.candidatures.settings import CandidaturesSettings


@dataclass
class Peers:
    """Real rpc servers on NATS that answer for the dossiers and documents services."""

    missing_in_dossier: list[str] = field(default_factory=list)
    dossiers_down: bool = False
    missing_pieces: dict[uuid.UUID, list[str]] = field(default_factory=dict)
    frozen: list[uuid.UUID] = field(default_factory=list)
    released: list[uuid.UUID] = field(default_factory=list)
    on_freeze: object = None


@pytest.fixture
async def peers(nats_server):
    state = Peers()
    # Stand-ins for dossiers and documents: the operator identity may answer any rpc.
    nc = await nats.connect(nats_server.url, **nats_server.connect_options())
    dossiers = RpcServer(nc, "dossiers")
    documents = RpcServer(nc, "documents")

    @dossiers.route(GetCompleteness)
    async def completeness(req: GetCompleteness, ctx) -> Completeness:
        if state.dossiers_down:
            raise Unavailable("Le service des dossiers ne répond pas.")
        missing = state.missing_in_dossier
        return Completeness(
            account_id=req.account_id,
            informations_personnelles=not missing,
            adresse=not missing,
            baccalaureat=not missing,
            complet=not missing,
            manquants=missing,
            a_completer=list(req.exigees) if missing else [],
        )

    @documents.route(FreezePieces)
    async def freeze(req: FreezePieces, ctx) -> FreezeResult:
        if state.on_freeze is not None:
            await state.on_freeze(req)
        missing = state.missing_pieces.get(req.candidature_id, [])
        if missing:
            return FreezeResult(
                frozen=False,
                missing=[MissingPiece(piece_id=uuid.uuid4(), libelle=m, statut="en_attente") for m in missing],
            )
        state.frozen.append(req.candidature_id)
        return FreezeResult(frozen=True)

    @documents.route(GetPiecesReadiness)
    async def readiness(req: GetPiecesReadiness, ctx) -> PiecesReadinessList:
        return PiecesReadinessList(
            items=[
                PiecesReadiness(
                    candidature_id=cid,
                    known=True,
                    missing=[
                        MissingPiece(piece_id=uuid.uuid4(), libelle=m, statut="en_attente")
                        for m in state.missing_pieces.get(cid, [])
                    ],
                )
                for cid in req.candidature_ids
            ]
        )

    @documents.route(ReleasePieces)
    async def release(req: ReleasePieces, ctx) -> FreezeResult:
        state.released.append(req.candidature_id)
        return FreezeResult(frozen=False)

    await dossiers.start()
    await documents.start()
    yield state
    await dossiers.stop()
    await documents.stop()
    await nc.close()


@pytest.fixture
async def service(settings_for, peers):
    clock = OffsetClock()
    svc = CandidaturesService(settings_for(CandidaturesSettings), clock=clock)
    await svc.start()
    await seed_demo(svc.pool, clock.now().date())
    svc.client = RpcClient(svc.nc, timeout=5)
    yield svc
    await svc.stop()


def candidate() -> Principal:
    n = uuid.uuid4()
    return Principal(
        realm="candidate", account_id=n, email=f"{n.hex[:8]}@example.org", numero_dossier="26" + n.hex[:6].upper()
    )
