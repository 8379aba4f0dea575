"""Schemathesis against the whole platform, realm by realm: the public routes, a real candidate's and
a real administrator's (password + TOTP) session. Positive and negative data are generated from the
OpenAPI document the gateway serves; every response must be no server error, have a documented
status and content type, and match its schema.

The platform runs on a database of its own (what the fuzzing creates — centres, pieces, accounts —
must not leak into other tests), with a candidature, a deposited piece and a piece template in it:
their identifiers are the examples of the path parameters, so that the routes behind them are
reached, not only their 404s. The budget is bounded and deterministic (a fixed seed, a few examples
per operation, one worker): about a minute for the three realms on a quiet machine, three on a
loaded one. A failure prints schemathesis's report, with the `curl` command of each case.
"""

from __future__ import annotations

import asyncio
import copy
import json
import sys
import uuid
from datetime import date
from pathlib import Path

import pytest

from ecandidat.devstack.infra import drop_database, ensure_database
from services.candidatures.seed import seed_demo
from tests.conftest import eventually
from tests.e2e.test_accounts import activated_account, api, login, sealing_overrides
from tests.e2e.test_accounts_staff import admin
from tests.unit.documents import corpus
from tests.unit.dossiers.samples import adresse, baccalaureat, infos_perso

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
SEED = 20261130
EXAMPLES_PER_OPERATION = 4
SERVICES = ("accounts", "dossiers", "candidatures", "documents", "mailer", "webhooks")
# Ending the session under test would leave the rest of the run unauthenticated; both are e2e-tested.
NOT_FUZZED = {("delete", "/api/v1/sessions/current"), ("delete", "/api/v1/staff/sessions/current")}


def realm_document(document: dict, realm: str | None, live: dict[str, str]) -> dict:
    """The part of the OpenAPI document a session of `realm` (None: no session) may call, its path
    parameters exemplified by identifiers that exist (`live`)."""
    paths = {}
    for path, methods in document["paths"].items():
        kept = {
            m: copy.deepcopy(op)
            for m, op in methods.items()
            if op.get("x-realm") == realm and (m, path) not in NOT_FUZZED
        }
        for op in kept.values():
            for param in op.get("parameters", []):
                if param["in"] == "path" and param["name"] in live:
                    param["example"] = live[param["name"]]
        if kept:
            paths[path] = kept
    return {**document, "paths": paths}


async def run_schemathesis(tmp_path: Path, document: dict, base_url: str, realm: str | None, token: str | None) -> None:
    schema = tmp_path / f"openapi-{realm or 'public'}.json"
    schema.write_text(json.dumps(document))
    args = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        str(schema),
        "--url",
        base_url,
        "--checks",
        CHECKS,
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--phases",
        "examples,coverage,fuzzing",
        "--request-timeout",
        "30",
        "--suppress-health-check",
        "all",
        "--no-color",
    ]
    if token:
        args += ["--header", f"Authorization: Bearer {token}"]
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path
    )  # its cache stays out of the checkout
    output, _ = await asyncio.wait_for(process.communicate(), timeout=600)
    report = output.decode(errors="replace")
    assert process.returncode == 0, f"schemathesis found failures in the {realm or 'public'} realm:\n{report[-20000:]}"
    assert "passed" in report, report[-3000:]


@pytest.fixture
async def platform(start_platform, pg_admin_url):
    name = f"ecandidat_fuzz_{uuid.uuid4().hex[:10]}"
    url = await ensure_database(pg_admin_url, name)
    overrides = sealing_overrides()
    for service in SERVICES:
        overrides[service] = {**overrides.get(service, {}), "database_url": url}
    overrides["documents"]["s3_bucket"] = f"fuzz-{uuid.uuid4().hex[:8]}"
    p = await start_platform(*SERVICES, **overrides)
    await seed_demo(p.services["candidatures"].pool, date.today())
    yield p
    for service in p.services.values():  # before the database goes
        await service.stop()
        service._stopped = True
    await drop_database(pg_admin_url, name)


async def live_data(platform, smtp_sink) -> tuple[str, str, dict[str, str]]:
    """A candidate with a candidature and a deposited piece, an administrator, and their identifiers."""
    candidate = await activated_account(platform, smtp_sink)
    token = await login(platform, candidate["numero_dossier"])
    for slug, content in (
        ("informations-personnelles", infos_perso()),
        ("adresse", adresse()),
        ("baccalaureat", baccalaureat()),
    ):
        status, body, _ = await api(
            platform, "PUT", f"/api/v1/dossier/sections/{slug}", content, token=token, headers={"If-Match": '"0"'}
        )
        assert status == 200, body
    status, candidature, _ = await api(
        platform, "POST", "/api/v1/candidatures", {"formation_code": "DAEU-A"}, token=token
    )
    assert status == 201, candidature

    async def slots():
        status, body, _ = await api(platform, "GET", f"/api/v1/candidatures/{candidature['id']}/pieces", token=token)
        return body["items"] if status == 200 and body["items"] else None

    piece = (await eventually(slots, timeout=60, message="piece slots opened"))[0]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/pdf", "X-File-Name": "cv.pdf"}
    path = f"/api/v1/candidatures/{candidature['id']}/pieces/{piece['slot_id']}/fichier"
    async with platform.http.put(platform.url(path), data=corpus.reportlab_pdf(), headers=headers) as resp:
        assert resp.status == 201, await resp.text()
    staff = await admin(platform)
    path = f"/api/v1/staff/pieces/{piece['piece_id']}/modele?libelle=Fiche"
    async with platform.http.put(
        platform.url(path),
        data=corpus.reportlab_pdf(),
        headers={"Authorization": f"Bearer {staff.token}", "Content-Type": "application/pdf"},
    ) as resp:
        assert resp.status == 201, await resp.text()
    me = (await api(platform, "GET", "/api/v1/me", token=token))[1]
    live = {
        "candidature_id": candidature["id"],
        "slot_id": piece["slot_id"],
        "piece_id": piece["piece_id"],
        "account_id": me["account_id"],
        "code": "DAEU-A",
        "section": "adresse",
    }
    return token, staff.token, live


async def test_schemathesis_finds_nothing_in_any_realm(platform, smtp_sink, tmp_path):
    async with platform.http.get(platform.url("/api/v1/openapi.json")) as resp:
        document = await resp.json()
    candidate_token, staff_token, live = await live_data(platform, smtp_sink)
    for realm, token in ((None, None), ("candidate", candidate_token), ("staff", staff_token)):
        await run_schemathesis(tmp_path, realm_document(document, realm, live), platform.base_url, realm, token)
