"""Sessions the gateway resolved lately, so that a request does not cost an rpc to accounts.

A session token is resolved by the accounts service (`ResolveSession`), which also slides the
session's idle timeout. The gateway keeps each answer for `GATEWAY_SESSION_CACHE_TTL` seconds
(default 30): the requests of a page (the web front asks the API three or four times at once) and
of the next clicks resolve locally. What ends a session or changes its principal reaches every
replica at once: the accounts service relays the database's own announcement of the change
(`services/accounts/signals.py`) on `sig.accounts.sessions_revoked`, and the cache drops those
accounts' sessions (or all of them for `*`). So a logout, a password or email change, a staff
account disabled or given other roles, takes effect on every gateway within the signal's delivery
(milliseconds), not after the TTL.

What bounds the rest:
- a signal lost with the bus: while the gateway's connection is down nothing is served from the
  cache, and the whole cache is dropped at each reconnection;
- the TTL: an idle timeout or the session's lifetime ends it at most TTL seconds late, and an
  active session is resolved by rpc (its idle timeout slid) at least every TTL seconds;
- a resolution in flight when a signal arrives is not kept (a generation counter).

- a write on accounts made through this gateway (a logout, a password or address change…): the
  caller's sessions are dropped here as soon as it is answered, so that the same client never sees
  its old session (`forget_after_writes`); a write elsewhere (a dossier, a piece, a staff
  decision) changes no session and keeps it.

Concurrent requests with the same token wait for one rpc (single flight). Errors are not kept.

Beside a candidate's session, the cache keeps the candidate's own views, answered without an rpc
under the same rules (the same TTL, the same generation counter; at most `max_views`,
GATEWAY_VIEW_CACHE_SIZE, the least recently kept dropped first):
- the account's (`GET /me`), dropped by the same signal as the sessions (the accounts service
  announces a change of what the view shows too: migration 0005). A view showing a pending change
  of address is not kept: that change ends with its link's expiry, which no signal announces;
- the dossier's (`GET /dossier`, and the section and completeness reads, parts of it), dropped by
  the dossiers service's signal (`sig.dossiers.dossiers_changed`, `revoke_views`), sent after the
  commit of each change of what it shows (a section saved, by the candidate or the scolarité; the
  lock of a first candidature; an imported INE; an erasure), and by the sessions' signal. A
  section saved through this gateway drops the candidate's copy here as soon as it is answered
  (`gateway.auth.forget_after_writes`): a candidate reading through the gateway that took the save
  sees it at once; through another replica, once the signal has arrived (milliseconds).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from nats.aio.client import Client as NATS

from ecandidat.contracts.auth import Principal
from ecandidat.runtime.signals import accounts_of

ACCOUNT_VIEW = "account"
DOSSIER_VIEW = "dossier"
VIEWS = (ACCOUNT_VIEW, DOSSIER_VIEW)


class SessionCache:
    def __init__(self, nc: NATS | None, ttl: float, max_entries: int = 100_000, max_views: int = 20_000) -> None:
        self.nc = nc
        self.ttl = ttl
        self.max_entries = max_entries
        self.max_views = max_views
        self.hits = 0
        self.misses = 0
        self.revocations = 0
        self._entries: OrderedDict[bytes, tuple[Principal, float]] = OrderedDict()
        self._by_account: dict[uuid.UUID, set[bytes]] = {}
        self._views: OrderedDict[tuple[str, uuid.UUID], tuple[bytes, float]] = OrderedDict()
        self.view_lookups: dict[tuple[str, str], int] = {}  # (kind, "hit" or "miss") → count
        self._inflight: dict[bytes, asyncio.Future[Principal]] = {}
        self._generation = 0
        self._reconnects = self._reconnect_count()

    @property
    def enabled(self) -> bool:
        return self.ttl > 0 and self.nc is not None and self.nc.is_connected

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def view_hits(self) -> int:
        return sum(n for (_, outcome), n in self.view_lookups.items() if outcome == "hit")

    def views_kept(self) -> dict[str, int]:
        """How many views of each kind are kept now."""
        kept = dict.fromkeys(VIEWS, 0)
        for kind, _ in self._views:
            kept[kind] += 1
        return kept

    async def resolve(self, token: str, fetch: Callable[[], Awaitable[Principal]]) -> Principal:
        self._check_reconnected()
        if not self.enabled:
            return await fetch()
        key = hashlib.sha256(token.encode()).digest()
        entry = self._entries.get(key)
        now = time.monotonic()
        if entry is not None and entry[1] > now:
            self.hits += 1
            return entry[0]
        running = self._inflight.get(key)
        if running is not None:
            return await asyncio.shield(running)
        self.misses += 1
        generation = self._generation
        future: asyncio.Future[Principal] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            principal = await fetch()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: the waiters (if any) get it, nobody else needs to
            raise
        else:
            future.set_result(principal)
            if generation == self._generation:
                self._put(key, principal, now + self.ttl)
            return principal
        finally:
            del self._inflight[key]

    async def view(self, kind: str, account_id: uuid.UUID, fetch: Callable[[], Awaitable[bytes]]) -> bytes:
        """The account's `kind` view (JSON as its service wrote it: ACCOUNT_VIEW, DOSSIER_VIEW),
        kept unless it must not be (`_KEPT_UNLESS`); `fetch` asks the service."""
        self._check_reconnected()
        if not self.enabled or not self.max_views:
            return await fetch()
        key = (kind, account_id)
        entry = self._views.get(key)
        now = time.monotonic()
        outcome = "hit" if entry is not None and entry[1] > now else "miss"
        self.view_lookups[kind, outcome] = self.view_lookups.get((kind, outcome), 0) + 1
        if entry is not None and outcome == "hit":
            return entry[0]
        generation = self._generation
        body = await fetch()
        if generation == self._generation and not _KEPT_UNLESS[kind](body):
            self._views[key] = (body, now + self.ttl)
            self._views.move_to_end(key)
            while len(self._views) > self.max_views:
                self._views.popitem(last=False)
        return body

    def revoke(self, payload: str) -> None:
        """A signal: the sessions of the accounts it names (`ecandidat.runtime.signals`) are stale."""
        self.revocations += 1
        self._generation += 1
        accounts = accounts_of(payload)
        if accounts is None:
            self.clear()
            return
        for account in accounts:
            self._drop(account)

    def revoke_views(self, kind: str, payload: str) -> None:
        """A signal: the `kind` views of the accounts it names are stale; their sessions are not."""
        self.revocations += 1
        self._generation += 1
        accounts = accounts_of(payload)
        if accounts is None:
            for key in [k for k in self._views if k[0] == kind]:
                del self._views[key]
            return
        for account in accounts:
            self._views.pop((kind, account), None)

    def forget_view(self, kind: str, account_id: uuid.UUID) -> None:
        """This gateway changed what the account's `kind` view shows: its next read asks afresh."""
        self._generation += 1
        self._views.pop((kind, account_id), None)

    def forget(self, account_id: uuid.UUID) -> None:
        """This gateway changed something of the account (a write it made on its behalf): its next
        request is resolved afresh here, without waiting for the signal."""
        self._generation += 1
        self._drop(account_id)

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()
        self._by_account.clear()
        self._views.clear()

    def _drop(self, account_id: uuid.UUID) -> None:
        for key in self._by_account.pop(account_id, ()):
            self._entries.pop(key, None)
        for kind in VIEWS:
            self._views.pop((kind, account_id), None)

    def _put(self, key: bytes, principal: Principal, expires: float) -> None:
        self._entries[key] = (principal, expires)
        self._entries.move_to_end(key)
        self._by_account.setdefault(principal.account_id, set()).add(key)
        while len(self._entries) > self.max_entries:
            old, (who, _) = self._entries.popitem(last=False)
            keys = self._by_account.get(who.account_id)
            if keys is not None:
                keys.discard(old)
                if not keys:
                    del self._by_account[who.account_id]

    def _reconnect_count(self) -> int:
        return int(self.nc.stats.get("reconnects", 0)) if self.nc is not None else 0

    def _check_reconnected(self) -> None:
        """Signals sent while the connection was down were lost: drop everything once back."""
        count = self._reconnect_count()
        if count != self._reconnects:
            self._reconnects = count
            self.clear()


def _pending_email(body: bytes) -> bool:
    try:
        view = json.loads(body)
    except ValueError:
        return True
    return not isinstance(view, dict) or view.get("pending_email") is not None


_KEPT_UNLESS: dict[str, Callable[[bytes], bool]] = {ACCOUNT_VIEW: _pending_email, DOSSIER_VIEW: lambda _: False}
