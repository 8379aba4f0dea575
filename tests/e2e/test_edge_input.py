"""Hostile or malformed input at the HTTP edge: every one is a clean 4xx problem+json in French that
changes nothing, never a 500 — NUL characters, deep JSON, broken multipart bodies, file names in
Latin-1 or with control characters, what aiohttp's own HTTP parser refuses — plus the security
headers of every download and the `Server` header."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import date

import pytest

from ecandidat.contracts.auth import Principal
from services.candidatures.seed import seed_demo
from tests.e2e.test_accounts import sealing_overrides
from tests.e2e.test_documents import Env, apply
from tests.unit.documents import corpus
from tests.unit.dossiers.samples import bea, registry_csv, registry_row

API = "/api/v1"
PROBLEM = "application/problem+json"


@dataclass
class Edge(Env):
    """`test_documents.Env` with the gateway's port (for requests written byte for byte) and a
    `call` that tells the content type of the answer."""

    port: int = 0

    async def call(
        self, method: str, path: str, headers: dict | None = None, **kwargs
    ) -> tuple[int, str, dict | bytes]:
        async with self.http.request(method, API + path, headers=headers or {}, **kwargs) as resp:
            body = await resp.read()
            if resp.content_type.endswith("json"):
                return resp.status, resp.content_type, json.loads(body)
            return resp.status, resp.content_type, body


async def start_edge(start_platform, start_token_gateway, *services: str, **gateway_settings) -> Edge:
    """The services named, seeded with the demo offer, behind a gateway whose tokens the test makes."""
    platform = await start_platform(
        *services, documents={"s3_bucket": f"pieces-{uuid.uuid4().hex[:8]}"}, **sealing_overrides()
    )
    await seed_demo(platform.services["candidatures"].pool, date.today())
    tokens: dict[str, Principal] = {}
    http = await start_token_gateway(tokens, services, **gateway_settings)
    return Edge(http, platform, tokens, port=int(str(http._base_url.port)))


@pytest.fixture
async def edge(start_platform, start_token_gateway) -> Edge:
    return await start_edge(start_platform, start_token_gateway, "accounts", "dossiers", "candidatures", "documents")


async def applied(edge: Edge) -> tuple[dict[str, str], str, list[dict]]:
    _, auth, cid, items = await apply(edge)
    return auth, cid, items


async def deposited(edge: Edge) -> tuple[dict[str, str], str, str]:
    """A candidature whose first piece has a PDF: the candidate's auth, the candidature and the slot."""
    auth, cid, items = await applied(edge)
    slot = items[0]["slot_id"]
    status, _, body = await edge.call(
        "PUT",
        f"/candidatures/{cid}/pieces/{slot}/fichier",
        {**auth, "Content-Type": "application/pdf", "X-File-Name": "cv.pdf"},
        data=corpus.reportlab_pdf(),
    )
    assert status == 201, body
    return auth, cid, slot


def assert_refused(status: int, ctype: str, body, *, field: str | None = None, statuses=(400, 422)) -> None:
    assert status in statuses, (status, body)
    assert ctype == PROBLEM, (ctype, body)
    assert body["detail"] and body["code"], body
    if field is not None:
        assert field in [e.get("field") for e in body.get("errors", [])], body


# -- NUL characters -----------------------------------------------------------------------------------


async def test_a_nul_character_anywhere_is_refused_at_the_edge_naming_the_field(edge):
    candidate, staff = edge.candidate()[1], edge.staff("admin")
    nul = "A\u0000B"
    cases = [
        ("POST", "/sessions", None, {"json": {"login": nul, "password": "x"}}, "login"),
        ("POST", "/staff/sessions", None, {"json": {"email": "a@b.fr", "password": nul, "code": "123456"}}, "password"),
        ("POST", "/accounts", None, {"json": {"nom": nul, "prenom": "P", "email": "a@example.org"}}, "nom"),
        ("POST", "/accounts/activation", None, {"json": {"token": nul}}, "token"),
        ("POST", "/candidatures", candidate, {"json": {"formation_code": nul}}, "formation_code"),
        ("POST", "/candidatures", candidate, {"json": {"formation\u0000code": "DAEU-A"}}, "formation\u0000code"),
        (
            "PUT",
            "/dossier/sections/stages",
            {**candidate, "If-Match": '"0"'},
            {"json": {"items": [{"annee": 2020, "duree": "2 mois", "organisme": "CHU", "descriptif": nul}]}},
            "items.0.descriptif",
        ),
        ("GET", "/staff/candidatures?centre_code=A%00B", staff, {}, "centre_code"),
        ("GET", "/staff/candidatures/export.csv?centre_code=A%00B", staff, {}, "centre_code"),
        ("GET", "/staff/candidatures/export.xlsx?formation_code=%00", staff, {}, "formation_code"),
        ("GET", "/staff/centres/%00/staff", staff, {}, "centre"),
        ("GET", "/referentiels/communes?nom=Tou%00louse", None, {}, "nom"),
        ("GET", "/staff/mail/deliveries?recipient=a%00b", staff, {}, "recipient"),
        ("POST", f"/staff/candidatures/{uuid.uuid4()}/notes", staff, {"json": {"body": nul}}, "body"),
        (
            "PUT",
            f"/staff/pieces/{uuid.uuid4()}/modele?libelle=Fiche%00",
            staff,
            {"data": corpus.reportlab_pdf(), "headers": {"Content-Type": "application/pdf"}},
            "libelle",
        ),
        ("PUT", "/staff/offre/centres/%00", staff, {"json": {"libelle": "x"}}, "code"),
    ]
    for method, path, auth, kwargs, name in cases:
        headers = {**(auth or {}), **kwargs.pop("headers", {})}
        status, ctype, body = await edge.call(method, path, headers, **kwargs)
        assert_refused(status, ctype, body, field=name)
        assert "caractère" in body["errors"][0]["message"], body
    # Nothing was created on the way.
    status, _, mine = await edge.call("GET", "/candidatures", candidate)
    assert status == 200 and mine["items"] == []


