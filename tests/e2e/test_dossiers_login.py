"""The dossier with real candidate accounts: created, activated and logged in through the gateway.

Staff logins need a TOTP enrolment, so the registry is loaded over the dossiers rpc here; its HTTP
upload by an administrator is shown in `test_dossiers.py` (with a test authenticator).
"""

from __future__ import annotations

import uuid

import pytest

from ecandidat.contracts.auth import Principal
from ecandidat.contracts.dossiers import DossierView, GetDossier, ImportRegistry, RegistryImportReport
from ecandidat.contracts.errors import ServiceError
from ecandidat.runtime.jobs import run_job_once
from ecandidat.runtime.rpc import RpcClient
from tests.conftest import eventually
from tests.e2e.test_accounts import activated_account, api, create_account, login, sealing_overrides
from tests.integration.dossiers.conftest import packed
from tests.unit.dossiers.samples import adresse, bea, infos_perso, registry_csv, registry_row

ADMIN = Principal(realm="staff", account_id=uuid.uuid4(), email="admin@univ.example", roles=("admin",))


@pytest.fixture
async def platform(start_platform):
    return await start_platform("accounts", "mailer", "dossiers", **sealing_overrides())


async def load_registry(platform, *rows) -> RegistryImportReport:
    rpc = RpcClient(platform.services["dossiers"].nc, timeout=10)
    return await rpc.call(
        ImportRegistry(principal=ADMIN, csv_gzip_base64=packed(registry_csv(list(rows)))), RegistryImportReport
    )


async def test_an_ine_given_at_account_creation_downloads_the_dossier(platform, smtp_sink):
    ine = bea(f"{uuid.uuid4().int % 10**10:010d}")
    assert (await load_registry(platform, registry_row(ine))).crees == 1
    account = await activated_account(platform, smtp_sink, nom="DUPONT", prenom="Jean", ine=ine)
    token = await login(platform, account["numero_dossier"])

    async def imported():
        status, body, _ = await api(platform, "GET", "/api/v1/dossier", token=token)
        return status == 200 and body["ine_importe"] == ine and body

    dossier = await eventually(imported, message="dossier downloaded from the student records")
    sections = {s["section"]: s for s in dossier["sections"]}
    assert dossier["completude"]["complet"] and sections["cursus_interne"]["renseignee"]
    assert sections["informations_personnelles"]["donnees"]["nom_naissance"] == "Dupont"
    status, body, _ = await api(
        platform,
        "PUT",
        "/api/v1/dossier/sections/adresse",
        adresse(),
        token=token,
        headers={"If-Match": f'"{sections["adresse"]["version"]}"'},
    )
    assert status == 409 and "dossier universitaire" in body["detail"]


async def test_a_logged_in_candidate_fills_their_own_dossier_in_order(platform, smtp_sink):
    account = await activated_account(platform, smtp_sink)
    token = await login(platform, account["numero_dossier"])
    status, body, _ = await api(
        platform, "PUT", "/api/v1/dossier/sections/adresse", adresse(), token=token, headers={"If-Match": '"0"'}
    )
    assert status == 409 and body["errors"][0]["field"] == "informations_personnelles"
    status, body, headers = await api(
        platform,
        "PUT",
        "/api/v1/dossier/sections/informations-personnelles",
        infos_perso(),
        token=token,
        headers={"If-Match": '"0"'},
    )
    assert status == 200 and headers["ETag"] == '"1"'
    status, body, _ = await api(platform, "GET", "/api/v1/dossier/completude", token=token)
    assert body["manquants"] == ["Adresse : rubrique à renseigner", "Baccalauréat : rubrique à renseigner"]
    status, _, _ = await api(platform, "GET", f"/api/v1/staff/dossiers/{account['account_id']}", token=token)
    assert status == 403
    status, _, _ = await api(platform, "GET", "/api/v1/dossier")
    assert status == 401


async def test_a_purged_account_takes_its_dossier_with_it(platform, smtp_sink):
    ine = bea(f"{uuid.uuid4().int % 10**10:010d}")
    await load_registry(platform, registry_row(ine))
    account = await create_account(platform, smtp_sink, nom="Dupont", prenom="Jean", ine=ine)  # never activated
    rpc = RpcClient(platform.services["dossiers"].nc, timeout=10)
    account_id = uuid.UUID(account["account_id"])

    async def dossier_exists() -> bool:
        try:
            await rpc.call(GetDossier(principal=ADMIN, account_id=account_id), DossierView)
            return True
        except ServiceError as err:
            assert err.code == "not_found"
            return False

    await eventually(dossier_exists, message="dossier created by the import at account creation")
    accounts = platform.services["accounts"]
    platform.clock.advance(hours=49)
    assert await run_job_once(accounts.pool, accounts.purge_job, platform.clock, force=True) >= 1

    async def erased() -> bool:
        return not await dossier_exists()

    await eventually(erased, message="dossier erased on account.purged")
