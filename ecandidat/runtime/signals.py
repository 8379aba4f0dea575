"""Telling the fronts, once a transaction has committed, which accounts' kept copies are stale.

The gateways keep copies of what a service answered for an account (`gateway.sessions`) and drop
them when the service says the account changed, on a core NATS signal (`sig.<service>.<name>`)
whose payload names the accounts: their ids comma-separated, or `*` (every account) when they are
too many to name. The accounts service announces through its database (triggers and NOTIFY,
`services/accounts/signals.py`); a service whose commits must not wait on NOTIFY's server-wide
lock announces from its own code, with `AccountsChanged`:

    changes = AccountsChanged(DOSSIERS_CHANGED)
    changes.bind(nc)                       # the service's connection, once started
    changes.after_commit(conn, account_id) # in the transaction that changes what the copy shows

`payload` writes what a signal names and `accounts_of` reads it, for every such signal. The
accounts named in one turn of the event loop share one message, sent after their commits
(nothing for a transaction that rolls back). A signal lost with the bus is covered by the fronts:
they drop everything they kept when their connection comes back, and keep nothing longer than
their TTL.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable

import asyncpg
import nats.errors
from nats.aio.client import Client as NATS

log = logging.getLogger(__name__)

EVERY_ACCOUNT = "*"
MAX_NAMED = 100  # more accounts than this in one signal: `*`, as the accounts' NOTIFY payload does


def payload(accounts: Iterable[uuid.UUID | str]) -> bytes:
    """The signal's payload for `accounts`: their ids comma-separated, or `*` beyond MAX_NAMED."""
    named = sorted({str(a) for a in accounts})
    return (EVERY_ACCOUNT if len(named) > MAX_NAMED else ",".join(named)).encode()


def accounts_of(payload: str) -> frozenset[uuid.UUID] | None:
    """The accounts a signal's payload names; None for every account: `*`, or a payload not
    understood (the safe side)."""
    if payload.strip() == EVERY_ACCOUNT:
        return None
    try:
        return frozenset(uuid.UUID(text.strip()) for text in payload.split(","))
    except ValueError:
        return None


class AccountsChanged:
    def __init__(self, subject: str) -> None:
        self.subject = subject
        self.nc: NATS | None = None
        self.sent = 0
        self._pending: set[uuid.UUID] = set()
        self._sending: asyncio.Task[None] | None = None

    def bind(self, nc: NATS) -> None:
        self.nc = nc

    def after_commit(self, conn: asyncpg.Connection, account_id: uuid.UUID) -> None:
        """Announce `account_id` once the current transaction of `conn` has committed (at once
        outside a transaction: its statement has)."""
        register = getattr(conn, "after_commit", None)  # a kit connection, or a pool's proxy of one
        if register is not None and conn.is_in_transaction():
            register((self, account_id), lambda: self.changed(account_id))
        else:
            self.changed(account_id)

    def changed(self, account_id: uuid.UUID) -> None:
        self._pending.add(account_id)
        if self._sending is None:
            self._sending = asyncio.ensure_future(self._send())

    async def _send(self) -> None:
        # Started at the next turn of the event loop: the commits of this turn share one message.
        accounts, self._pending = self._pending, set()
        try:
            if self.nc is not None:
                await self.nc.publish(self.subject, payload(accounts))
                self.sent += 1
        except nats.errors.Error as exc:  # the fronts lost the bus too: they drop all they kept
            log.info("signal not sent", extra={"error": repr(exc), "subject": self.subject})
        finally:
            self._sending = None
            if self._pending:  # named while the message was being written
                self._sending = asyncio.ensure_future(self._send())
