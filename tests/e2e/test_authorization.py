"""Authorization matrix over every route of the OpenAPI document.

The routes are enumerated from the document itself, so that a new route cannot escape: each
must be classified below, or this test fails.
"""

from __future__ import annotations

import re
import uuid
from datetime import date

import pytest

from gateway.keys import OPENAPI
from services.candidatures.seed import seed_demo
from tests.conftest import eventually
from tests.e2e.test_accounts import activated_account, api, login, sealing_overrides
from tests.e2e.test_accounts_staff import admin, invited
from tests.unit.dossiers.samples import adresse, baccalaureat, infos_perso

pytestmark = pytest.mark.slow

# Staff routes that act on one candidate or candidature, with a body that passes validation, so
# that the refusal a stranger gets can only come from the scope check.
SCOPED = {
    "GET /api/v1/staff/candidatures/{candidature_id}": None,
    "GET /api/v1/staff/candidatures/{candidature_id}/dossier.pdf": None,
    "GET /api/v1/staff/candidatures/{candidature_id}/lettre": None,
    "GET /api/v1/staff/candidatures/{candidature_id}/pieces": None,
    "GET /api/v1/staff/candidatures/{candidature_id}/pieces/{slot_id}/fichier": None,
    "POST /api/v1/staff/candidatures/{candidature_id}/pieces/{slot_id}/examen": {"decision": "validee"},
    "POST /api/v1/staff/candidatures/{candidature_id}/decision": {"kind": "favorable"},
    "POST /api/v1/staff/candidatures/{candidature_id}/notes": {"body": "Note"},
    "PUT /api/v1/staff/candidatures/{candidature_id}/etiquettes": {"etiquettes": ["A-REVOIR"]},
    "PUT /api/v1/staff/candidatures/{candidature_id}/date-limite-retour": {"date_retour": "2030-01-01"},
    "PUT /api/v1/staff/offre/formations/{code}/date-limite-retour": {"date_retour": "2030-01-01"},
    "POST /api/v1/staff/candidatures/statut": {"candidature_ids": ["{candidature_id}"], "statut": "complet"},
    "POST /api/v1/staff/candidatures/type-traitement": {
        "candidature_ids": ["{candidature_id}"],
        "type_traitement": "acces_direct",
        "valide": True,
    },
    "POST /api/v1/staff/candidatures/decisions/validation": {"candidature_ids": ["{candidature_id}"]},
    "GET /api/v1/staff/candidatures?formation_code=DAEU-A": None,
    "GET /api/v1/staff/candidatures/comptes?formation_code=DAEU-A": None,
    "GET /api/v1/staff/candidatures/tableau?formation_code=DAEU-A": None,
    "GET /api/v1/staff/candidatures/export.csv?formation_code=DAEU-A": None,
    "GET /api/v1/staff/candidatures/export.xlsx?formation_code=DAEU-A": None,
    "GET /api/v1/staff/dossiers/{account_id}": None,
    "GET /api/v1/staff/dossiers/{account_id}/sections/{section}": None,
    "PUT /api/v1/staff/dossiers/{account_id}/sections/informations-personnelles": "infos",
    "GET /api/v1/staff/centres/{centre}/staff": None,
}
# Staff routes of administrators (or scolarité) only, and routes about the caller themself.
ADMIN_ONLY = {
    "POST /api/v1/staff/accounts",
    "GET /api/v1/staff/accounts",
    "GET /api/v1/staff/accounts/{account_id}",
    "PATCH /api/v1/staff/accounts/{account_id}",
    "POST /api/v1/staff/accounts/{account_id}/invitation",
    "PUT /api/v1/staff/offre/campagnes/{code}",
    "PUT /api/v1/staff/offre/centres/{code}",
    "PUT /api/v1/staff/offre/commissions/{code}",
    "PUT /api/v1/staff/offre/formations/{code}",
    "PUT /api/v1/staff/offre/pieces/{code}",
    "PUT /api/v1/staff/offre/types-diplome/{code}",
    "PUT /api/v1/staff/offre/etiquettes/{code}",
    "POST /api/v1/staff/offre/campagnes/{code}/prolongations",
    "PUT /api/v1/staff/pieces/{piece_id}/modele",
    "DELETE /api/v1/staff/pieces/{piece_id}/modele",
    "POST /api/v1/staff/registre-etudiants",
    "POST /api/v1/staff/mail/test",
    "GET /api/v1/staff/mail/deliveries",
    "GET /api/v1/staff/health",
    "GET /api/v1/staff/offre",
    "GET /api/v1/staff/dead-letters",
    "POST /api/v1/staff/dead-letters/{service}/{seq}/replay",
    "POST /api/v1/staff/webhooks",
    "GET /api/v1/staff/webhooks",
    "DELETE /api/v1/staff/webhooks/{endpoint_id}",
    "POST /api/v1/staff/webhooks/{endpoint_id}/secret",
    "POST /api/v1/staff/webhooks/{endpoint_id}/pause",
    "POST /api/v1/staff/webhooks/{endpoint_id}/resume",
    "GET /api/v1/staff/webhooks/{endpoint_id}/deliveries",
    "POST /api/v1/staff/webhooks/{endpoint_id}/replays",
}
# Staff routes every staff member reads alike, whatever their scope.
EVERY_STAFF = {"GET /api/v1/staff/etiquettes", "GET /api/v1/staff/campagnes"}
SELF = {
    "GET /api/v1/staff/me",
    "POST /api/v1/staff/me/recovery-codes",
    "DELETE /api/v1/staff/sessions/current",
    "POST /api/v1/staff/sessions/current/prolongation",
    "GET /api/v1/staff/pieces/{piece_id}/modele",
}


