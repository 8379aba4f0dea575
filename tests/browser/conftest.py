"""The espace candidat in a real browser: Debian's Chromium driven by Playwright, against the whole
platform (the five services, the gateway and the web process, in the test's event loop).

`site` starts everything on real ports with the gateway proxying the pages to the web process
(one origin, as in production) and the mails' links pointing at it. `browser_page(js=…, width=…)`
opens a fresh browser context. `Journey` keeps a screenshot of every step under
`test-artifacts/browser/<test>/` (git-ignored), runs axe-core on every page it is asked to check,
and fails on a JavaScript error or a CSP violation seen in the console.

Chromium is the system one (`/usr/bin/chromium`, installed by scripts/bootstrap): Playwright never
downloads a browser here. Waits are on facts (an element, a URL, a mail), never on time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from ecandidat.devstack._process import free_port
from services.candidatures.seed import seed_demo
from tests.e2e.conftest import start_platform  # noqa: F401  (the platform fixture of the e2e tests)
from tests.e2e.test_accounts import sealing_overrides
from web.app import create_app
from web.settings import WebSettings

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(os.environ.get("ECANDIDAT_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "browser"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
TIMEOUT_MS = 90_000  # a loaded 2-core machine: generous, and only a ceiling (waits end on the fact)

pytestmark = pytest.mark.timeout(1200)
expect.set_options(timeout=TIMEOUT_MS)


@dataclass
class Site:
    """The platform behind one origin: `url("/dossier")`."""

    base: str
    platform: Any
    web_app: web.Application

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/bootstrap (it installs Debian's chromium package)")
    async with async_playwright() as playwright:
        # The browser's own words (the file input's button, validation messages) in French, as a
        # candidate's French browser shows them: Debian's chromium-l10n and LANGUAGE.
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True, env={**os.environ, "LANGUAGE": "fr"}
        )
        yield chromium
        await chromium.close()


@contextlib.asynccontextmanager
async def running_site(
    start_platform,
    *,
    accounts: dict[str, Any] | None = None,
    gateway: dict[str, Any] | None = None,
    web_settings: dict[str, Any] | None = None,
) -> AsyncIterator[Site]:
    """The five services, the gateway and the web process behind one origin, the demo offer seeded;
    `accounts`, `gateway` and `web_settings` add settings (ENT login, for one)."""
    gateway_port, web_port = free_port(), free_port()
    base = f"http://127.0.0.1:{gateway_port}"
    overrides = sealing_overrides(**(accounts or {}))
    overrides["mailer"]["public_base_url"] = base
    overrides["gateway"].update(web_url=f"http://127.0.0.1:{web_port}", public_base_url=base, **(gateway or {}))
    platform = await start_platform(
        "accounts",
        "dossiers",
        "candidatures",
        "documents",
        "mailer",
        gateway_port=gateway_port,
        documents={"s3_bucket": f"pieces-{uuid.uuid4().hex[:8]}"},
        **overrides,
    )
    await seed_demo(platform.services["candidatures"].pool, date.today())
    app = create_app(WebSettings(web_api_url=base, public_base_url=base, web_port=web_port, **(web_settings or {})))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", web_port).start()
    try:
        yield Site(base, platform, app)
    finally:
        await runner.cleanup()


@pytest.fixture
async def site(start_platform) -> AsyncIterator[Site]:
    async with running_site(start_platform) as opened:
        yield opened


@pytest.fixture
async def browser_page(browser: Browser) -> AsyncIterator[Callable[..., Any]]:
    contexts: list[BrowserContext] = []

    async def open_page(js: bool = True, width: int = 1280, height: int = 900, state: Any = None) -> Page:
        context = await browser.new_context(
            java_script_enabled=js,
            viewport={"width": width, "height": height},
            locale="fr-FR",
            timezone_id="Europe/Paris",
            accept_downloads=True,
            storage_state=state,
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        contexts.append(context)
        return await context.new_page()

    yield open_page
    for context in contexts:
        await context.close()


HAS_JS = "() => !!document.querySelector('html[data-ec-js]')"
# The page's finite animations and transitions ended, or 3 s gone by.
SETTLED = """() => Promise.race([
    Promise.all(document.getAnimations()
        .filter(a => a.effect && a.effect.getComputedTiming().endTime !== Infinity)
        .map(a => a.finished.catch(() => null))),
    new Promise(resolve => setTimeout(resolve, 3000)),
])"""


@dataclass
class Journey:
    """Screenshots of every step, axe-core on every page, no JavaScript error."""

    page: Page
    directory: Path
    browser: Browser | None = None  # for the pages seen without JavaScript: axe-core runs on a copy
    step_number: int = 0
    checked: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for old in self.directory.glob("*.png"):
            old.unlink()
        self.watch(self.page)

    def watch(self, page: Page) -> None:
        page.on(
            "console", lambda message: self.console_errors.append(message.text) if message.type == "error" else None
        )
        page.on("pageerror", lambda error: self.console_errors.append(str(error)))

    async def shot(self, name: str, page: Page | None = None) -> Path:
        """A screenshot once the page's transitions have ended (a menu unfolding, a dialog opening):
        the page as it stays, not a frame of its animation. Without JavaScript the DSFR animates
        nothing (and the page's timers do not run)."""
        page = page or self.page
        self.step_number += 1
        path = self.directory / f"{self.step_number:02d}-{name}.png"
        if await page.evaluate(HAS_JS):
            await page.evaluate(SETTLED)
        await page.screenshot(path=str(path), full_page=True)
        return path

    async def step(self, name: str, page: Page | None = None) -> Path:
        """A screenshot, the page's sanity (HTML, no trace, no raw JSON) and axe-core."""
        page = page or self.page
        await page.wait_for_load_state("load")
        text = await page.locator("body").inner_text()
        assert "Traceback" not in text and not text.lstrip().startswith("{"), text[:500]
        assert await page.locator("html[lang]").count() == 1
        path = await self.shot(name, page)
        await check_typography(page, name)
        if await page.evaluate(HAS_JS) or self.browser is None:
            await check_accessibility(page, name)
        else:
            await self.check_copy(page, name)
        self.checked.append(page.url)
        return path

    async def check_copy(self, page: Page, name: str) -> None:
        """axe-core needs JavaScript (timers): the page as the person saw it without JavaScript is
        copied, scripts removed and what its <noscript> holds made part of the page (nojs.css: a
        page with JavaScript ignores it), into a page of the same origin that runs axe-core alone."""
        html = await page.content()
        assert "<script" not in html.split("</head>", 1)[1], "a script in the body of a page"
        html = re.sub(r"<script\b[^>]*>.*?</script>", "", html, flags=re.S)
        html, unwrapped = re.subn(r"<noscript>(.*?)</noscript>", r"\1", html, flags=re.S)
        context = await self.browser.new_context(viewport=page.viewport_size, locale="fr-FR")
        try:
            copy = await context.new_page()
            origin = re.match(r"https?://[^/]+", page.url).group(0)
            await copy.goto(origin + "/robots.txt")
            await copy.set_content(html, wait_until="load")
            assert not await copy.evaluate(HAS_JS)
            if unwrapped:  # the copy is styled as the page was: the no-JavaScript stylesheet applies
                applied = "[...document.styleSheets].some(s => (s.href || '').includes('/nojs.') && s.cssRules.length)"
                assert await copy.evaluate(applied), f"nojs.css not applied to the copy of {page.url}"
            await copy.bring_to_front()  # axe-core waits on animation frames, which background pages do not get
            await check_accessibility(copy, name + " (sans JavaScript)")
        finally:
            await context.close()
            await page.bring_to_front()

    def assert_no_script_error(self) -> None:
        # A refused upload answers 4xx to the page's script on purpose (the reason is shown): not a script error.
        errors = [
            e
            for e in self.console_errors
            if not e.startswith("Failed to load resource: the server responded with a status of 4")
        ]
        assert not errors, errors


# A space that HTML may break (a space, a line end of the template) before a colon, a semicolon, a
# question or an exclamation mark, or inside guillemets, is a line that can start with « : ». The
# page's words and the values it shows are typeset alike (`typeset`); a form field's value is not
# text of these elements.
TYPESET = (
    "h1, h2, h3, h4, legend, label, button, caption, th, td, dt, dd, p, li, address,"
    " .fr-hint-text, .fr-alert, .fr-message, .fr-badge, .fr-tag"
)
BREAKABLE = re.compile(r"[^ \t\r\n«][ \t\r\n]+[:;!?»](?:[ \t\r\n]|$)|«[ \t\r\n]")


async def check_typography(page: Page, name: str) -> None:
    """French typography on a French page (`typographie`): no breakable space where a line must not break."""
    if await page.get_attribute("html", "lang") != "fr":
        return
    texts = await page.eval_on_selector_all(TYPESET, "elements => elements.map(e => e.textContent)")
    bad = sorted(
        {found.group(0) + " in " + " ".join(text.split())[:80] for text in texts for found in BREAKABLE.finditer(text)}
    )
    assert not bad, f"breakable spaces on {name} ({page.url}): {bad}"


async def check_accessibility(page: Page, name: str) -> None:
    """axe-core (npm, pinned in package-lock.json): no violation of impact serious or critical."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text() + "\n;0")
    result = await asyncio.wait_for(
        page.evaluate(
            "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
            " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})); }"
        ),
        TIMEOUT_MS / 1000,
    )
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not bad, f"axe-core on {name} ({page.url}): {bad}"


@pytest.fixture
def journey(request: pytest.FixtureRequest, browser: Browser) -> Callable[[Page], Journey]:
    def make(page: Page, name: str | None = None) -> Journey:
        folder = re.sub(r"[^A-Za-z0-9_.-]+", "-", name or request.node.name).strip("-")
        return Journey(page, ARTIFACTS / folder, browser)

    return make
