"""What the candidatures service asks of the dossiers service."""

from __future__ import annotations

from ecandidat.contracts.auth import Principal
from ecandidat.runtime.rpc import RpcClient


async def missing_in_dossier(rpc: RpcClient, principal: Principal) -> list[str]:
    """The parts of the dossier still to fill before applying (informations personnelles,
    adresse, baccalauréat), as French sentences; empty when the dossier allows applying."""
    result = await rpc.call_subject(
        "rpc.dossiers.completeness", principal_payload(principal), request_id=None
    )
    return list(result.get("missing_for_application", result.get("missing", [])))


def principal_payload(principal: Principal) -> bytes:
    return ('{"principal":' + principal.model_dump_json() + "}").encode()
