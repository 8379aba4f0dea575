"""`GET /api/v1/candidatures/{id}/detail`: a candidature with its pieces and its suivi in one
request, the same answers as the three routes it stands for, for its candidate only."""

from __future__ import annotations

import uuid

from tests.e2e.test_documents import _transmitted, apply, env  # noqa: F401  (env: the fixture)
from tests.conftest import eventually
from tests.unit.documents import corpus


async def test_the_detail_is_the_candidature_its_pieces_and_its_suivi_read_at_once(env):  # noqa: F811
    me, auth, cid, items = await apply(env, "DU-MUSICO")

    async def same_as_the_three_routes() -> dict | None:
        status, detail = await env.json("GET", f"/candidatures/{cid}/detail", auth)
        assert status == 200, detail
        reads = [
            await env.json("GET", path, auth)
            for path in (f"/candidatures/{cid}", f"/candidatures/{cid}/pieces", f"/candidatures/{cid}/suivi")
        ]
        assert all(status == 200 for status, _ in reads), reads
        candidature, pieces, suivi = (body for _, body in reads)
        return (
            detail
            if (detail["candidature"], detail["pieces"], detail["suivi"]) == (candidature, pieces, suivi)
            else None
        )

    detail = await eventually(same_as_the_three_routes, message="detail equal to the three reads")
    assert detail["candidature"]["id"] == cid and detail["candidature"]["can_transmit"] is False
    assert [p["slot_id"] for p in detail["pieces"]["items"]] == [i["slot_id"] for i in items]
    assert [e["etape"] for e in detail["suivi"]["etapes"]] == ["creee"]

    # Every piece deposited: the candidature says it can be transmitted; transmitted, the suivi says so.
    pdf = corpus.reportlab_pdf()
    for item in items:
        status, body = await env.upload(f"/candidatures/{cid}/pieces/{item['slot_id']}/fichier", auth, pdf, "p.pdf")
        assert status == 201, body
    status, detail = await env.json("GET", f"/candidatures/{cid}/detail", auth)
    assert status == 200 and detail["candidature"]["can_transmit"] is True, detail
    assert {p["statut"] for p in detail["pieces"]["items"]} == {"transmise"}
    status, view = await env.json("POST", f"/candidatures/{cid}/transmission", auth)
    assert status == 200, view
    await eventually(lambda: _transmitted(env, cid), message="transmission consumed")
    status, detail = await env.json("GET", f"/candidatures/{cid}/detail", auth)
    assert status == 200 and detail["candidature"]["statut"] == "receptionne", detail
    assert detail["pieces"]["can_change"] is False
    assert [e["etape"] for e in detail["suivi"]["etapes"]][:2] == ["creee", "transmise"]

    # Nobody else reads it, and nothing says it exists; an unknown or malformed id is a 404.
    _, _, other_cid, _ = await apply(env, "DU-MUSICO")
    status, problem = await env.json("GET", f"/candidatures/{other_cid}/detail", auth)
    assert status == 404 and problem["status"] == 404 and cid not in str(problem), problem
    for unknown in (str(uuid.uuid4()), "pas-un-identifiant"):
        status, problem = await env.json("GET", f"/candidatures/{unknown}/detail", auth)
        assert status == 404 and problem["detail"], problem
    status, problem = await env.json("GET", f"/candidatures/{cid}/detail", {})
    assert status == 401, problem
