"""The device cookie through the pages: a browser that logged in on the espace candidat keeps
logging in while someone on the same network guesses the account's password; one without it waits."""

from __future__ import annotations

import re

from tests.browser.test_web_gateway import cookies_of
from tests.e2e.test_accounts import PASSWORD, activated_account, api


async def log_in(site, jar: dict[str, str], login: str) -> tuple[int, dict[str, str]]:
    http = site.platform.http
    async with http.get(site.url("/connexion"), cookies=jar) as resp:
        csrf = re.search(r'name="csrf" value="([^"]+)"', await resp.text()).group(1)
        cookies_of(resp, jar)
    form = {"csrf": csrf, "login": login, "password": PASSWORD, "suite": "/candidatures"}
    async with http.post(site.url("/connexion"), data=form, cookies=jar, allow_redirects=False) as resp:
        cookies_of(resp, jar)
        return resp.status, jar


async def test_a_known_browser_logs_in_through_the_pages_while_the_account_is_attacked(site, smtp_sink):
    account = await activated_account(site.platform, smtp_sink)
    numero = account["numero_dossier"]
    status, browser = await log_in(site, {}, numero)
    assert status == 303 and browser.get("ecandidat_device"), browser

    for attempt in range(6):  # from the same network, straight at the API
        bad = {"login": numero, "password": f"mauvais mot de passe {attempt}"}
        assert (await api(site.platform, "POST", "/api/v1/sessions", bad))[0] == 401
    status, body, _ = await api(site.platform, "POST", "/api/v1/sessions", {"login": numero, "password": PASSWORD})
    assert status == 429, body

    status, _ = await log_in(site, browser, numero)
    assert status == 303  # the device cookie went along with the page's call to the API
    status, _ = await log_in(site, {}, numero)
    assert status == 429  # a browser the account never saw waits, like the attacker
