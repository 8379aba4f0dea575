"""The pages behind the gateway, over plain HTTP: one origin, the API's session cookie on `Path=/`,
CSRF double submit on every form post, expired sessions back to the login page and back, the
assets' long cache, and every link the mails carry landing on a page."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request

from tests.e2e.test_accounts import PASSWORD, activated_account, api, login
from web.app import create_app
from web.settings import WebSettings

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "services" / "mailer" / "templates"
COMPOSERS = ROOT / "services" / "mailer" / "compose"


async def page(site, path: str, session: aiohttp.ClientSession | None = None, **kwargs):
    async with (session or site.platform.http).get(site.url(path), allow_redirects=False, **kwargs) as resp:
        return resp.status, resp.headers, await resp.text()


async def test_pages_and_api_share_one_origin(site):
    status, headers, body = await page(site, "/", headers={"Accept": "text/html"})
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "Bienvenue sur eCandidat" in body and "DAEU option A" in body
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert re.search(r"ecandidat_csrf=[\w-]{20,}; Path=/; SameSite=Strict", headers["Set-Cookie"])
    # The API keeps its own answers: problem+json for an unknown API path, not the pages' 404.
    status, headers, body = await page(site, "/api/v1/nope")
    assert status == 404 and headers["Content-Type"].startswith("application/problem+json")
    status, headers, body = await page(site, "/nulle-part")
    assert status == 404 and headers["Content-Type"].startswith("text/html") and "Page non trouvée" in body
    status, headers, body = await page(site, "/health")
    assert headers["Content-Type"].startswith("application/json")


async def test_assets_are_versioned_compressed_and_cached_for_a_year(site):
    _, _, body = await page(site, "/")
    css = re.search(r'href="(/static/[0-9a-f]+/dsfr/dsfr\.min\.css)"', body).group(1)
    async with site.platform.http.get(
        site.url(css), headers={"Accept-Encoding": "gzip"}, auto_decompress=False
    ) as resp:
        raw = await resp.read()
        assert resp.status == 200 and resp.headers["Content-Encoding"] == "gzip"
        assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert len(raw) < 150_000, "728 kB of CSS travel gzip-compressed"
    status, _, _ = await page(site, css.replace("dsfr.min.css", "../../../../pyproject.toml"))
    assert status == 404


def cookies_of(response: aiohttp.ClientResponse, jar: dict[str, str]) -> dict[str, str]:
    """What a browser keeps of the answer's cookies (aiohttp's jar sends no Secure cookie over http)."""
    for name, morsel in response.cookies.items():
        if morsel.value:
            jar[name] = morsel.value
        else:
            jar.pop(name, None)
    return jar


async def test_the_session_cookie_reaches_the_pages_and_form_posts_need_the_csrf_token(site, smtp_sink):
    account = await activated_account(site.platform, smtp_sink)
    http = site.platform.http
    jar: dict[str, str] = {}
    async with http.get(site.url("/connexion")) as resp:
        body = await resp.text()
        cookies_of(resp, jar)
    csrf = re.search(r'name="csrf" value="([^"]+)"', body).group(1)
    assert jar["ecandidat_csrf"] == csrf
    form = {"csrf": csrf, "login": account["numero_dossier"], "password": PASSWORD, "suite": "/candidatures"}
    async with http.post(site.url("/connexion"), data=form, cookies=jar, allow_redirects=False) as resp:
        assert resp.status == 303 and resp.headers["Location"] == "/candidatures"
        session_cookie = next(c for c in resp.headers.getall("Set-Cookie") if c.startswith("ecandidat_session="))
        assert "Path=/;" in session_cookie and "HttpOnly" in session_cookie and "SameSite=Strict" in session_cookie
        cookies_of(resp, jar)
    status, _, body = await page(site, "/candidatures", cookies=jar)
    assert status == 200 and account["numero_dossier"] in body
    # A form post without the token, or with another one, changes nothing (the logout is refused).
    for forged in ({}, {"csrf": "devine-devine-devine-devine"}):
        async with http.post(site.url("/deconnexion"), data=forged, cookies=jar, allow_redirects=False) as resp:
            assert resp.status == 403 and "Page expirée" in await resp.text()
    assert (await page(site, "/candidatures", cookies=jar))[0] == 200
    async with http.post(
        site.url("/deconnexion"), data={"csrf": jar["ecandidat_csrf"]}, cookies=jar, allow_redirects=False
    ) as resp:
        assert resp.status == 303
        cookies_of(resp, jar)
    assert "ecandidat_session" not in jar
    status, headers, _ = await page(site, "/candidatures", cookies=jar)
    assert status == 303 and headers["Location"] == "/connexion?suite=/candidatures"


async def test_an_expired_session_goes_to_the_login_page_and_back(site, smtp_sink):
    account = await activated_account(site.platform, smtp_sink)
    token = await login(site.platform, account["numero_dossier"])
    status, _, _ = await api(site.platform, "DELETE", "/api/v1/sessions/current", token=token)
    assert status == 204
    cookies = {"ecandidat_session": token, "ecandidat_csrf": "x" * 32}
    jar: dict[str, str] = {}
    async with site.platform.http.get(site.url("/dossier/adresse?x=1"), cookies=cookies, allow_redirects=False) as resp:
        assert resp.status == 303 and resp.headers["Location"] == "/connexion?suite=/dossier/adresse%3Fx%3D1"
        location = resp.headers["Location"]
        jar = cookies_of(resp, dict(cookies))
    assert "ecandidat_session" not in jar and jar["ecandidat_message"] == "session_expiree"
    async with site.platform.http.get(site.url(location), cookies=jar) as resp:
        body = await resp.text()
        cookies_of(resp, jar)
    assert "Votre session a expiré" in body
    csrf = re.search(r'name="csrf" value="([^"]+)"', body).group(1)
    assert 'name="suite" value="/dossier/adresse?x=1"' in body
    form = {"csrf": csrf, "login": account["numero_dossier"], "password": PASSWORD, "suite": "/dossier/adresse?x=1"}
    async with site.platform.http.post(site.url("/connexion"), data=form, cookies=jar, allow_redirects=False) as resp:
        assert resp.headers["Location"] == "/dossier/adresse?x=1"
    form["suite"] = "https://ailleurs.example.org/"
    async with site.platform.http.post(site.url("/connexion"), data=form, cookies=jar, allow_redirects=False) as resp:
        assert resp.headers["Location"] == "/dossier", "only a local page to go back to"


async def test_the_web_process_down_is_a_french_page_not_a_trace(start_platform):
    from ecandidat.devstack._process import free_port

    platform = await start_platform("accounts", gateway={"web_url": f"http://127.0.0.1:{free_port()}"})
    async with platform.http.get(platform.url("/dossier"), headers={"Accept": "text/html"}) as resp:
        assert resp.status == 503 and resp.content_type == "text/html" and resp.headers["Retry-After"]
        assert "momentanément indisponible" in await resp.text()
    async with platform.http.get(platform.url("/dossier"), headers={"Accept": "application/json"}) as resp:
        assert resp.status == 503 and resp.content_type == "application/problem+json"


# -- every link of every mail lands on a page --------------------------------------------------


def _link_pages() -> dict[str, str]:
    """Mail template → the page its `{{ link }}` opens, read from the composers:
    `Mail("account_created", …)` next to `link(ctx, ACTIVATION_PAGE, …)` in the same composer."""
    constants: dict[str, str] = {}
    for composer in COMPOSERS.glob("*.py"):
        constants.update(re.findall(r'^(\w+_PAGE) = "([^"]+)"', composer.read_text(), re.M))
    pages: dict[str, str] = {}
    for composer in COMPOSERS.glob("*.py"):
        for function in re.split(r"\n@composes", composer.read_text()):
            for name in re.findall(r"link\(ctx, (\w+_PAGE)", function):
                for template in re.findall(r'Mail\(\s*"(\w+)"', function):
                    pages.setdefault(template, constants[name])
    return pages


def mail_links() -> dict[str, set[str]]:
    """Page → the mail templates linking to it (`{{ link }}`, or `{{ base_url }}`: the home page)."""
    pages = _link_pages()
    linked: dict[str, set[str]] = {}
    for template in sorted(TEMPLATES.glob("*.j2")):
        stem = template.name.split(".")[0]
        text = template.read_text()
        assert not re.search(r"https?://", re.sub(r"{{[^}]*}}", "", text)), f"{template.name}: a literal URL"
        for expression in re.findall(r"{{\s*(\w+)[^}]*}}", text):
            if expression == "base_url":
                linked.setdefault("/", set()).add(stem)
            elif expression == "link":
                assert stem in pages, f"{template.name} has a link whose page no composer names"
                linked.setdefault(pages[stem], set()).add(stem)
    return linked


LINKED = mail_links()


@pytest.mark.parametrize("path", sorted(LINKED), ids=lambda p: p.strip("/") or "accueil")
async def test_every_mail_link_lands_on_a_page_of_the_web_front(path):
    app = create_app(WebSettings())
    match = await app.router.resolve(make_mocked_request("GET", path, app=app))
    assert match.http_exception is None, f"{path}, linked by the mails {sorted(LINKED[path])}, is no page"


def test_the_mails_with_links_are_all_found():
    """The check above can fail: it sees every linking mail, the activation one included."""
    assert "account_created" in LINKED["/compte/activation"] and "account_activation" in LINKED["/compte/activation"]
    assert {"/compte/mot-de-passe", "/compte/adresse", "/", "/personnel/installation"} <= set(LINKED)


async def test_the_english_switch_keeps_the_page_and_translates_it(site):
    async with site.platform.http.get(site.url("/langue?langue=en&suite=/offre"), allow_redirects=False) as resp:
        assert resp.status == 303 and resp.headers["Location"] == "/offre"
        jar = cookies_of(resp, {})
    status, _, body = await page(site, "/offre", cookies=jar)
    assert status == 200 and '<html lang="en"' in body and "Programmes offered" in body
    assert re.search(r"until \d{1,2} \w+ \d{4} inclusive", body)
    status, _, body = await page(site, "/offre")
    assert '<html lang="fr"' in body and "Offre de formation" in body and "inclus" in body
