"""Schemathesis against the whole platform, realm by realm: the public routes, a real candidate's and
a real administrator's (password + TOTP) session. Positive and negative data are generated from the
OpenAPI document the gateway serves; every response must be no server error, have a documented
status and content type, and match its schema.

The budget is bounded and deterministic (a fixed seed, a few examples per operation, one worker):
the three runs take about a minute on a quiet machine. A failure prints schemathesis's report,
with the `curl` command that reproduces each case.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from tests.e2e.test_accounts import activated_account, login
from tests.e2e.test_accounts_staff import admin
from tests.e2e import test_guide_journey as guide

pytestmark = pytest.mark.slow

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
SEED = 20261130
EXAMPLES_PER_OPERATION = 4
# Ending the session under test would leave the rest of the run unauthenticated; both are e2e-tested.
NOT_FUZZED = {("delete", "/api/v1/sessions/current"), ("delete", "/api/v1/staff/sessions/current")}

platform = guide.platform  # the whole platform, seeded with the demo offer


def realm_document(document: dict, realm: str | None) -> dict:
    """The part of the OpenAPI document a session of `realm` (None: no session) may call."""
    paths = {}
    for path, methods in document["paths"].items():
        kept = {m: op for m, op in methods.items() if op.get("x-realm") == realm and (m, path) not in NOT_FUZZED}
        if kept:
            paths[path] = kept
    return {**document, "paths": paths}


async def run_schemathesis(tmp_path: Path, document: dict, base_url: str, realm: str | None, token: str | None) -> None:
    schema = tmp_path / f"openapi-{realm or 'public'}.json"
    schema.write_text(json.dumps(realm_document(document, realm)))
    args = [sys.executable, "-m", "schemathesis.cli", "run", str(schema), "--url", base_url, "--checks", CHECKS,
            "--max-examples", str(EXAMPLES_PER_OPERATION), "--seed", str(SEED), "--workers", "1",
            "--phases", "examples,coverage,fuzzing", "--request-timeout", "30", "--suppress-health-check", "all",
            "--no-color"]
    if token:
        args += ["--header", f"Authorization: Bearer {token}"]
    process = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                                                   cwd=tmp_path)  # its cache stays out of the checkout
    output, _ = await asyncio.wait_for(process.communicate(), timeout=600)
    report = output.decode(errors="replace")
    assert process.returncode == 0, f"schemathesis found failures in the {realm or 'public'} realm:\n{report[-20000:]}"
    assert "passed" in report or "Passed" in report, report[-3000:]


async def test_schemathesis_finds_nothing_in_any_realm(platform, smtp_sink, tmp_path):
    async with platform.http.get(platform.url("/api/v1/openapi.json")) as resp:
        document = await resp.json()
    candidate = await activated_account(platform, smtp_sink)
    candidate_token = await login(platform, candidate["numero_dossier"])
    staff = await admin(platform)
    for realm, token in ((None, None), ("candidate", candidate_token), ("staff", staff.token)):
        await run_schemathesis(tmp_path, document, platform.base_url, realm, token)
