"""Login throttling through the gateway: an attacker slows only themselves.

Each client is a real HTTP client bound to its own loopback address (Linux routes all of 127/8),
so the gateway sees as many client addresses as the scenario has people; the device cookie is
carried the way a browser carries it. The accounts service's clock is moved to play hours of an
attack in seconds.
"""

from __future__ import annotations

from http.cookies import SimpleCookie

import aiohttp
import pytest

from services.accounts.staff import create_first_admin
from tests.conftest import unique_email
from tests.e2e import test_accounts_staff as staff_tests
from tests.e2e.test_accounts import PASSWORD, activated_account, sealing_overrides

DEVICE_COOKIE = "ecandidat_device"


class Client:
    """One browser: its own address, and the device cookie it was given, if any."""

    def __init__(self, platform, address: str, device: str | None = None) -> None:
        self.platform = platform
        self.address = address
        self.device = device
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=(address, 0)), cookie_jar=aiohttp.DummyCookieJar()
        )
        self.set_cookie: str | None = None

    async def post(self, path: str, body: dict) -> tuple[int, dict, dict]:
        headers = {"Cookie": f"{DEVICE_COOKIE}={self.device}"} if self.device else {}
        async with self.http.post(self.platform.url(path), json=body, headers=headers) as resp:
            data = await resp.json()
            for header in resp.headers.getall("Set-Cookie", []):
                cookie = SimpleCookie(header)
                if DEVICE_COOKIE in cookie:
                    self.set_cookie = header
                    self.device = cookie[DEVICE_COOKIE].value
            return resp.status, data, resp.headers

    async def login(self, login: str, password: str) -> tuple[int, dict, dict]:
        return await self.post("/api/v1/sessions", {"login": login, "password": password})


@pytest.fixture
async def clients():
    opened: list[Client] = []

    def make(platform, address: str, device: str | None = None) -> Client:
        client = Client(platform, address, device)
        opened.append(client)
        return client

    yield make
    for client in opened:
        await client.http.close()


@pytest.fixture
async def platform(start_platform):
    return await start_platform("accounts", "mailer", **sealing_overrides())


async def test_an_attacker_slows_only_themselves(platform, smtp_sink, clients):
    owner = await activated_account(platform, smtp_sink)
    numero = owner["numero_dossier"]
    home = clients(platform, "127.0.0.2")
    status, first_login, _ = await home.login(numero, PASSWORD)
    assert status == 201, first_login

    attacker = clients(platform, "127.0.0.66", device="forge" + "x" * 40)
    for attempt in range(6):
        status, body, _ = await attacker.login(numero, f"mauvais mot de passe {attempt}")
        assert status == 401, body
    status, body, headers = await attacker.login(numero, "encore un essai")
    assert status == 429 and "Trop de tentatives" in body["detail"] and int(headers["Retry-After"]) >= 1

    # The owner logs in at once: from a new address, and with their device cookie (even from the
    # attacker's network, a shared NAT).
    status, body, _ = await clients(platform, "127.0.0.3").login(numero, PASSWORD)
    assert status == 201, body
    assert home.device, "a successful login gives the browser a device cookie"
    for flag in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/", "Max-Age=31536000"):
        assert flag in home.set_cookie, home.set_cookie
    assert home.device not in str(first_login), "the device token is a cookie only, never in the body"
    assert (await clients(platform, "127.0.0.66", device=home.device).login(numero, PASSWORD))[0] == 201
    assert (await home.login(numero, PASSWORD))[0] == 201

    # One attempt a minute for twelve hours: the attacker gets few real tries, the owner is never held up.
    tried = 0
    for minute in range(1, 12 * 60 + 1):
        platform.clock.advance(minutes=1)
        status, body, _ = await attacker.login(numero, f"essai {minute}")
        assert status in (401, 429), body
        tried += status == 401
        if minute % 60 == 0:
            hour = minute // 60
            status, body, _ = await home.login(numero, PASSWORD)
            assert status == 201, f"hour {hour}, known device: {body}"
            status, body, _ = await clients(platform, f"127.0.1.{hour}").login(numero, PASSWORD)
            assert status == 201, f"hour {hour}, new address: {body}"
    assert tried <= 12 * 8, f"the attacker had {tried} real tries in 720 minutes"
    assert attacker.set_cookie is None  # nor did they ever get a device cookie


