"""The counts per statut of a formation's list (`GET /api/v1/staff/candidatures/comptes`) are kept
by the candidatures service as candidatures are created, change statut and are cancelled: they
always equal the candidatures counted one by one."""

from __future__ import annotations

from ecandidat.contracts.candidatures import Filters
from services.candidatures import store
from tests.conftest import eventually
from tests.e2e.test_documents import _transmitted, apply, env  # noqa: F401  (env: the fixture)
from tests.unit.documents import corpus

FORMATION = "DU-MUSICO"


async def counted(env) -> dict[str, int]:  # noqa: F811
    async with env.platform.services["candidatures"].pool.acquire() as conn:
        return await store.count_by_statut(conn, store.ListScope(), Filters(formation_code=FORMATION))


async def test_the_kept_counts_follow_applications_transmissions_statuts_and_cancellations(env):  # noqa: F811
    admin = env.staff("admin")

    async def kept() -> dict[str, int]:
        status, body = await env.json("GET", f"/staff/candidatures/comptes?formation_code={FORMATION}", admin)
        assert status == 200, body
        assert body["total"] == sum(body["counts"].values())
        return body["counts"]

    before = await kept()
    assert before == await counted(env)
    _, auth, cid, items = await apply(env, FORMATION)
    _, other_auth, other_cid, _ = await apply(env, FORMATION)
    assert await kept() == await counted(env)
    assert (await kept()).get("en_attente", 0) == before.get("en_attente", 0) + 2

    for item in items:  # transmitted: réceptionné
        status, body = await env.upload(
            f"/candidatures/{cid}/pieces/{item['slot_id']}/fichier", auth, corpus.reportlab_pdf(), "p.pdf"
        )
        assert status == 201, body
    status, view = await env.json("POST", f"/candidatures/{cid}/transmission", auth)
    assert status == 200 and view["statut"] == "receptionne", view
    await eventually(lambda: _transmitted(env, cid), message="transmission consumed")
    status, body = await env.json(
        "POST", "/staff/candidatures/statut", admin, json={"candidature_ids": [cid], "statut": "complet"}
    )
    assert status == 200, body
    status, body = await env.json("POST", f"/candidatures/{other_cid}/annulation", other_auth)
    assert status == 200, body

    after = await kept()
    assert after == await counted(env)
    assert after.get("complet", 0) == before.get("complet", 0) + 1
    assert after.get("annulee", 0) == before.get("annulee", 0) + 1
    assert after.get("en_attente", 0) == before.get("en_attente", 0)
    # A list narrowed by more than its formation is counted from the candidatures, the same way.
    status, body = await env.json(
        "GET", f"/staff/candidatures/comptes?formation_code={FORMATION}&decision=aucune", admin
    )
    assert status == 200 and body["counts"].get("complet", 0) >= 1, body
