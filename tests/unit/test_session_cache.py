"""The gateway's session cache: one rpc for concurrent requests, signals that revoke, nothing kept
from a resolution overtaken by a signal, nothing served without the bus; the same for the
candidate's own views kept beside the session (the account's, the dossier's)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from ecandidat.contracts.auth import Principal
from ecandidat.contracts.errors import Unauthenticated
from gateway.sessions import ACCOUNT_VIEW, DOSSIER_VIEW, SessionCache


class Bus:
    def __init__(self) -> None:
        self.is_connected = True
        self.stats = {"reconnects": 0}


def principal(account: uuid.UUID | None = None) -> Principal:
    return Principal(
        realm="candidate", account_id=account or uuid.uuid4(), email="zoe@example.org", numero_dossier="26ABCDEF"
    )


class Accounts:
    """The accounts service as the cache sees it: a resolution that takes a while."""

    def __init__(self) -> None:
        self.calls = 0
        self.sessions: dict[str, Principal] = {}
        self.gate = asyncio.Event()
        self.gate.set()

    def fetch(self, token: str):
        async def resolve() -> Principal:
            self.calls += 1
            await self.gate.wait()
            if token not in self.sessions:
                raise Unauthenticated("Session expirée.")
            return self.sessions[token]

        return resolve


async def test_concurrent_requests_share_one_resolution_and_the_next_ones_none():
    accounts, cache = Accounts(), SessionCache(Bus(), ttl=30)
    who = accounts.sessions["t"] = principal()
    accounts.gate.clear()
    pending = [asyncio.create_task(cache.resolve("t", accounts.fetch("t"))) for _ in range(4)]
    await asyncio.sleep(0)
    accounts.gate.set()
    assert await asyncio.gather(*pending) == [who] * 4
    assert await cache.resolve("t", accounts.fetch("t")) == who
    assert accounts.calls == 1 and cache.hits == 1


async def test_a_signal_revokes_the_accounts_it_names_and_star_revokes_all():
    accounts, cache = Accounts(), SessionCache(Bus(), ttl=30)
    one, two = principal(), principal()
    accounts.sessions.update(a=one, b=two)
    for token in "ab":
        await cache.resolve(token, accounts.fetch(token))
    cache.revoke(f"{one.account_id}")
    del accounts.sessions["a"]
    with pytest.raises(Unauthenticated):
        await cache.resolve("a", accounts.fetch("a"))
    assert await cache.resolve("b", accounts.fetch("b")) == two and accounts.calls == 3
    cache.revoke("*")
    assert len(cache) == 0
    cache.revoke("not an id")  # not understood: everything goes
    assert len(cache) == 0


async def test_a_resolution_overtaken_by_a_signal_is_not_kept():
    accounts, cache = Accounts(), SessionCache(Bus(), ttl=30)
    who = accounts.sessions["t"] = principal()
    accounts.gate.clear()
    pending = asyncio.create_task(cache.resolve("t", accounts.fetch("t")))
    await asyncio.sleep(0)
    cache.revoke(str(who.account_id))  # the logout committed while the answer was on its way
    accounts.gate.set()
    assert await pending == who
    assert len(cache) == 0


async def test_errors_are_not_kept_and_nothing_is_cached_without_the_bus_or_with_no_ttl():
    accounts, bus = Accounts(), Bus()
    cache = SessionCache(bus, ttl=30)
    with pytest.raises(Unauthenticated):
        await cache.resolve("t", accounts.fetch("t"))
    accounts.sessions["t"] = principal()
    await cache.resolve("t", accounts.fetch("t"))
    bus.is_connected = False
    await cache.resolve("t", accounts.fetch("t"))
    assert accounts.calls == 3
    bus.is_connected, bus.stats["reconnects"] = True, 1  # back: what was missed meanwhile is dropped
    await cache.resolve("t", accounts.fetch("t"))
    assert accounts.calls == 4
    off = SessionCache(Bus(), ttl=0)
    for _ in range(2):
        await off.resolve("t", accounts.fetch("t"))
    assert accounts.calls == 6 and len(off) == 0


async def test_the_cache_is_bounded():
    accounts, cache = Accounts(), SessionCache(Bus(), ttl=30, max_entries=3)
    for n in range(5):
        accounts.sessions[str(n)] = principal()
        await cache.resolve(str(n), accounts.fetch(str(n)))
    assert len(cache) == 3
    cache.revoke(str(accounts.sessions["0"].account_id))  # an evicted one: nothing to do
    assert len(cache) == 3


class Views:
    """The accounts service's `get_account` as the cache sees it: the view's JSON bytes."""

    def __init__(self, pending: str | None = None) -> None:
        self.calls = 0
        self.nom = "Martin"
        self.pending = pending
        self.gate = asyncio.Event()
        self.gate.set()

    async def fetch(self) -> bytes:
        self.calls += 1
        await self.gate.wait()
        pending = "null" if self.pending is None else f'"{self.pending}"'
        return f'{{"nom":"{self.nom}","pending_email":{pending}}}'.encode()


async def test_an_account_view_is_kept_until_a_signal_names_the_account_or_this_gateway_writes():
    cache, views, account = SessionCache(Bus(), ttl=30), Views(), uuid.uuid4()
    assert await cache.view(ACCOUNT_VIEW, account, views.fetch) == b'{"nom":"Martin","pending_email":null}'
    assert await cache.view(ACCOUNT_VIEW, account, views.fetch) and views.calls == 1 and cache.view_hits == 1
    views.nom = "Durand"
    cache.revoke(str(uuid.uuid4()))  # another account: kept
    assert b"Martin" in await cache.view(ACCOUNT_VIEW, account, views.fetch)
    cache.revoke(str(account))
    assert b"Durand" in await cache.view(ACCOUNT_VIEW, account, views.fetch) and views.calls == 2
    views.nom = "Petit"
    cache.forget(account)
    assert b"Petit" in await cache.view(ACCOUNT_VIEW, account, views.fetch)
    views.nom = "Bernard"
    cache.revoke("*")
    assert b"Bernard" in await cache.view(ACCOUNT_VIEW, account, views.fetch) and views.calls == 4


async def test_an_account_view_overtaken_by_a_signal_or_showing_a_pending_address_is_not_kept():
    cache, views, account = SessionCache(Bus(), ttl=30), Views(), uuid.uuid4()
    views.gate.clear()
    reading = asyncio.create_task(cache.view(ACCOUNT_VIEW, account, views.fetch))
    await asyncio.sleep(0)
    cache.revoke(str(account))
    views.gate.set()
    await reading
    await cache.view(ACCOUNT_VIEW, account, views.fetch)
    assert views.calls == 2  # the first answer was not kept

    pending, other = Views(pending="nouvelle@example.org"), uuid.uuid4()
    for _ in range(2):
        assert b"nouvelle@example.org" in await cache.view(ACCOUNT_VIEW, other, pending.fetch)
    assert pending.calls == 2  # its link expires without a signal: asked every time


async def test_no_account_view_is_kept_without_the_bus_with_no_ttl_or_no_room():
    bus, views, account = Bus(), Views(), uuid.uuid4()
    for cache in (SessionCache(bus, ttl=0), SessionCache(None, ttl=30), SessionCache(bus, ttl=30, max_views=0)):
        await cache.view(ACCOUNT_VIEW, account, views.fetch)
        await cache.view(ACCOUNT_VIEW, account, views.fetch)
    assert views.calls == 6
    cache = SessionCache(bus, ttl=30)
    await cache.view(ACCOUNT_VIEW, account, views.fetch)
    bus.stats["reconnects"] = 1  # signals may have been lost meanwhile
    await cache.view(ACCOUNT_VIEW, account, views.fetch)
    assert views.calls == 8


async def test_a_dossier_view_is_dropped_by_the_dossiers_signal_without_the_session_or_the_account_view():
    cache, accounts, account = SessionCache(Bus(), ttl=30), Accounts(), uuid.uuid4()
    accounts.sessions["t"] = principal(account)
    profile, dossier = Views(), Views()
    dossier.nom = "version 1"
    await cache.resolve("t", accounts.fetch("t"))
    await cache.view(ACCOUNT_VIEW, account, profile.fetch)
    assert b"version 1" in await cache.view(DOSSIER_VIEW, account, dossier.fetch)
    assert b"version 1" in await cache.view(DOSSIER_VIEW, account, dossier.fetch) and dossier.calls == 1

    dossier.nom = "version 2"
    cache.revoke_views(DOSSIER_VIEW, f"{uuid.uuid4()},{uuid.uuid4()}")  # other accounts: kept
    assert b"version 1" in await cache.view(DOSSIER_VIEW, account, dossier.fetch)
    cache.revoke_views(DOSSIER_VIEW, f"{uuid.uuid4()},{account}")
    assert b"version 2" in await cache.view(DOSSIER_VIEW, account, dossier.fetch) and dossier.calls == 2
    await cache.resolve("t", accounts.fetch("t"))
    await cache.view(ACCOUNT_VIEW, account, profile.fetch)
    assert accounts.calls == 1 and profile.calls == 1  # the session and the account's view stayed kept

    for payload in ("*", "not an id"):  # every account's dossier, or a payload not understood
        dossier.nom = payload
        cache.revoke_views(DOSSIER_VIEW, payload)
        assert payload.encode() in await cache.view(DOSSIER_VIEW, account, dossier.fetch)
    dossier.nom = "after a save through this gateway"
    cache.forget_view(DOSSIER_VIEW, account)
    assert b"after a save" in await cache.view(DOSSIER_VIEW, account, dossier.fetch)
    dossier.nom = "after a logout"
    cache.revoke(str(account))  # the sessions' signal drops every view of the account
    assert b"after a logout" in await cache.view(DOSSIER_VIEW, account, dossier.fetch) and dossier.calls == 6
    assert profile.calls == 1 and accounts.calls == 1


async def test_a_dossier_view_read_before_a_change_whose_signal_overtook_it_is_not_kept():
    cache, dossier, account = SessionCache(Bus(), ttl=30), Views(), uuid.uuid4()
    dossier.gate.clear()
    reading = asyncio.create_task(cache.view(DOSSIER_VIEW, account, dossier.fetch))
    await asyncio.sleep(0)
    cache.revoke_views(DOSSIER_VIEW, str(account))  # the save committed while the answer was on its way
    dossier.gate.set()
    await reading
    await cache.view(DOSSIER_VIEW, account, dossier.fetch)
    assert dossier.calls == 2


async def test_the_least_recently_kept_views_go_first_beyond_the_bound():
    cache, dossier = SessionCache(Bus(), ttl=30, max_views=3), Views()
    accounts = [uuid.uuid4() for _ in range(4)]
    for account in accounts:
        await cache.view(DOSSIER_VIEW, account, dossier.fetch)
    assert dossier.calls == 4
    for account in accounts[1:]:
        await cache.view(DOSSIER_VIEW, account, dossier.fetch)
    assert dossier.calls == 4  # the last three are kept
    await cache.view(DOSSIER_VIEW, accounts[0], dossier.fetch)
    assert dossier.calls == 5  # the first went