async def test_json_nested_a_thousand_levels_is_refused_on_every_kind_of_route(edge):
    deep_array = b"[" * 1000 + b"]" * 1000
    deep_object = b'{"a":' * 1000 + b"1" + b"}" * 1000
    for path, auth in (
        ("/sessions", None),
        ("/staff/sessions", None),
        ("/accounts", None),
        ("/candidatures", edge.candidate()[1]),
        ("/staff/candidatures/statut", edge.staff("admin")),
    ):
        for body in (deep_array, deep_object):
            status, ctype, problem = await edge.call(
                "POST", path, {**(auth or {}), "Content-Type": "application/json"}, data=body
            )
            assert_refused(status, ctype, problem, statuses=(400,))
            assert "imbriqu" in problem["detail"], problem
    # A sensible depth still goes through to the model, which names the field it refuses.
    status, ctype, problem = await edge.call(
        "POST", "/sessions", {"Content-Type": "application/json"}, data=b'{"login": [[["x"]]], "password": "y"}'
    )
    assert_refused(status, ctype, problem, field="login", statuses=(422,))


async def test_unpaired_surrogates_are_refused_like_nul(edge):
    status, ctype, problem = await edge.call(
        "POST", "/sessions", {"Content-Type": "application/json"}, data=b'{"login": "\\ud800abc", "password": "x"}'
    )
    assert_refused(status, ctype, problem, field="login", statuses=(422,))


# -- multipart bodies and file names --------------------------------------------------------------------


async def test_broken_multipart_bodies_are_refused_cleanly(edge):
    auth, cid, items = await applied(edge)
    slot = items[0]["slot_id"]
    admin = edge.staff("admin")
    pdf = corpus.reportlab_pdf()
    part = (
        b'--abc\r\nContent-Disposition: form-data; name="fichier"; filename="cv.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n" + pdf + b"\r\n--abc--\r\n"
    )
    for path, headers in (
        (f"/candidatures/{cid}/pieces/{slot}/fichier", auth),
        (f"/staff/pieces/{items[0]['piece_id']}/modele?libelle=Fiche", admin),
    ):
        for ctype_sent, body in (
            ("multipart/form-data", part),
            ("multipart/form-data; boundary=absent", part),
            ("multipart/form-data; boundary=abc", b"no parts at all"),
            ("multipart/form-data; boundary=abc", b"--abc\r\nbroken"),
        ):
            status, ctype, problem = await edge.call("PUT", path, {**headers, "Content-Type": ctype_sent}, data=body)
            assert_refused(status, ctype, problem, statuses=(400, 422))
            assert "multipart" in problem["detail"] or "fichier" in problem["detail"], problem
    status, _, listed = await edge.call("GET", f"/candidatures/{cid}/pieces", auth)
    assert all(p["statut"] == "en_attente" for p in listed["items"])  # nothing was deposited


