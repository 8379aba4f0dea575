"""Driving the CAS server's real login form as a browser would, with aiohttp: the ticket it gives
back, and its logout (which sends the single logout to the service URL)."""

from __future__ import annotations

import html
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import aiohttp

_HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*>')
_NAME = re.compile(r'name="([^"]+)"')
_VALUE = re.compile(r'value="([^"]*)"')


def cas_browser() -> aiohttp.ClientSession:
    """A client keeping the CAS server's cookies (its session, its CSRF token) on 127.0.0.1."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


def _hidden_fields(page: str) -> dict[str, str]:
    fields = {}
    for tag in _HIDDEN.findall(page):
        name, value = _NAME.search(tag), _VALUE.search(tag)
        if name:
            fields[name.group(1)] = html.unescape(value.group(1)) if value else ""
    return fields


async def cas_login(browser: aiohttp.ClientSession, login_url: str, uid: str, password: str) -> str:
    """Fill the CAS login page reached at `login_url`; the URL it sends the browser back to."""
    async with browser.get(login_url) as page:
        assert page.status == 200, await page.text()
        text = await page.text()
        form_url = str(page.url)
    assert 'name="username"' in text, "the CAS login form"
    fields = {**_hidden_fields(text), "username": uid, "password": password}
    async with browser.post(form_url, data=fields, headers={"Referer": form_url}, allow_redirects=False) as answer:
        assert answer.status == 302, f"CAS refused the login of {uid}: {answer.status}"
        return answer.headers["Location"]


async def cas_ticket(browser: aiohttp.ClientSession, login_url: str, uid: str, password: str) -> str:
    back = await cas_login(browser, login_url, uid, password)
    return parse_qs(urlsplit(back).query)["ticket"][0]


async def cas_logout(browser: aiohttp.ClientSession, cas_url: str) -> None:
    async with browser.get(f"{cas_url}/logout") as answer:
        assert answer.status == 200


def new_ent_user(cas_server, *, ine: str | None = None, **attributes: str) -> tuple[str, str, dict[str, str]]:
    """A user of the test directory with random identifiers: (uid, password, attributes)."""
    tag = uuid.uuid4().hex[:10]
    uid, password = f"etu{tag}", f"ent-{tag}-pass"
    values = {"mail": f"etu.{tag}@etu.univ-demo.fr", "sn": "Dupont", "givenName": "Jean", **attributes}
    if ine:
        values["supannCodeINE"] = ine
    values = {k: v for k, v in values.items() if v}
    cas_server.add_user(uid, password, **values)
    return uid, password, values
