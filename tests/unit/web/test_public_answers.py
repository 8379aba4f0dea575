"""The web front keeps the API's public reads as long as the API says (`Cache-Control: public,
max-age=N`): a page with a form does not ask for the référentiels again; a personal read, a refusal,
an answer that varies by more than its encoding, or one past its age is asked for every time."""

from collections import Counter

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer, make_mocked_request

from web import api as web_api
from web.api import ApiClient, Problem, shared_for

PUBLIC = {"Cache-Control": "public, max-age=3600"}


@pytest.fixture
async def api_server():
    hits: Counter[str] = Counter()

    async def answer(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        hits[f"{name}?{request.query_string}"] += 1
        body = {"name": name, "query": dict(request.query), "hit": hits[f"{name}?{request.query_string}"]}
        if name == "referentiels":
            return web.json_response(body, headers=PUBLIC)
        if name == "by-language":
            return web.json_response(body, headers={**PUBLIC, "Vary": "Accept-Language"})
        if name == "refused":
            return web.json_response(
                {"code": "not_found", "detail": "Introuvable."},
                status=404,
                headers=PUBLIC,
                content_type="application/problem+json",
            )
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    app = web.Application()
    app.router.add_get("/api/v1/{name}", answer)
    server = TestServer(app)
    await server.start_server()
    client = ApiClient(str(server.make_url("")), timeout=5)
    await client.start()
    try:
        yield client, hits
    finally:
        await client.close()
        await server.close()


def page_request() -> web.Request:
    return make_mocked_request("GET", "/dossier/adresse", headers={"Cookie": "ecandidat_session=abc"})


async def test_a_public_read_is_asked_once_while_fresh(api_server):
    client, hits = api_server
    first = await client.get(page_request(), "/referentiels")
    again = await client.get(page_request(), "/referentiels")
    assert first == again == {"name": "referentiels", "query": {}, "hit": 1}
    assert hits["referentiels?"] == 1


async def test_each_query_of_a_public_read_is_kept_apart(api_server):
    client, hits = api_server
    toulouse = await client.get(page_request(), "/referentiels", code_postal="31000")
    albi = await client.get(page_request(), "/referentiels", code_postal="81000")
    assert toulouse["query"] == {"code_postal": "31000"} and albi["query"] == {"code_postal": "81000"}
    await client.get(page_request(), "/referentiels", code_postal="31000")
    assert hits == {"referentiels?code_postal=31000": 1, "referentiels?code_postal=81000": 1}


async def test_a_public_read_past_its_age_is_asked_again(api_server, monkeypatch):
    client, hits = api_server
    await client.get(page_request(), "/referentiels")
    later = web_api.time.monotonic() + 3601
    monkeypatch.setattr(web_api.time, "monotonic", lambda: later)
    assert (await client.get(page_request(), "/referentiels"))["hit"] == 2


async def test_personal_reads_refusals_and_answers_varying_by_person_are_asked_every_time(api_server):
    client, hits = api_server
    for _ in range(2):
        await client.get(page_request(), "/dossier")
        await client.get(page_request(), "/by-language")
        with pytest.raises(Problem):
            await client.get(page_request(), "/refused")
    assert hits == {"dossier?": 2, "by-language?": 2, "refused?": 2}


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Cache-Control": "public, max-age=3600"}, 3600),
        ({"Cache-Control": "max-age=60, public", "Vary": "Accept-Encoding"}, 60),
        ({"Cache-Control": "public"}, 0),
        ({"Cache-Control": "max-age=60"}, 0),
        ({"Cache-Control": "public, max-age=60, no-cache"}, 0),
        ({"Cache-Control": "public, private, max-age=60"}, 0),
        ({"Cache-Control": "no-store"}, 0),
        ({"Cache-Control": "public, max-age=soon"}, 0),
        ({"Cache-Control": "public, max-age=60", "Vary": "Cookie"}, 0),
        ({}, 0),
    ],
)
def test_what_the_api_lets_everyone_keep(headers, seconds):
    assert shared_for(headers) == seconds
