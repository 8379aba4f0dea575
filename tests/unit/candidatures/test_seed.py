"""The demo seed runs the offer's handlers without a bus: a call to another service says why it fails."""

import uuid

import pytest

from ecandidat.contracts import dossiers as d
from services.candidatures.seed import SEEDER, _NoBus


async def test_a_seed_path_calling_another_service_gets_a_clear_error() -> None:
    request = d.GetDossier(principal=SEEDER, account_id=uuid.uuid4())
    with pytest.raises(RuntimeError, match=r"the demo seed runs without NATS: rpc\.dossiers\.get_dossier"):
        await _NoBus().call(request, d.DossierView)
