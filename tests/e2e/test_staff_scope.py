"""One scope rule for every route: which staff see and act on which candidature, in which statut.

The matrix (role × statut du dossier × route) goes through the gateway to the three services that
hold a candidature's data (candidatures, documents, dossiers). The expected table is written out
by hand: a commission member sees only the candidatures of their commission that are `complet`,
a gestionnaire those of their centre, read-only profiles read and change nothing.
"""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from ecandidat.contracts.auth import Principal
from services.candidatures.seed import seed_demo
from tests.conftest import eventually
from tests.unit.documents import corpus
from tests.unit.dossiers.samples import adresse, baccalaureat, infos_perso

pytestmark = pytest.mark.slow

API = "/api/v1"
STATUTS = ("en_attente", "receptionne", "incomplet", "complet")
ALL, COMPLET, NONE = set(STATUTS), {"complet"}, set()
STAFF = {
    # name: (roles, centres, commissions), then the statuts they read, act on (review), decide on (notes, étiquettes)
    "admin": ((("admin",), (), ()), ALL, ALL, ALL),
    "scolarite_lecture": ((("scolarite_lecture",), (), ()), ALL, NONE, NONE),
    "gestionnaire": ((("gestionnaire",), ("DAEU",), ()), ALL, ALL, ALL),
    "gestionnaire_ailleurs": ((("gestionnaire",), ("FC-DIPL",), ()), NONE, NONE, NONE),
    "gestionnaire_lecture": ((("gestionnaire_lecture",), ("DAEU",), ()), ALL, NONE, NONE),
    "commission": ((("commission",), (), ("COM-DAEU",)), COMPLET, NONE, COMPLET),
    "commission_lecture": ((("commission_lecture",), (), ("COM-DAEU",)), COMPLET, NONE, NONE),
    "commission_ailleurs": ((("commission",), (), ("COM-FC",)), NONE, NONE, NONE),
    # reads DAEU's candidatures as a gestionnaire_lecture; its commission role (elsewhere) lets its
    # notes and étiquettes through the gateway, and the service refuses them, naming the action
    "lecture_ici_commission_ailleurs": (
        (("gestionnaire_lecture", "commission"), ("DAEU",), ("COM-FC",)),
        ALL,
        NONE,
        NONE,
    ),
}
READ_ROUTES = (
    "/staff/candidatures/{cid}",
    "/staff/candidatures/{cid}/pieces",
    "/staff/candidatures/{cid}/pieces/{slot}/fichier",
    "/staff/candidatures/{cid}/dossier.pdf",
    "/staff/dossiers/{account}",
    "/staff/dossiers/{account}/sections/adresse",
)


@pytest.fixture
async def gateway(start_platform, start_token_gateway):
    platform = await start_platform(
        "dossiers", "candidatures", "documents", documents={"s3_bucket": f"pieces-{uuid.uuid4().hex[:8]}"}
    )
    await seed_demo(platform.services["candidatures"].pool, date.today())
    tokens: dict[str, Principal] = {}
    http = await start_token_gateway(tokens, ("documents", "candidatures", "dossiers"))
    return platform, http, tokens


def login(tokens: dict, principal: Principal) -> dict[str, str]:
    token = uuid.uuid4().hex
    tokens[token] = principal
    return {"Authorization": f"Bearer {token}"}


async def call(http, method: str, path: str, headers: dict, body=None) -> tuple[int, dict | bytes]:
    async with http.request(method, API + path, headers=headers, json=body) as resp:
        data = await resp.read()
        return resp.status, (await resp.json() if resp.content_type.endswith("json") else data)


async def candidature_in(http, tokens, admin: dict, statut: str) -> dict:
    """A candidate who applied to DAEU-A and deposited one piece; staff then set the statut
    (`incomplet` after `complet`, so that it has left the commission's view)."""
    me = Principal(
        realm="candidate",
        account_id=uuid.uuid4(),
        email=f"{uuid.uuid4().hex[:8]}@example.org",
        numero_dossier=uuid.uuid4().hex[:8].upper(),
    )
    auth = login(tokens, me)
    for slug, content in (
        ("informations-personnelles", infos_perso()),
        ("adresse", adresse()),
        ("baccalaureat", baccalaureat()),
    ):
        status, body = await call(http, "PUT", f"/dossier/sections/{slug}", {**auth, "If-Match": '"0"'}, content)
        assert status == 200, body
    status, view = await call(http, "POST", "/candidatures", auth, {"formation_code": "DAEU-A"})
    assert status == 201, view
    cid = view["id"]
    status, pieces = await call(http, "GET", f"/candidatures/{cid}/pieces", auth)
    assert status == 200, pieces
    slot = pieces["items"][0]["slot_id"]
    async with http.put(
        f"{API}/candidatures/{cid}/pieces/{slot}/fichier",
        data=corpus.reportlab_pdf(),
        headers={**auth, "X-File-Name": "piece.pdf", "Content-Type": "application/octet-stream"},
    ) as resp:
        assert resp.status == 201, await resp.text()
    for step in {
        "en_attente": [],
        "receptionne": ["receptionne"],
        "complet": ["complet"],
        "incomplet": ["complet", "incomplet"],
    }[statut]:
        status, body = await call(
            http, "POST", "/staff/candidatures/statut", admin, {"candidature_ids": [cid], "statut": step}
        )
        assert status == 200, body
    return {"cid": cid, "slot": slot, "account": me.account_id}