@pytest.fixture
async def world(start_platform, smtp_sink):
    platform = await start_platform(
        "accounts",
        "dossiers",
        "candidatures",
        "documents",
        "mailer",
        documents={"s3_bucket": f"pieces-{uuid.uuid4().hex[:8]}"},
        **sealing_overrides(),
    )
    await seed_demo(platform.services["candidatures"].pool, date.today())
    account = await activated_account(platform, smtp_sink)
    token = await login(platform, account["numero_dossier"])
    for slug, content in (
        ("informations-personnelles", infos_perso()),
        ("adresse", adresse()),
        ("baccalaureat", baccalaureat()),
    ):
        status, body, _ = await api(
            platform, "PUT", f"/api/v1/dossier/sections/{slug}", content, token=token, headers={"If-Match": '"0"'}
        )
        assert status == 200, body
    status, cand, _ = await api(platform, "POST", "/api/v1/candidatures", {"formation_code": "DAEU-A"}, token=token)
    assert status == 201, cand

    async def slots():
        status, listed, _ = await api(platform, "GET", f"/api/v1/candidatures/{cand['id']}/pieces", token=token)
        return listed["items"] if status == 200 and listed["items"] else None

    [slot, *_] = await eventually(slots, message="piece slots")
    root = await admin(platform)
    other_centre = await invited(platform, smtp_sink, root, ["gestionnaire"], centres=["FC-DIPL"])
    other_commission = await invited(platform, smtp_sink, root, ["commission"], commissions=["COM-FC"])
    other = await activated_account(platform, smtp_sink)
    other_token = await login(platform, other["numero_dossier"])
    values = {
        "candidature_id": cand["id"],
        "slot_id": slot["slot_id"],
        "account_id": account["account_id"],
        "piece_id": slot["piece_id"],
        "section": "adresse",
        "centre": "DAEU",
        "code": "X",
        "endpoint_id": str(uuid.uuid4()),
        "seq": 1,
        "service": "mailer",
    }
    return dict(
        platform=platform,
        token=token,
        other_token=other_token,
        other_centre=other_centre,
        other_commission=other_commission,
        values=values,
    )


def routes(platform) -> list[tuple[str, str, str | None]]:
    doc = platform.app[OPENAPI]
    return [(m.upper(), path, op.get("x-realm")) for path, ops in doc["paths"].items() for m, op in ops.items()]


def fill(path: str, values: dict) -> str:
    return re.sub(r"{(\w+)}", lambda m: str(values[m.group(1)]), path)


def body_for(spec, values):
    if spec == "infos":
        return infos_perso()
    if isinstance(spec, dict):
        return {k: ([fill(x, values) for x in v] if isinstance(v, list) else v) for k, v in spec.items()}
    return None


async def test_every_route_is_classified_and_refuses_the_wrong_caller(world):
    platform, values = world["platform"], world["values"]
    staff_routes = {f"{m} {p}" for m, p, realm in routes(platform) if realm == "staff"}
    scoped_routes = {k.split("?")[0] for k in SCOPED}
    unclassified = staff_routes - scoped_routes - ADMIN_ONLY - EVERY_STAFF - SELF
    assert not unclassified, f"classify these new staff routes in the authorization matrix: {sorted(unclassified)}"
    assert not (scoped_routes | ADMIN_ONLY | EVERY_STAFF | SELF) - staff_routes, (
        "the matrix names routes that no longer exist"
    )

    for method, path, realm in routes(platform):
        if realm is None:
            continue
        url = fill(path, values)
        # Nobody logged in: 401, for every authenticated route.
        status, body, _ = await api(platform, method, url)
        assert status == 401 and body["code"] == "unauthenticated", (method, path, status)
        if realm == "staff":
            # A candidate's token on a staff route: 403.
            status, body, _ = await api(platform, method, url, token=world["token"])
            assert status == 403, (method, path, status, body)

    for key, spec in SCOPED.items():
        method, path = key.split(" ", 1)
        url = fill(path, values)
        for stranger in (world["other_centre"], world["other_commission"]):
            # (If-Match too, so that the section correction cannot stop at its version check)
            status, body, _ = await api(
                platform, method, url, body_for(spec, values), token=stranger.token, headers={"If-Match": '"1"'}
            )
            assert status in (403, 404), (key, stranger.email, status, body)

    for key in ADMIN_ONLY:
        method, path = key.split(" ", 1)
        status, body, _ = await world["other_centre"].call(method, fill(path, values), None)
        assert status == 403, (key, status, body)

    for key in EVERY_STAFF:
        method, path = key.split(" ", 1)
        for someone in (world["other_centre"], world["other_commission"]):
            status, body, _ = await someone.call(method, fill(path, values), None)
            assert status == 200, (key, someone.email, status, body)


async def test_a_candidate_never_reaches_another_candidates_candidature(world):
    platform, values = world["platform"], world["values"]
    for method, path, realm in routes(platform):
        if realm != "candidate" or "{candidature_id}" not in path:
            continue
        status, body, _ = await api(platform, method, fill(path, values), token=world["other_token"])
        assert status in (404, 403, 415, 422) and status != 200, (method, path, status, body)
        if status in (415, 422):  # a body or media-type check may come first; never a success
            continue
        assert status == 404 or body["code"] == "forbidden", (method, path, body)
