"""Events the candidatures service reacts to."""

from __future__ import annotations

from ecandidat.contracts.accounts import AccountPurged
from ecandidat.runtime.consumer import Subscription

from . import handlers


async def on_account_purged(conn, event: AccountPurged, meta) -> None:
    await handlers.erase_account(conn, event.account_id)


def erasure() -> list[Subscription]:
    return [Subscription(AccountPurged, on_account_purged)]