async def test_role_statut_route_matrix(gateway):
    platform, http, tokens = gateway
    admin = login(
        tokens, Principal(realm="staff", account_id=uuid.uuid4(), email="root@univ.example", roles=("admin",))
    )
    cands = {statut: await candidature_in(http, tokens, admin, statut) for statut in STATUTS}

    async def projections_follow() -> bool:
        # Documents and dossiers learn the statut from candidatures' events: wait for that fact.
        for svc in ("documents", "dossiers"):
            async with platform.services[svc].pool.acquire() as conn:
                for statut, cand in cands.items():
                    held = await conn.fetchval(
                        "SELECT statut FROM candidatures WHERE candidature_id = $1", uuid.UUID(cand["cid"])
                    )
                    if held != statut:
                        return False
        return True

    await eventually(projections_follow, message="documents and dossiers know each statut")

    failures = []
    read_only_refusals = set()
    for name, ((roles, centres, commissions), reads, manages, decides) in STAFF.items():
        who = login(
            tokens,
            Principal(
                realm="staff",
                account_id=uuid.uuid4(),
                email=f"{name}@univ.example",
                roles=roles,
                centres=centres,
                commissions=commissions,
            ),
        )
        for statut, cand in cands.items():
            for route in READ_ROUTES:
                status, body = await call(http, "GET", route.format(**cand), who)
                expected = 200 if statut in reads else 403
                if status != expected:
                    failures.append((name, statut, route, status, body if status != 200 else ""))
            status, page = await call(http, "GET", f"/staff/candidatures?formation_code=DAEU-A&statut={statut}", who)
            listed = status == 200 and cand["cid"] in [row["id"] for row in page["items"]]
            if listed != (statut in reads):
                failures.append((name, statut, "list", status, page))
            status, body = await call(
                http,
                "POST",
                "/staff/candidatures/{cid}/pieces/{slot}/examen".format(**cand),
                who,
                {"decision": "validee"},
            )
            if (status == 200) != (statut in manages) or status not in (200, 403):
                failures.append((name, statut, "examen", status, body))
            status, body = await call(
                http, "POST", "/staff/candidatures/{cid}/notes".format(**cand), who, {"body": f"Note de {name}"}
            )
            if (status == 201) != (statut in decides) or status not in (201, 403):
                failures.append((name, statut, "notes", status, body))
            read_only_refusals.add(("notes", read_only_refusal(status, body)))
            status, body = await call(
                http, "PUT", "/staff/candidatures/{cid}/etiquettes".format(**cand), who, {"etiquettes": ["A-REVOIR"]}
            )
            if (status == 200) != (statut in decides) or status not in (200, 403):
                failures.append((name, statut, "etiquettes", status, body))
            read_only_refusals.add(("etiquettes", read_only_refusal(status, body)))
        # The list's counts per statut count what the list shows them (other tests' candidatures
        # of the shared database included), and nothing elsewhere.
        status, counted = await call(http, "GET", "/staff/candidatures/comptes?formation_code=DAEU-A", who)
        if status != (200 if reads else 403):
            failures.append((name, "comptes", status, counted))
        for statut in STATUTS if status == 200 else ():
            status, page = await call(
                http, "GET", f"/staff/candidatures?formation_code=DAEU-A&statut={statut}&limit=500", who
            )
            shown = counted["counts"].get(statut, 0)
            if shown != len(page["items"]) or (shown > 0) != (statut in reads):
                failures.append((name, "comptes", statut, shown, len(page["items"])))
    assert not failures, "\n".join(map(str, failures))
    # A profile that reads the candidature without deciding on it is told which action it may not do.
    assert read_only_refusals - {("notes", None), ("etiquettes", None)} == {
        ("notes", "Votre profil ne permet pas d'écrire une note sur cette candidature."),
        ("etiquettes", "Votre profil ne permet pas de modifier les étiquettes de cette candidature."),
    }


def read_only_refusal(status: int, body: dict | bytes) -> str | None:
    """The message of a refusal for a profile that reads the candidature but may not act on it."""
    if status == 403 and isinstance(body, dict) and body.get("reason") == "lecture_seule":
        return body["detail"]
    return None


async def test_a_refusal_says_the_candidature_is_out_of_scope_the_same_way_everywhere(gateway):
    platform, http, tokens = gateway
    admin = login(
        tokens, Principal(realm="staff", account_id=uuid.uuid4(), email="root@univ.example", roles=("admin",))
    )
    cand = await candidature_in(http, tokens, admin, "receptionne")
    member = login(
        tokens,
        Principal(
            realm="staff",
            account_id=uuid.uuid4(),
            email="prof@univ.example",
            roles=("commission",),
            commissions=("COM-DAEU",),
        ),
    )
    reasons = set()
    for route in READ_ROUTES:
        status, body = await call(http, "GET", route.format(**cand), member)
        assert status == 403, (route, status, body)
        reasons.add(body["reason"])
    assert reasons == {"hors_perimetre"}