async def raw_request(port: int, head: bytes, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """One request written byte for byte (what a client library would refuse to send)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head + b"\r\n" + body)
        await writer.drain()
        status_line = await reader.readline()
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            key, _, value = line.decode("latin-1").partition(":")
            headers[key.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        data = await reader.readexactly(length) if length else b""
        return int(status_line.split()[1]), headers, data
    finally:
        writer.close()


def put_head(path: str, auth: dict[str, str], length: int, *extra: bytes, ctype: bytes = b"application/pdf") -> bytes:
    lines = [
        f"PUT {API}{path} HTTP/1.1".encode(),
        b"Host: 127.0.0.1",
        f"Authorization: {auth['Authorization']}".encode(),
        b"Content-Type: " + ctype,
        f"Content-Length: {length}".encode(),
        b"Connection: close",
        *extra,
    ]
    return b"\r\n".join(lines) + b"\r\n"


async def test_file_names_in_latin_1_or_with_control_characters_never_break_an_upload(edge):
    auth, cid, items = await applied(edge)
    pdf = corpus.reportlab_pdf()
    slots = [i["slot_id"] for i in items]

    # A Latin-1 "é" in X-File-Name (an old client) is read as Latin-1.
    head = put_head(f"/candidatures/{cid}/pieces/{slots[0]}/fichier", auth, len(pdf), b"X-File-Name: relev\xe9.pdf")
    status, headers, body = await raw_request(edge.port, head, pdf)
    assert status == 201, body
    assert json.loads(body)["file_name"] == "relevé.pdf"

    def form(raw_name: bytes) -> bytes:
        return (
            b'--xyz\r\nContent-Disposition: form-data; name="fichier"; filename="' + raw_name + b'"\r\n'
            b"Content-Type: application/pdf\r\n\r\n" + pdf + b"\r\n--xyz--\r\n"
        )

    # The same in a multipart filename; a percent-encoded control character is dropped from the name.
    for slot, raw_name, expected in (
        (slots[1], b"relev\xe9.pdf", "relev\u00e9.pdf"),
        (slots[2], b"cv%00%01.pdf", "cv.pdf"),
    ):
        head = put_head(
            f"/candidatures/{cid}/pieces/{slot}/fichier",
            auth,
            len(form(raw_name)),
            ctype=b"multipart/form-data; boundary=xyz",
        )
        status, headers, body = await raw_request(edge.port, head, form(raw_name))
        assert status == 201, (raw_name, body)
        assert json.loads(body)["file_name"] == expected
    # A raw NUL or control character in a part's header is a malformed form: a 400 that says so.
    for raw_name in (b"cv\x00\x01.pdf", b"lettre\x07 de motivation.pdf"):
        head = put_head(
            f"/candidatures/{cid}/pieces/{slots[3]}/fichier",
            auth,
            len(form(raw_name)),
            ctype=b"multipart/form-data; boundary=xyz",
        )
        status, headers, body = await raw_request(edge.port, head, form(raw_name))
        assert status == 400 and headers["content-type"].startswith(PROBLEM), (raw_name, body)
        assert "caractère de contrôle dans le nom du fichier" in json.loads(body)["detail"]

    # Control characters in a header never reach the application: aiohttp's parser refuses the
    # request, and says so in problem+json like everything else.
    head = put_head(f"/candidatures/{cid}/pieces/{slots[4]}/fichier", auth, len(pdf), b"X-File-Name: cv\x01\x02.pdf")
    status, headers, body = await raw_request(edge.port, head, pdf)
    assert status == 400
    assert headers["content-type"].startswith(PROBLEM), headers
    problem = json.loads(body)
    assert problem["status"] == 400 and problem["code"] == "bad_request" and "requête" in problem["detail"]
    assert "aiohttp" not in headers.get("server", "") and "Python" not in headers.get("server", "")


async def test_what_the_http_parser_refuses_is_problem_json(edge):
    for head in (
        b"GET /api/v1/offre HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\n",
        b"GET /api/v1/offre HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n",
        b"GET /api/v1/offre HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n",
        b"GET /api/v1/offre HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 20000 + b"\r\n",
        b"NOT-HTTP\r\n",
    ):
        status, headers, body = await raw_request(edge.port, head)
        assert 400 <= status < 500, (head[:40], status, body)
        assert headers["content-type"].startswith(PROBLEM), (head[:40], headers, body)
        problem = json.loads(body)
        assert problem["status"] == status and problem["detail"], problem


# -- files gone from storage ----------------------------------------------------------------------------------


async def test_a_file_gone_from_storage_never_makes_a_download_a_500(edge):
    # Found by schemathesis: a piece replaced or deleted while the candidature PDF is being made.
    auth, cid, slot = await deposited(edge)
    async with edge.documents.pool.acquire() as conn:
        key = await conn.fetchval("SELECT file_key FROM piece_slots WHERE id = $1", uuid.UUID(slot))
    await edge.documents.storage.delete(key)
    status, ctype, pdf = await edge.call("GET", f"/candidatures/{cid}/dossier.pdf", auth)
    assert status == 200 and ctype == "application/pdf" and pdf.startswith(b"%PDF")
    status, ctype, problem = await edge.call("GET", f"/candidatures/{cid}/pieces/{slot}/fichier", auth)
    assert status == 404 and ctype == PROBLEM and "plus disponible" in problem["detail"]


# -- the student-records registry -------------------------------------------------------------------------


async def test_the_registry_import_answers_what_it_committed(edge, caplog):
    caplog.set_level(logging.INFO)  # as deployed: the import's log line is written
    admin = edge.staff("admin")
    ine = bea(f"{uuid.uuid4().int % 10**10:010d}")
    csv = registry_csv([registry_row(ine)])
    status, ctype, report = await edge.call(
        "POST", "/staff/registre-etudiants", {**admin, "Content-Type": "text/csv"}, data=csv
    )
    assert status == 200, report
    assert report["crees"] == 1
    status, ctype, again = await edge.call(
        "POST", "/staff/registre-etudiants", {**admin, "Content-Type": "text/csv"}, data=csv
    )
    assert status == 200 and again["crees"] == 0 and again["inchanges"] == 1
    assert any(r.getMessage() == "registry loaded" and getattr(r, "inserted", None) == 1 for r in caplog.records)

    # A Latin-1 file name header is read as Latin-1, not a 500.
    head = (
        f"POST {API}/staff/registre-etudiants HTTP/1.1\r\nHost: x\r\nAuthorization: {admin['Authorization']}\r\n"
        f"Content-Type: text/csv\r\nContent-Length: {len(csv)}\r\nConnection: close\r\n"
    ).encode()
    status, _, body = await raw_request(edge.port, head + b"X-Filename: registre \xe9t\xe9.csv\r\n", csv)
    assert status == 200, body


# -- headers of every response ---------------------------------------------------------------------------------


SECURITY = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}


async def test_every_download_carries_no_store_and_the_security_headers(edge):
    auth, cid, items = await applied(edge)
    admin = edge.staff("admin")
    pdf = corpus.reportlab_pdf()
    piece = items[0]
    status, _, body = await edge.call(
        "PUT",
        f"/staff/pieces/{piece['piece_id']}/modele?libelle=Fiche",
        {**admin, "Content-Type": "application/pdf"},
        data=pdf,
    )
    assert status == 201, body
    status, _, body = await edge.call(
        "PUT",
        f"/candidatures/{cid}/pieces/{piece['slot_id']}/fichier",
        {**auth, "Content-Type": "application/pdf", "X-File-Name": "cv.pdf"},
        data=pdf,
    )
    assert status == 201, body
    downloads = {
        "/staff/candidatures/export.csv?formation_code=DAEU-A": admin,
        "/staff/candidatures/export.xlsx?formation_code=DAEU-A": admin,
        f"/candidatures/{cid}/pieces/{piece['slot_id']}/fichier": auth,
        f"/candidatures/{cid}/pieces/{piece['slot_id']}/modele": auth,
        f"/candidatures/{cid}/dossier.pdf": auth,
        f"/staff/candidatures/{cid}/pieces/{piece['slot_id']}/fichier": admin,
        f"/staff/candidatures/{cid}/dossier.pdf": admin,
        f"/staff/pieces/{piece['piece_id']}/modele": admin,
    }
    # No decision yet, so no letter: those routes answer a problem, which must carry the headers too.
    without_file = {f"/candidatures/{cid}/lettre": auth, f"/staff/candidatures/{cid}/lettre": admin}
    # Every file route of the API is in one of the two lists (the public documentation pages, the
    # same for everyone and cacheable, are not files of a person).
    declared = {
        op.path
        for op in edge.platform.app[_api_key()].operations
        if op.method == "GET" and op.content_types.get("response") and op.realm is not None
    }
    assert {_template(p) for p in [*downloads, *without_file]} == declared
    for path, headers in [*downloads.items(), *without_file.items()]:
        async with edge.http.get(API + path, headers=headers) as resp:
            await resp.read()
            assert resp.status == (200 if path in downloads else 404), path
            for key, value in SECURITY.items():
                assert resp.headers.get(key) == value, (path, key, resp.headers.get(key))
            assert "Content-Security-Policy" in resp.headers, path
            assert resp.headers["Server"] == "eCandidat", path
            if path in downloads:
                assert resp.headers["Content-Disposition"].startswith("attachment"), path


async def test_the_server_header_names_no_version(edge):
    for path in ("/api/v1/offre", "/api/v1/no/such/route", "/api/v1/openapi.json"):
        async with edge.platform.http.get(edge.platform.url(path)) as resp:
            assert resp.headers["Server"] == "eCandidat", resp.headers["Server"]


def _api_key():
    from gateway.keys import API as API_KEY

    return API_KEY


def _template(path: str) -> str:
    """The declared route of a concrete path (ids back to their {names})."""
    path = API + path.split("?")[0]
    parts = path.split("/")
    names = iter(["candidature_id", "slot_id"])
    out = []
    for i, part in enumerate(parts):
        try:
            uuid.UUID(part)
        except ValueError:
            out.append(part)
            continue
        out.append("{piece_id}" if parts[i - 1] == "pieces" and parts[i - 2] == "staff" else "{" + next(names) + "}")
    return "/".join(out)
