"""The API contract: the OpenAPI document lists every status a route answers (checked on every e2e
response by `tests/e2e/contract.py`), carries one request and one response example per operation
and the real rules of the bodies, documents `If-Match` only where it is enforced, and refusals name
the fields of the body the client sent."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from openapi_spec_validator import validate

from ecandidat.contracts.accounts import NewEmail
from ecandidat.contracts.dossiers import COUNTRY_CODES, DEPARTEMENT_CODES, SECTION_MODELS, WRITABLE_SECTIONS
from gateway import openapi
from gateway.api import Api, json_response
from gateway.app import build_api
from gateway.keys import OPENAPI
from services.dossiers.referentiels import load
from tests.e2e import contract
from tests.e2e.test_edge_input import Edge, deposited, start_edge


@pytest.fixture(scope="module")
def document():
    api = build_api()
    return api, openapi.build(api)


def entry(doc, method: str, path: str) -> dict:
    return doc["paths"]["/api/v1" + path][method]


def test_the_document_is_valid_openapi(document):
    validate(document[1])


def test_a_time_of_day_as_the_api_writes_it_matches_its_schema(document):
    import jsonschema

    schema = document[1]["components"]["schemas"]["DecisionRecord"]["properties"]["preselection_heure"]
    jsonschema.validate("14:30:00", schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate("14h30", schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def test_the_statuses_the_edge_answers_are_listed(document):
    api, doc = document
    for op in api.operations:
        listed = set(doc["paths"][op.path][op.method.lower()]["responses"])
        if op.body is not None:
            assert {"400", "413", "415", "422"} <= listed, op.path
        if "{" in op.path:
            assert "404" in listed, op.path
        if op.realm is not None:
            assert {"401", "403"} <= listed, op.path
        if op.content_types.get("request"):
            assert {"408", "413", "415"} <= listed, op.path
        assert "500" not in listed, op.path  # a 500 is a bug, never a documented answer
    assert "409" in entry(doc, "post", "/staff/candidatures/{candidature_id}/decision")["responses"]
    for resource in ("campagnes", "centres", "types-diplome", "commissions", "formations", "pieces"):
        assert {"200", "201"} <= set(entry(doc, "put", f"/staff/offre/{resource}/{{code}}")["responses"])
    health = doc["paths"]["/health"]["get"]["responses"]["503"]["content"]
    assert "application/json" in health  # the health summary, not a problem


def test_if_match_is_documented_where_it_is_enforced_only(document):
    api, doc = document
    with_if_match = {
        (op.method, op.path)
        for op in api.operations
        if any(p["name"] == "If-Match" for p in doc["paths"][op.path][op.method.lower()].get("parameters", []))
    }
    saves = {("PUT", f"/api/v1/dossier/sections/{s.replace('_', '-')}") for s in WRITABLE_SECTIONS}
    saves.add(("PUT", "/api/v1/staff/dossiers/{account_id}/sections/informations-personnelles"))
    assert with_if_match == saves
    for path in saves:
        op = doc["paths"][path[1]]["put"]
        assert {"412", "428"} <= set(op["responses"]) and "ETag" in op["responses"]["200"]["headers"]
    # A piece has one writer, the candidate, and its state refuses a change staff made impossible
    # (validated, transmitted): no If-Match there, and the document no longer claims one.
    piece = entry(doc, "put", "/candidatures/{candidature_id}/pieces/{slot_id}/fichier")
    assert "If-Match" not in {p["name"] for p in piece["parameters"]}


def test_every_operation_has_a_request_and_a_response_example_valid_for_its_model(document):
    api, doc = document
    for op in api.operations:
        item = doc["paths"][op.path][op.method.lower()]
        if op.body is not None:
            sample = item["requestBody"]["content"]["application/json"]["example"]
            op.body.model_validate(sample)
        for param in item.get("parameters", []):
            assert "example" in param, (op.path, param["name"])
        ok = item["responses"][str(op.status)]
        if op.response is not None:
            op.response.model_validate(ok["content"]["application/json"]["example"])
        for status, answer in item["responses"].items():
            for media, content in answer.get("content", {}).items():
                if "json" in media:
                    assert "example" in content, (op.path, status, media)


def test_the_dossier_schemas_carry_the_rules_the_service_applies(document):
    _, doc = document
    refs = load()
    assert list(COUNTRY_CODES) == sorted(refs.pays) and list(DEPARTEMENT_CODES) == sorted(refs.departements)
    schemas = doc["components"]["schemas"]
    perso = schemas["InformationsPersonnelles"]
    assert perso["properties"]["pays_naissance"]["enum"] == list(COUNTRY_CODES)
    assert perso["properties"]["date_naissance"]["format"] == "date"
    assert perso["then"]["required"] == ["departement_naissance", "commune_naissance"]
    assert perso["else"]["required"] == ["ville_naissance_etranger"]
    assert schemas["Adresse"]["then"]["required"] == ["code_postal", "commune"]
    assert schemas["Baccalaureat"]["else"]["required"] == ["annee", "serie", "pays"]
    for section in WRITABLE_SECTIONS:  # every save's example is a body the model accepts
        model = SECTION_MODELS[section]
        put = entry(doc, "put", f"/dossier/sections/{section.replace('_', '-')}")
        model.model_validate(put["requestBody"]["content"]["application/json"]["example"])
    email = NewEmail.model_json_schema()["properties"]
    assert email["new_email"]["format"] == "email" and email["new_email_confirmation"]["format"] == "email"
    assert schemas["NewAccount"]["properties"]["password"]["minLength"] == 12


async def test_the_contract_hook_reports_an_undocumented_status():
    api = Api()

    @api.route("GET", "/teapot", summary="Un état non documenté", tag="test", status=200)
    async def teapot(request: web.Request) -> web.Response:
        return json_response({"ok": False}, status=418)

    @api.route("GET", "/csv", summary="Un type non documenté", tag="test", content_types={"response": "text/csv"})
    async def csv(request: web.Request) -> web.Response:
        return web.Response(text="{}", content_type="application/json")

    app = web.Application()
    api.install(app)
    app[OPENAPI] = openapi.build(api)
    contract.watch(app)
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/teapot")).status == 418
        assert (await client.get("/csv")).status == 200
        assert (await client.get("/not/declared")).status == 404  # not an operation: not checked
    found = contract.violations(app)
    assert len(found) == 2
    assert "GET /teapot (teapot) answered 418, not listed" in found[1]
    assert "GET /csv (csv) answered 200 as application/json, documented as text/csv" in found[0]


@pytest.fixture
async def edge(start_platform, start_token_gateway) -> Edge:
    return await start_edge(start_platform, start_token_gateway, "dossiers", "candidatures", "documents")


async def test_a_refusal_without_comment_names_the_body_field(edge):
    _, cid, slot = await deposited(edge)
    staff = edge.staff("admin")
    status, _, problem = await edge.call(
        "POST",
        f"/staff/candidatures/{cid}/pieces/{slot}/examen",
        staff,
        json={"decision": "refusee", "commentaire": ""},
    )
    assert status == 422, problem
    assert [e["field"] for e in problem["errors"]] == ["commentaire"]
