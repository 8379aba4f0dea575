"""Pièces justificatives through the gateway, with the documents, candidatures and dossiers
services together: the guide's journey (apply, deposit, replace, non concerné, templates,
transmit, download the candidature PDF), the hostile corpus, and who may see what."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date

import aiohttp
import pytest
from pypdf import PdfReader

from ecandidat.contracts.auth import Principal
from services.candidatures.seed import seed_demo
from tests.conftest import eventually
from tests.unit.dossiers.samples import adresse, baccalaureat, infos_perso
from tests.unit.documents import corpus

API = "/api/v1"
MB = 1024 * 1024


@dataclass
class Env:
    http: aiohttp.ClientSession
    platform: object
    tokens: dict[str, Principal] = field(default_factory=dict)

    @property
    def documents(self):
        return self.platform.services["documents"]

    def login(self, principal: Principal) -> dict[str, str]:
        token = uuid.uuid4().hex
        self.tokens[token] = principal
        return {"Authorization": f"Bearer {token}"}

    def candidate(self) -> tuple[Principal, dict[str, str]]:
        me = Principal(
            realm="candidate",
            account_id=uuid.uuid4(),
            email=f"{uuid.uuid4().hex[:8]}@example.org",
            numero_dossier=uuid.uuid4().hex[:8].upper(),
        )
        return me, self.login(me)

    def staff(self, *roles: str, centres: tuple[str, ...] = ()) -> dict[str, str]:
        return self.login(
            Principal(realm="staff", account_id=uuid.uuid4(), email="agent@univ.example", roles=roles, centres=centres)
        )

    async def json(self, method: str, path: str, headers: dict, **kwargs) -> tuple[int, dict]:
        async with self.http.request(method, API + path, headers=headers, **kwargs) as resp:
            return resp.status, await resp.json()

    async def upload(
        self, path: str, headers: dict, data: bytes, name: str, multipart: bool = False
    ) -> tuple[int, dict]:
        if multipart:
            form = aiohttp.FormData()
            form.add_field("fichier", data, filename=name, content_type="application/octet-stream")
            return await self.json("PUT", path, headers, data=form)
        return await self.json(
            "PUT", path, {**headers, "X-File-Name": name, "Content-Type": "application/octet-stream"}, data=data
        )

    async def download(self, path: str, headers: dict) -> tuple[int, bytes, aiohttp.typedefs.CIMultiDictProxy]:
        async with self.http.get(API + path, headers=headers) as resp:
            return resp.status, await resp.read(), resp.headers

    async def keys(self, prefix: str = "") -> list[str]:
        return await self.documents.storage.keys(prefix)


@pytest.fixture
async def env(start_platform, start_token_gateway) -> AsyncIterator[Env]:
    platform = await start_platform(
        "dossiers", "candidatures", "documents", documents={"s3_bucket": f"pieces-{uuid.uuid4().hex[:8]}"}
    )
    await seed_demo(platform.services["candidatures"].pool, date.today())
    tokens: dict[str, Principal] = {}
    http = await start_token_gateway(tokens, ("documents", "candidatures", "dossiers"))
    yield Env(http, platform, tokens)


async def apply(env: Env, formation: str = "DAEU-A") -> tuple[Principal, dict, str, list[dict]]:
    """A candidate fills the required dossier sections, applies and waits for the piece slots."""
    me, auth = env.candidate()
    for slug, body in (
        ("informations-personnelles", infos_perso()),
        ("adresse", adresse()),
        ("baccalaureat", baccalaureat()),
    ):
        status, reply = await env.json("PUT", f"/dossier/sections/{slug}", {**auth, "If-Match": '"0"'}, json=body)
        assert status == 200, reply
    status, view = await env.json("POST", "/candidatures", auth, json={"formation_code": formation})
    assert status == 201, view
    cid = view["id"]

    async def slots():
        status, body = await env.json("GET", f"/candidatures/{cid}/pieces", auth)
        return body["items"] if status == 200 and body["items"] else None

    return me, auth, cid, await eventually(slots, message="piece slots opened")


def by_code(items: list[dict]) -> dict[str, dict]:
    return {i["code"]: i for i in items}


async def test_the_candidate_journey_from_apply_to_the_candidature_pdf(env):
    admin = env.staff("admin")
    me, auth, cid, items = await apply(env)
    pieces = by_code(items)
    assert all(p["statut"] == "en_attente" for p in items)
    assert {p["code"] for p in items if p["conditionnelle"]} == {"SED", "MOINS-24", "FICHE-REGION", "RSA", "AAH"}

    # Staff deposit the fillable template of "Fiche client"; the candidate sees it.
    fiche = pieces["FICHE-CLIENT"]
    template = corpus.reportlab_form()
    status, body = await env.upload(
        f"/staff/pieces/{fiche['piece_id']}/modele?libelle=Fiche%20client", admin, template, "fiche client.pdf"
    )
    assert status == 201, body
    status, listed = await env.json("GET", f"/candidatures/{cid}/pieces", auth)
    assert by_code(listed["items"])["FICHE-CLIENT"]["has_template"] is True
    status, data, headers = await env.download(f"/candidatures/{cid}/pieces/{fiche['slot_id']}/modele", auth)
    assert status == 200 and data == template
    assert headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"].startswith("attachment;")
    assert headers["X-Content-Type-Options"] == "nosniff"

    # One file per required piece: PDF, JPG and PNG, raw body or multipart form.
    legit = corpus.legitimate()
    files = {
        "IDENTITE": ("CNI recto-verso.jpg", legit["photo.jpg"]),
        "SCOLARITE": ("relevé.png", legit["scan-1bit.png"]),
        "CV": ("CV.pdf", legit["cv-reportlab.pdf"]),
        "IMPOSITION": ("Avis_d'impot.pdf", legit["pillow-gris.pdf"]),
        "MOTIVATION-DAEU": ("Lettre_de_motivation.pdf", legit["lettre-3-pages.pdf"]),
        "FICHE-CLIENT": ("Fiche_client.pdf", template),
        "PRE-INSCRIPTION": ("Dossier_complementaire.pdf", legit["dossier-platypus.pdf"]),
    }
    for n, (code, (name, data)) in enumerate(files.items()):
        status, body = await env.upload(
            f"/candidatures/{cid}/pieces/{pieces[code]['slot_id']}/fichier", auth, data, name, multipart=n % 2 == 1
        )
        assert status == 201, (code, body)
        assert body["statut"] == "transmise" and body["file_name"] == name and body["size"] == len(data)
    assert len(await env.keys(f"pieces/{cid}/")) == 7

    # Replace the CV: the old object is erased, the new one downloads back byte for byte.
    cv = pieces["CV"]["slot_id"]
    new_cv = legit["pypdf-reecrit.pdf"]
    status, body = await env.upload(f"/candidatures/{cid}/pieces/{cv}/fichier", auth, new_cv, "CV-2026.pdf")
    assert status == 201 and body["file_name"] == "CV-2026.pdf"
    await eventually(lambda: _count(env, f"pieces/{cid}/", 7), message="replaced file erased")
    status, data, headers = await env.download(f"/candidatures/{cid}/pieces/{cv}/fichier", auth)
    assert status == 200 and data == new_cv
    assert headers["Content-Type"] == "application/pdf" and headers["X-Content-Type-Options"] == "nosniff"
    assert 'filename="CV-2026.pdf"' in headers["Content-Disposition"]

    # Transmission is refused while conditional pieces are neither deposited nor declared non concernées.
    status, body = await env.json("POST", f"/candidatures/{cid}/transmission", auth)
    assert status == 409, body
    for code in ("SED", "MOINS-24", "FICHE-REGION", "RSA", "AAH"):
        status, body = await env.json(
            "PUT", f"/candidatures/{cid}/pieces/{pieces[code]['slot_id']}/concerne", auth, json={"concerne": False}
        )
        assert status == 200 and body["statut"] == "non_concerne", body
    status, body = await env.json(
        "PUT", f"/candidatures/{cid}/pieces/{pieces['CV']['slot_id']}/concerne", auth, json={"concerne": False}
    )
    assert status == 409 and "pas conditionnelle" in body["detail"]

    status, view = await env.json("POST", f"/candidatures/{cid}/transmission", auth)
    assert status == 200, view
    assert view["statut"] == "receptionne"

    # After transmission nothing can change: at once (provisional freeze), then for good.
    status, body = await env.json("DELETE", f"/candidatures/{cid}/pieces/{cv}/fichier", auth)
    assert status == 409
    await eventually(lambda: _transmitted(env, cid), message="candidature.transmitted consumed")
    status, body = await env.upload(f"/candidatures/{cid}/pieces/{cv}/fichier", auth, legit["photo.jpg"], "x.jpg")
    assert status == 409 and "transmise" in body["detail"], body
    status, body = await env.json("DELETE", f"/candidatures/{cid}/pieces/{cv}/fichier", auth)
    assert status == 409
    status, listed = await env.json("GET", f"/candidatures/{cid}/pieces", auth)
    assert listed["can_change"] is False and not any(p["can_change"] for p in listed["items"])

    # The candidature PDF: the recap, the dossier, the pieces, then the files themselves.
    status, data, headers = await env.download(f"/candidatures/{cid}/dossier.pdf", auth)
    assert status == 200 and headers["Content-Type"] == "application/pdf", data[:300]
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Récapitulatif de votre candidature" in text and me.numero_dossier in text
    assert "DAEU option A" in text and "Réceptionné" in text and "Fiche client" in text
    assert "Informations personnelles" in text
    appended = sum(
        len(PdfReader(io.BytesIO(d)).pages) for n, (_, d) in files.items() if n not in {"CV", "IDENTITE", "SCOLARITE"}
    )
    appended += len(PdfReader(io.BytesIO(new_cv)).pages) + 2  # the two images, one page each
    recap_pages = len(reader.pages) - appended
    assert recap_pages >= 1
    assert "Lettre de motivation - page 3" in text and "Dossier complémentaire de pré-inscription" in text


async def _count(env: Env, prefix: str, expected: int) -> bool:
    return len(await env.keys(prefix)) == expected


async def transmitted(env: Env, formation: str) -> tuple[dict, str, list[dict]]:
    """A candidature with a PDF for each piece, transmitted, and the transmission consumed by documents."""
    _me, auth, cid, items = await apply(env, formation)
    for item in items:
        status, body = await env.upload(
            f"/candidatures/{cid}/pieces/{item['slot_id']}/fichier", auth, corpus.reportlab_pdf(), "p.pdf"
        )
        assert status == 201, body
    status, view = await env.json("POST", f"/candidatures/{cid}/transmission", auth)
    assert status == 200, view
    await eventually(lambda: _transmitted(env, cid), message="transmission consumed")
    return auth, cid, items


async def test_a_refused_piece_reopens_for_replacement_only(env):
    auth, cid, items = await transmitted(env, "DU-MUSICO")
    pdf = corpus.reportlab_pdf()
    first, second = items[0]["slot_id"], items[1]["slot_id"]

    gestionnaire = env.staff("gestionnaire", centres=("FC-DIPL",))
    elsewhere = env.staff("gestionnaire", centres=("DAEU",))
    status, body = await env.json(
        "POST",
        f"/staff/candidatures/{cid}/pieces/{first}/examen",
        elsewhere,
        json={"decision": "refusee", "commentaire": "Illisible"},
    )
    assert status == 403
    status, body = await env.json(
        "POST",
        f"/staff/candidatures/{cid}/pieces/{first}/examen",
        gestionnaire,
        json={"decision": "refusee", "commentaire": ""},
    )
    assert status == 422 and body["errors"][0]["field"] == "commentaire"
    status, body = await env.json(
        "POST",
        f"/staff/candidatures/{cid}/pieces/{first}/examen",
        gestionnaire,
        json={"decision": "refusee", "commentaire": "Document illisible, scannez-le à nouveau."},
    )
    assert status == 200 and body["statut"] == "refusee" and body["reviewed_by"] == "agent@univ.example"
    status, body = await env.json(
        "POST", f"/staff/candidatures/{cid}/pieces/{second}/examen", gestionnaire, json={"decision": "validee"}
    )
    assert status == 200 and body["statut"] == "validee"

    status, listed = await env.json("GET", f"/candidatures/{cid}/pieces", auth)
    shown = {p["slot_id"]: p for p in listed["items"]}
    assert shown[first]["comment"] == "Document illisible, scannez-le à nouveau." and shown[first]["can_change"]
    assert not shown[second]["can_change"]
    status, body = await env.upload(f"/candidatures/{cid}/pieces/{second}/fichier", auth, pdf, "v.pdf")
    assert status == 409 and "validée" in body["detail"]
    status, body = await env.json("DELETE", f"/candidatures/{cid}/pieces/{first}/fichier", auth)
    assert status == 200 and body["statut"] == "en_attente"
    status, body = await env.upload(
        f"/candidatures/{cid}/pieces/{first}/fichier", auth, corpus.legitimate()["photo.jpg"], "CNI.jpg"
    )
    assert status == 201 and body["statut"] == "transmise"
    outbox = await _events(env, cid)
    assert {
        "evt.documents.piece.refused",
        "evt.documents.piece.validated",
        "evt.documents.piece.deleted",
        "evt.documents.piece.deposited",
    } <= set(outbox)


async def test_a_dossier_staff_declare_incomplete_opens_its_pieces_not_validated_until_transmitted_again(env):
    """« Incomplet » set by a gestionnaire (with a comment saying what to replace, no piece
    refused): the candidate may replace what is not validated, then transmits again; once
    transmitted, or set « Complet » again by staff, the pieces are locked again."""
    auth, cid, items = await transmitted(env, "DU-MUSICO")
    pdf = corpus.reportlab_pdf()
    first, second = items[0]["slot_id"], items[1]["slot_id"]
    gestionnaire = env.staff("gestionnaire", centres=("FC-DIPL",))
    status, body = await env.json(
        "POST", f"/staff/candidatures/{cid}/pieces/{second}/examen", gestionnaire, json={"decision": "validee"}
    )
    assert status == 200 and body["statut"] == "validee"
    status, body = await env.upload(f"/candidatures/{cid}/pieces/{first}/fichier", auth, pdf, "autre.pdf")
    assert status == 409 and "transmise" in body["detail"]

    async def may_change(slot: str, expected: bool) -> bool:
        status, listed = await env.json("GET", f"/candidatures/{cid}/pieces", auth)
        return status == 200 and {p["slot_id"]: p for p in listed["items"]}[slot]["can_change"] is expected

    async def set_statut(statut: str, comment: str | None = None) -> None:
        body = {"candidature_ids": [cid], "statut": statut, "commentaire": comment}
        status, done = await env.json("POST", "/staff/candidatures/statut", gestionnaire, json=body)
        assert status == 200 and done["updated"] == [cid], done

    await set_statut(
        "incomplet", "Il manque le relevé du second semestre : ajoutez-le au fichier de la première pièce."
    )
    await eventually(lambda: may_change(first, True), message="the pieces not validated reopen")
    assert await may_change(second, False)  # validated: it stays as it is
    status, body = await env.upload(f"/candidatures/{cid}/pieces/{second}/fichier", auth, pdf, "v.pdf")
    assert status == 409 and "validée" in body["detail"]
    status, body = await env.upload(f"/candidatures/{cid}/pieces/{first}/fichier", auth, pdf, "complete.pdf")
    assert status == 201 and body["file_name"] == "complete.pdf", body
    status, view = await env.json("POST", f"/candidatures/{cid}/transmission", auth)
    assert status == 200 and view["statut"] == "receptionne", view
    await eventually(lambda: may_change(first, False), message="locked again once transmitted")
    status, body = await env.upload(f"/candidatures/{cid}/pieces/{first}/fichier", auth, pdf, "encore.pdf")
    assert status == 409 and "transmise" in body["detail"]

    # Given back, then taken back by staff (« Complet »): locked again without a transmission.
    await set_statut("incomplet", "Pièce à compléter.")
    await eventually(lambda: may_change(first, True), message="given back")
    await set_statut("complet")
    await eventually(lambda: may_change(first, False), message="taken back")


async def _transmitted(env: Env, cid: str) -> bool:
    async with env.documents.pool.acquire() as conn:
        return await conn.fetchval("SELECT transmitted FROM candidatures WHERE candidature_id = $1", uuid.UUID(cid))


async def _events(env: Env, cid: str) -> list[str]:
    async with env.documents.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT subject FROM outbox WHERE convert_from(payload, 'UTF8')::jsonb->>'subject' = $1 ORDER BY seq", cid
        )
    return [r["subject"] for r in rows]


async def test_the_hostile_corpus_is_refused_and_nothing_is_stored(env):
    me, auth, cid, items = await apply(env, "DU-MUSICO")
    slot = items[0]["slot_id"]
    path = f"/candidatures/{cid}/pieces/{slot}/fichier"
    before = await env.keys()
    cases = {name: data for name, (data, _) in corpus.hostile().items()}
    cases["5-Mo-plus-1.pdf"] = corpus.oversized(5 * MB)
    for name, data in cases.items():
        status, body = await env.upload(path, auth, data, name, multipart=name.endswith(".png"))
        assert 400 <= status < 500 and body["detail"], (name, status, body)
        assert any(word in body["detail"] for word in ("déposez", "Enregistrez", "vide")), (name, body["detail"])
        if name == "5-Mo-plus-1.pdf":
            assert status == 413 and body["detail"].startswith("Le fichier dépasse 5 Mo : compressez-le")
    status, listed = await env.json("GET", f"/candidatures/{cid}/pieces", auth)
    assert listed["items"][0]["statut"] == "en_attente" and listed["items"][0]["file_name"] is None
    assert await env.keys() == before
    assert await _events(env, cid) == []


async def test_fifty_megabytes_sent_slowly_end_at_the_limit_with_413(env):
    me, auth, cid, items = await apply(env, "DU-MUSICO")
    sent = 0

    async def slowly() -> AsyncIterator[bytes]:
        nonlocal sent
        chunk = b"%PDF-1.4\n" + b"x" * (256 * 1024 - 9)
        for _ in range(200):  # 50 Mo
            sent += len(chunk)
            yield chunk
            await asyncio.sleep(0.01)

    url = API + f"/candidatures/{cid}/pieces/{items[0]['slot_id']}/fichier"
    async with env.http.put(url, data=slowly(), headers={**auth, "Content-Type": "application/octet-stream"}) as resp:
        assert resp.status == 413
        body = await resp.json()
    assert body["detail"].startswith("Le fichier dépasse 5 Mo")
    assert sent < 20 * MB
    assert await env.keys(f"pieces/{cid}/") == []


async def test_nobody_else_reads_or_changes_a_candidates_pieces(env):
    me, auth, cid, items = await apply(env, "DU-MUSICO")
    other, other_auth, other_cid, other_items = await apply(env, "DU-MUSICO")
    slot = items[0]["slot_id"]
    status, body = await env.upload(
        f"/candidatures/{cid}/pieces/{slot}/fichier", auth, corpus.reportlab_pdf(), "../../etc/passwd"
    )
    assert status == 201 and body["file_name"] == "passwd.pdf"

    for path in (
        f"/candidatures/{cid}/pieces",
        f"/candidatures/{cid}/pieces/{slot}/fichier",
        f"/candidatures/{cid}/dossier.pdf",
    ):
        status, data, _ = await env.download(path, other_auth)
        assert status == 404 and b"passwd" not in data
    status, body = await env.json("DELETE", f"/candidatures/{cid}/pieces/{slot}/fichier", other_auth)
    assert status == 404
    # A slot of another candidature under one's own candidature id, junk and traversal ids.
    for bad in (other_items[0]["slot_id"], str(uuid.uuid4()), "..%2F..%2Fetc", "not-a-uuid"):
        status, data, _ = await env.download(f"/candidatures/{cid}/pieces/{bad}/fichier", auth)
        assert status == 404, bad
    status, data, _ = await env.download(f"/candidatures/{other_cid}/pieces/{slot}/fichier", other_auth)
    assert status == 404
    # Templates: a candidate may not deposit one; a gestionnaire neither; no template, no download.
    piece_id = items[0]["piece_id"]
    status, body = await env.upload(f"/staff/pieces/{piece_id}/modele", auth, corpus.reportlab_pdf(), "m.pdf")
    assert status == 403
    status, body = await env.upload(
        f"/staff/pieces/{piece_id}/modele",
        env.staff("gestionnaire", centres=("FC-DIPL",)),
        corpus.reportlab_pdf(),
        "m.pdf",
    )
    assert status == 403
    status, body = await env.upload(
        f"/staff/pieces/{piece_id}/modele", env.staff("scolarite"), corpus.legitimate()["photo.jpg"], "m.jpg"
    )
    assert status == 415
    status, data, _ = await env.download(f"/candidatures/{cid}/pieces/{slot}/modele", auth)
    assert status == 404
    # Staff outside the centre see nothing; inside, they read the file.
    status, data, _ = await env.download(
        f"/staff/candidatures/{cid}/pieces/{slot}/fichier", env.staff("gestionnaire", centres=("DAEU",))
    )
    assert status == 403
    status, data, _ = await env.download(
        f"/staff/candidatures/{cid}/pieces/{slot}/fichier", env.staff("gestionnaire_lecture", centres=("FC-DIPL",))
    )
    assert status == 200 and data.startswith(b"%PDF")
    status, data, _ = await env.download(f"/candidatures/{cid}/pieces/{slot}/fichier", {})
    assert status == 401


async def test_cancellation_erases_the_candidatures_files_and_nothing_else(env):
    me, auth, cid, items = await apply(env, "DU-MUSICO")
    other, other_auth, other_cid, other_items = await apply(env, "DU-MUSICO")
    pdf = corpus.reportlab_pdf()
    for who, c, its in ((auth, cid, items), (other_auth, other_cid, other_items)):
        for item in its[:2]:
            status, _ = await env.upload(f"/candidatures/{c}/pieces/{item['slot_id']}/fichier", who, pdf, "p.pdf")
            assert status == 201
    status, view = await env.json("POST", f"/candidatures/{cid}/annulation", auth)
    assert status == 200, view
    await eventually(lambda: _count(env, f"pieces/{cid}/", 0), message="files of the cancelled candidature erased")
    assert len(await env.keys(f"pieces/{other_cid}/")) == 2
    status, body = await env.upload(f"/candidatures/{cid}/pieces/{items[0]['slot_id']}/fichier", auth, pdf, "p.pdf")
    assert status == 409 and "annulée" in body["detail"]
