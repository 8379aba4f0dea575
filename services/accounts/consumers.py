"""JetStream subscriptions of the accounts service: its own lost-link requests, answered once
committed (`lost_links.py`). Every handler is `handler(deps, conn, event, meta)`."""

from __future__ import annotations

from ecandidat.contracts.accounts import MailRequestReceived
from ecandidat.runtime.consumer import Subscription, subscription

from . import lost_links
from .context import Deps


def subscriptions(deps: Deps) -> dict[str, list[Subscription]]:
    """Each purpose's subscriptions."""
    return {"mail-requests": [subscription(MailRequestReceived, lost_links.answer_mail_request, deps)]}