async def test_a_device_is_known_only_to_the_accounts_it_logged_in_to(platform, smtp_sink, clients):
    first = await activated_account(platform, smtp_sink)
    second = await activated_account(platform, smtp_sink)
    browser = clients(platform, "127.0.0.4")
    assert (await browser.login(first["numero_dossier"], PASSWORD))[0] == 201
    device = browser.device
    attacker = clients(platform, "127.0.0.67", device=device)  # a stolen cookie of the first account
    for attempt in range(6):
        assert (await attacker.login(second["numero_dossier"], f"mauvais {attempt}"))[0] == 401
    assert (await attacker.login(second["numero_dossier"], "encore"))[0] == 429  # an unknown client of the second
    assert (await browser.login(second["numero_dossier"], PASSWORD))[0] == 201
    assert browser.device == device  # one cookie per browser, known to both accounts now


async def test_a_campus_behind_one_address_is_not_blocked_by_failures(start_platform, smtp_sink, clients):
    # The default budget of an address is 300 failures an hour; 10 here keeps the test short, and
    # a first delay of a minute (the longest an address's unknown clients wait) keeps it exact.
    overrides = sealing_overrides(accounts_throttle_free_client=10, accounts_throttle_base=60)
    platform = await start_platform("accounts", "mailer", **overrides)
    campus = "127.0.0.77"
    students = [await activated_account(platform, smtp_sink) for _ in range(4)]
    browsers = [clients(platform, campus) for _ in students]
    for _ in range(3):  # successes, many more than the budget, count nothing
        for student, browser in zip(students, browsers):
            assert (await browser.login(student["numero_dossier"], PASSWORD))[0] == 201
    for attempt in range(10):  # a budget of failures from the campus, on many accounts
        student = students[attempt % len(students)]
        assert (await clients(platform, campus).login(student["numero_dossier"], f"faute de frappe {attempt}"))[
            0
        ] == 401
    newcomer = await activated_account(platform, smtp_sink)
    assert (await clients(platform, campus).login(newcomer["numero_dossier"], PASSWORD))[0] == 201

    for attempt in range(3):  # past the budget: someone on the campus tries passwords on many accounts
        student = students[attempt % len(students)]
        await clients(platform, campus).login(student["numero_dossier"], f"essai {attempt}")
    status, body, _ = await clients(platform, campus).login(newcomer["numero_dossier"], PASSWORD)
    assert status == 429, body  # the campus's unknown clients wait (a minute at most)...
    for student, browser in zip(students, browsers):  # ...those who logged in there before do not
        status, body, _ = await browser.login(student["numero_dossier"], PASSWORD)
        assert status == 201, body
    assert (await clients(platform, "127.0.0.78").login(newcomer["numero_dossier"], PASSWORD))[0] == 201


async def test_a_staff_member_keeps_logging_in_while_attacked(platform, clients):
    service = platform.services["accounts"]
    email = unique_email("admin")
    async with service.pool.acquire() as conn:
        _, token = await create_first_admin(
            conn,
            email=email,
            nom="Admin",
            prenom="Alice",
            sealer=service.deps.sealer,
            clock=platform.clock,
            settings=service.settings,
        )
    member = await staff_tests.set_up(platform, email, token)
    office = clients(platform, "127.0.0.5")

    async def login(client: Client, password: str = staff_tests.PASSWORD, code: str | None = None):
        body = {"email": email, "password": password, "code": code or member.code()}
        return await client.post("/api/v1/staff/sessions", body)

    status, body, _ = await login(office)
    assert status == 201, body

    attacker = clients(platform, "127.0.0.68")
    for attempt in range(6):
        assert (await login(attacker, f"mauvais mot de passe {attempt}", "000000"))[0] == 401
    status, body, headers = await login(attacker, "encore un essai", "000000")
    assert status == 429 and int(headers["Retry-After"]) >= 1
    status, body, _ = await login(clients(platform, "127.0.0.6"))
    assert status == 201, body
    assert office.device and "HttpOnly" in office.set_cookie
    assert (await login(clients(platform, "127.0.0.68", device=office.device)))[0] == 201

    tried = 0
    for minute in range(1, 6 * 60 + 1):
        platform.clock.advance(minutes=1)
        status, body, _ = await login(attacker, f"essai {minute}", "000000")
        assert status in (401, 429), body
        tried += status == 401
        if minute % 60 == 0:
            hour = minute // 60
            status, body, _ = await login(office)
            assert status == 201, f"hour {hour}, known device: {body}"
            status, body, _ = await login(clients(platform, f"127.0.2.{hour}"))
            assert status == 201, f"hour {hour}, new address: {body}"
    assert tried <= 6 * 8, f"the attacker had {tried} real tries in 360 minutes"
