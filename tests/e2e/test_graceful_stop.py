"""A gateway stopped (SIGTERM: a rolling update, `docker compose stop`) while a candidate's upload is in
flight lets that upload finish, then exits, within its declared grace period; it takes no new
connection meanwhile. The gateway runs as its own process, as deployed (`python -m gateway`)."""

from __future__ import annotations

import asyncio
import signal
import sys
import uuid
from datetime import date
from pathlib import Path

import aiohttp
import pytest

from ecandidat.devstack._process import free_port, spawn, tail
from services.candidatures.seed import seed_demo
from tests.conftest import eventually
from tests.e2e.test_accounts import PASSWORD, account_form, sealing_overrides
from tests.unit.documents import corpus
from tests.unit.dossiers.samples import adresse, baccalaureat, infos_perso

ROOT = Path(__file__).resolve().parents[2]
SHUTDOWN_TIMEOUT = 30  # GATEWAY_SHUTDOWN_TIMEOUT given to the process; compose declares 60 s and 75 s of grace

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def test_sigterm_lets_the_upload_in_flight_finish(start_platform, process_env, tmp_path):
    overrides = sealing_overrides()
    platform = await start_platform(
        "accounts",
        "dossiers",
        "candidatures",
        "documents",
        accounts=overrides["accounts"],
        documents={"s3_bucket": f"pieces-{uuid.uuid4().hex[:8]}"},
    )
    await seed_demo(platform.services["candidatures"].pool, date.today())
    port = free_port()
    env = dict(
        process_env,
        GATEWAY_PORT=str(port),
        GATEWAY_HOST="127.0.0.1",
        RPC_TIMEOUT="15",
        GATEWAY_SERVICES="accounts,dossiers,candidatures,documents",
        GATEWAY_SHUTDOWN_TIMEOUT=str(SHUTDOWN_TIMEOUT),
    )
    log = tmp_path / "gateway.log"
    gateway = spawn([sys.executable, "-m", "gateway"], log, env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        async with aiohttp.ClientSession() as http:

            async def healthy() -> bool:
                assert gateway.poll() is None, tail(log)
                try:
                    async with http.get(f"http://127.0.0.1:{port}/health") as response:
                        return response.status == 200
                except aiohttp.ClientError:
                    return False

            await eventually(healthy, timeout=60, message="gateway up")

            # A candidate with an open candidature and its piece slots.
            form = account_form()
            async with http.post(f"{base}/accounts", json=form) as response:
                assert response.status == 201, await response.text()
                account = await response.json()
            async with platform.services["accounts"].pool.acquire() as conn:
                await conn.execute(
                    "UPDATE candidates SET activated_at = now() WHERE account_id = $1", uuid.UUID(account["account_id"])
                )
            async with http.post(f"{base}/sessions", json={"login": form["email"], "password": PASSWORD}) as response:
                assert response.status == 201, await response.text()
                auth = {"Authorization": f"Bearer {(await response.json())['token']}"}
            for slug, body in (
                ("informations-personnelles", infos_perso()),
                ("adresse", adresse()),
                ("baccalaureat", baccalaureat()),
            ):
                async with http.put(
                    f"{base}/dossier/sections/{slug}", json=body, headers={**auth, "If-Match": '"0"'}
                ) as response:
                    assert response.status == 200, await response.text()
            async with http.post(f"{base}/candidatures", json={"formation_code": "DAEU-A"}, headers=auth) as response:
                assert response.status == 201, await response.text()
                cid = (await response.json())["id"]

            async def slot() -> str | None:
                async with http.get(f"{base}/candidatures/{cid}/pieces", headers=auth) as response:
                    items = (await response.json()).get("items") if response.status == 200 else None
                    return next((i["slot_id"] for i in items or [] if i["code"] == "CV"), None)

            slot_id = await eventually(slot, message="piece slots opened")

            # A slow upload: the SIGTERM arrives once the first bytes are in, the rest follows later.
            pdf = corpus.reportlab_pdf("Curriculum vitae", pages=3)
            started = asyncio.Event()

            async def slowly():
                step = max(1, len(pdf) // 8)
                for offset in range(0, len(pdf), step):
                    yield pdf[offset : offset + step]
                    started.set()
                    await asyncio.sleep(0.4)

            async def upload() -> tuple[int, str]:
                headers = {
                    **auth,
                    "Content-Type": "application/pdf",
                    "X-File-Name": "CV.pdf",
                    "Content-Length": str(len(pdf)),
                }
                async with http.put(
                    f"{base}/candidatures/{cid}/pieces/{slot_id}/fichier", data=slowly(), headers=headers
                ) as response:
                    return response.status, await response.text()

            in_flight = asyncio.create_task(upload())
            await started.wait()
            gateway.send_signal(signal.SIGTERM)
            status, body = await in_flight
            assert status in (200, 201), body  # finished, not cut off with a 503

            # No new connection is taken while stopping, and the process exits within its grace period.
            exit_code = await asyncio.get_running_loop().run_in_executor(None, gateway.wait, SHUTDOWN_TIMEOUT + 15)
            assert exit_code == 0, tail(log)
            with pytest.raises(aiohttp.ClientConnectionError):
                async with http.get(f"http://127.0.0.1:{port}/health"):
                    pass
        # The piece is really there: the upload committed before the gateway left.
        async with platform.services["documents"].pool.acquire() as conn:
            stored = await conn.fetchrow("SELECT statut, size FROM piece_slots WHERE id = $1", uuid.UUID(slot_id))
        assert stored["statut"] == "transmise" and stored["size"] == len(pdf)
    finally:
        if gateway.poll() is None:
            gateway.kill()
            gateway.wait()
