"""What the candidatures service asks of the dossiers service."""

from __future__ import annotations

from ecandidat.contracts.auth import Principal
from ecandidat.contracts.dossiers import Completeness, GetCompleteness
from ecandidat.runtime.rpc import RpcClient


async def missing_in_dossier(rpc: RpcClient, principal: Principal) -> list[str]:
    """The parts of the dossier still to fill before applying (informations personnelles,
    adresse, baccalauréat), as French sentences; empty when the dossier allows applying."""
    completeness = await rpc.call(GetCompleteness(account_id=principal.account_id), Completeness)
    return [] if completeness.complet else list(completeness.manquants) or ["Votre dossier est incomplet."]
