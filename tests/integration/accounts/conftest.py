"""An accounts service in the test's event loop, with a movable clock and an rpc client."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ecandidat.runtime.clock import OffsetClock
from ecandidat.runtime.rpc import RpcClient
from ecandidat.runtime.sealing import new_key
from services.accounts.service import AccountsService
from services.accounts.settings import AccountsSettings


@dataclass
class Running:
    service: AccountsService
    rpc: RpcClient
    clock: OffsetClock


@pytest.fixture
async def accounts(settings_for):
    clock = OffsetClock()
    service = AccountsService(
        settings_for(AccountsSettings, link_sealing_key=new_key(), accounts_hash_workers=2), clock=clock
    )
    await service.start()
    yield Running(service, RpcClient(service.nc, timeout=10), clock)
    await service.stop()
