"""The candidate's dossier as each gateway keeps it, dropped on every replica by the dossiers' signal.

Two gateways on the same bus, each keeping what it read for 10 minutes (`GATEWAY_SESSION_CACHE_TTL`):
only the signal (`sig.dossiers.dossiers_changed`) can make a replica drop its copy in time. A
section saved through one gateway is read at once through it and soon through the other (the
dossier, and the section alone with its ETag, read from the same copy); so are the
changes that come from elsewhere: the lock of the dossier when the candidate applies (a consumer of
the candidatures' events) and the scolarité's correction of the informations personnelles.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from services.candidatures.seed import seed_demo
from tests.conftest import eventually
from tests.e2e.test_accounts import api
from tests.e2e.test_accounts_staff import admin
from tests.e2e.test_journey_defects import apply, candidate
from tests.e2e.test_session_revocation import cache, two_gateways

pytestmark = pytest.mark.slow


@pytest.fixture
async def gateways(start_platform):
    first, second = await two_gateways(start_platform, "accounts", "mailer", "dossiers", "candidatures")
    await seed_demo(first.services["candidatures"].pool, date.today())
    return first, second


async def dossier(platform, token: str) -> dict[str, Any]:
    status, body, _ = await api(platform, "GET", "/api/v1/dossier", token=token)
    assert status == 200, body
    return body


def section(view: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in view["sections"] if s["section"] == name)


async def read_from_its_copy(platform, token: str) -> dict[str, Any]:
    """Read the dossier twice; the second answer must come from the gateway's own copy."""
    first = await dossier(platform, token)
    hits = cache(platform).view_hits
    assert await dossier(platform, token) == first
    assert cache(platform).view_hits == hits + 1  # no rpc
    return first


async def seen(platform, token: str, condition, message: str) -> dict[str, Any]:
    """Wait until the gateway answers the new state. Its copy alone would keep the old one for 10
    minutes: within the deadline, only the dossiers' signal can have dropped it."""
    latest: dict[str, Any] = {}

    async def changed() -> bool:
        latest.update(await dossier(platform, token))
        return condition(latest)

    await eventually(changed, timeout=60, interval=0.01, message=message)
    return latest


async def test_a_section_saved_through_one_gateway_is_read_at_once_there_and_soon_through_the_other(
    gateways, smtp_sink, monkeypatch
):
    a, b = gateways
    # `a` ignores the signal: only its own save can make it read afresh.
    monkeypatch.setattr(cache(a), "revoke_views", lambda kind, payload: None)
    who = await candidate(a, smtp_sink)
    token = who["token"]
    before_a = await read_from_its_copy(a, token)
    await read_from_its_copy(b, token)
    version = section(before_a, "adresse")["version"]
    # A section and the completeness are parts of the same copy.
    hits = cache(b).view_hits
    status, part, headers = await api(b, "GET", "/api/v1/dossier/sections/adresse", token=token)
    assert status == 200 and part == section(before_a, "adresse") and headers["ETag"] == f'"{version}"'
    status, completude, _ = await api(b, "GET", "/api/v1/dossier/completude", token=token)
    assert status == 200 and completude == before_a["completude"]
    assert cache(b).view_hits == hits + 2
    misses = cache(a).misses

    moved = {"pays": "FR", "ligne1": "12 rue des Lois", "code_postal": "31000", "commune": "31555"}
    status, body, _ = await api(
        a, "PUT", "/api/v1/dossier/sections/adresse", moved, token=token, headers={"If-Match": f'"{version}"'}
    )
    assert status == 200, body
    # The gateway that took the save reads afresh at once, and keeps the caller's session.
    status, part, headers = await api(a, "GET", "/api/v1/dossier/sections/adresse", token=token)
    assert part["donnees"]["ligne1"] == "12 rue des Lois" and headers["ETag"] == f'"{version + 1}"'
    assert section(await dossier(a, token), "adresse")["donnees"]["ligne1"] == "12 rue des Lois"
    assert cache(a).misses == misses
    after = await seen(
        b,
        token,
        lambda view: section(view, "adresse")["version"] == version + 1,
        "the other gateway reads the saved address",
    )
    assert section(after, "adresse")["donnees"]["ligne1"] == "12 rue des Lois"
    status, part, headers = await api(b, "GET", "/api/v1/dossier/sections/adresse", token=token)
    assert part == section(after, "adresse") and headers["ETag"] == f'"{version + 1}"'


async def test_the_lock_of_a_first_candidature_and_the_scolarite_s_correction_reach_every_gateway(gateways, smtp_sink):
    a, b = gateways
    who = await candidate(a, smtp_sink)
    token = who["token"]
    view = await read_from_its_copy(b, token)
    assert view["informations_personnelles_verrouillees"] is False

    await apply(a, who, "DAEU-A")
    await seen(
        b,
        token,
        lambda view: view["informations_personnelles_verrouillees"] is True,
        "the other gateway reads the dossier locked by the candidature",
    )
    await read_from_its_copy(b, token)

    gestionnaire = await admin(a)
    path = f"/api/v1/staff/dossiers/{view['account_id']}/sections/informations-personnelles"
    status, current, headers = await api(a, "GET", path, token=gestionnaire.token)
    assert status == 200, current
    corrected = {**current["donnees"], "portable": "+33 6 98 76 54 32"}
    status, body, _ = await api(
        a, "PUT", path, corrected, token=gestionnaire.token, headers={"If-Match": headers["ETag"]}
    )
    assert status == 200, body
    after = await seen(
        b,
        token,
        lambda view: section(view, "informations_personnelles")["donnees"]["portable"] == "+33 6 98 76 54 32",
        "the other gateway reads the scolarité's correction",
    )
    assert section(after, "informations_personnelles")["version"] == current["version"] + 1
    assert uuid.UUID(after["account_id"]) == uuid.UUID(view["account_id"])
