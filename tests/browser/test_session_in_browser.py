"""The session's time limit in a real browser (RGAA 13.1): told two minutes before, put off with
« Rester connecté » or by typing, and, once it has ended, nothing typed is lost — after logging in
again the form holds it. The browser's clock is Playwright's (`page.clock`), moved by the test; the
platform's own clock is moved to end the session for real."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import running_site
from tests.browser.helpers import choose_commune, flash, log_in, staff_login

from tests.e2e.test_accounts import activated_account
from tests.e2e.test_accounts_staff import admin

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

IDLE = 1800
PROLONGATION = re.compile(r"/session/prolongation$")
TYPED = {
    "nom_naissance": "Durand",
    "prenoms": "Léa Marie",
    "date_naissance": "1990-04-12",
    "portable": "06 12 34 56 78",
}


@pytest.fixture
async def site(start_platform):
    # Every request of the pages resolved by the accounts service: the platform's clock alone ends a session.
    async with running_site(
        start_platform, accounts={"accounts_session_idle": IDLE}, gateway={"gateway_session_cache_ttl": 0}
    ) as opened:
        yield opened


async def type_identity(page: Page) -> None:
    await page.locator("label[for=civilite-2]").click()
    for field, value in TYPED.items():
        await page.locator(f"#{field}").fill(value)
    await page.locator("#nationalite").select_option("FR")
    # A commune found by the search as one types: its option is not in the page as served.
    await choose_commune(page, "commune_naissance", "Toulouse", "31555", js=True)


async def identity_kept(page: Page, typed: dict[str, str] = TYPED) -> None:
    for field, value in typed.items():
        await expect(page.locator(f"#{field}")).to_have_value(value)
    await expect(page.locator("#civilite-2")).to_be_checked()
    await expect(page.locator("#nationalite")).to_have_value("FR")
    await expect(page.locator("#commune_naissance")).to_have_value("31555")
    await expect(page.locator("#commune_naissance option:checked")).to_have_text(re.compile(r"^Toulouse \(31"))


async def reconnected_with_what_was_typed(page: Page, account: dict, typed: dict[str, str] = TYPED) -> None:
    """« Se reconnecter » from the dialog, the login, and back on the page with the form as typed."""
    await page.locator("#session-expiration").get_by_role("link", name="Se reconnecter").click()
    await page.wait_for_url(re.compile(r"/connexion\?suite=/dossier/informations-personnelles$"))
    await log_in(page, account["numero_dossier"])
    await page.wait_for_url(re.compile(r"/dossier/informations-personnelles$"))
    await flash(page, "ce que vous aviez saisi a été repris")
    await identity_kept(page, typed)


async def test_the_session_s_end_is_told_put_off_and_loses_nothing_typed(site, browser_page, journey, smtp_sink):
    account = await activated_account(site.platform, smtp_sink)
    page = await browser_page(width=360, height=780)
    await page.clock.install()
    j = journey(page)
    await page.goto(site.url("/connexion"))
    await expect(page.locator("#session-expiration")).to_have_count(0)  # nobody logged in: no time limit
    await log_in(page, account["numero_dossier"])
    await page.wait_for_url(re.compile(r"/dossier$"))
    await page.goto(site.url("/dossier/informations-personnelles"))
    dialog = page.locator("#session-expiration")
    await expect(dialog).to_have_attribute("data-idle", str(IDLE))
    warning = dialog.get_by_role("heading", name="Votre session va bientôt expirer")
    ended = dialog.get_by_role("heading", name="Votre session a expiré")

    # Left alone 25 minutes: nothing; at 27 (the session may end at 28 min 30 s), the warning, with
    # the time, and the focus on « Rester connecté ».
    await page.clock.fast_forward("25:00")
    await expect(dialog).to_be_hidden()
    await page.clock.fast_forward("02:00")
    await expect(warning).to_be_visible()
    await expect(dialog).to_contain_text(
        re.compile(r"vous serez déconnecté à \d{1,2}\xa0h\xa0\d\d\. Ce que vous avez saisi")
    )
    stay = dialog.get_by_role("button", name="Rester connecté")
    await expect(stay).to_be_focused()
    await j.step("avertissement-360px")
    async with page.expect_response(PROLONGATION) as answered:
        await page.keyboard.press("Enter")
    assert (await answered.value).status == 200
    await expect(dialog).to_be_hidden()
    # Another site's page posting with the browser's cookies has not the page's token: refused.
    for headers in ({}, {"X-CSRF-Token": "devine"}):
        forged = await page.request.post(site.url("/session/prolongation"), headers=headers)
        assert forged.status == 403 and await forged.json() == {"code": "csrf"}

    # Typing in the page keeps the session without a question: at the next warning time the page
    # asks for the prolongation itself.
    await type_identity(page)
    async with page.expect_response(PROLONGATION) as answered:
        await page.clock.fast_forward("27:00")
    assert (await answered.value).status == 200
    await expect(dialog).to_be_hidden()

    # The session ends (its idle timeout passed on the platform's clock) while the person types: the
    # page finds out at its next check, says so, and keeps what was typed.
    await page.locator("#nom_naissance").fill("Durand-Martin")
    typed = {**TYPED, "nom_naissance": "Durand-Martin"}
    site.platform.clock.advance(seconds=IDLE + 60)
    async with page.expect_response(PROLONGATION) as answered:
        await page.clock.fast_forward("27:00")
    assert (await answered.value).status == 401
    await expect(ended).to_be_visible()
    await expect(dialog).to_contain_text("ce que vous avez saisi sur cette page et pas encore enregistré y sera repris")
    await j.step("session-expiree-360px")

    # Logged in again: back on the page, the form holds what was typed, and says so.
    await reconnected_with_what_was_typed(page, account, typed)
    await j.step("saisie-reprise-360px")
    # Once shown, it is not shown again.
    await page.reload()
    await expect(page.get_by_text("ce que vous aviez saisi a été repris")).to_have_count(0)
    j.assert_no_script_error()


async def test_a_form_sent_after_the_session_ended_comes_back_filled_after_the_login(
    site, browser_page, journey, smtp_sink
):
    """The phone asleep past the idle timeout: no warning could run; the form sent on waking goes to
    the login page, and back to the form, filled."""
    account = await activated_account(site.platform, smtp_sink)
    page = await browser_page()
    j = journey(page)
    await page.goto(site.url("/connexion"))
    await log_in(page, account["numero_dossier"])
    await page.wait_for_url(re.compile(r"/dossier$"))
    await page.goto(site.url("/dossier/informations-personnelles"))
    await type_identity(page)
    site.platform.clock.advance(seconds=IDLE + 60)
    await page.get_by_role("button", name="Enregistrer et passer à la suite").click()
    await page.wait_for_url(re.compile(r"/connexion\?suite="))
    await flash(page, "Votre session a expiré.")
    await j.step("connexion-apres-expiration")
    await log_in(page, account["numero_dossier"])
    await page.wait_for_url(re.compile(r"/dossier/informations-personnelles$"))
    await identity_kept(page)
    await j.step("saisie-reprise")

    # Another account logging in on the same browser tab gets an empty form, not the first one's input.
    await page.locator("#nom_naissance").fill("Quelqu'un")
    site.platform.clock.advance(seconds=IDLE + 60)
    await page.get_by_role("button", name="Enregistrer et passer à la suite").click()
    await page.wait_for_url(re.compile(r"/connexion\?suite="))
    other = await activated_account(site.platform, smtp_sink)
    await log_in(page, other["numero_dossier"])
    await page.wait_for_url(re.compile(r"/dossier/informations-personnelles$"))
    await expect(page.locator("#nom_naissance")).to_have_value("")
    await expect(page.get_by_text("ce que vous aviez saisi a été repris")).to_have_count(0)
    j.assert_no_script_error()


async def test_the_espace_gestion_warns_and_keeps_a_staff_session(site, browser_page, journey):
    staff = await admin(site.platform)
    page = await browser_page()
    await page.clock.install()
    j = journey(page)
    await page.goto(site.url("/personnel/connexion"))
    await staff_login(page, staff.email, staff.code())
    await page.wait_for_url(re.compile(r"/personnel$"))
    dialog = page.locator("#session-expiration")
    await expect(dialog).to_have_attribute("data-prolongation", "/personnel/session/prolongation")
    await page.clock.fast_forward("27:00")
    await expect(dialog.get_by_role("heading", name="Votre session va bientôt expirer")).to_be_visible()
    await j.step("avertissement-gestion")
    async with page.expect_response(PROLONGATION) as answered:
        await dialog.get_by_role("button", name="Rester connecté").click()
    assert (await answered.value).status == 200
    await expect(dialog).to_be_hidden()
    j.assert_no_script_error()


async def test_a_page_used_in_another_tab_keeps_the_first_tab_from_warning(site, browser_page, smtp_sink):
    account = await activated_account(site.platform, smtp_sink)
    first = await browser_page()
    await first.context.clock.install()
    await first.goto(site.url("/connexion"))
    await log_in(first, account["numero_dossier"])
    await first.wait_for_url(re.compile(r"/dossier$"))
    await first.context.clock.fast_forward("20:00")
    second = await first.context.new_page()
    await second.goto(site.url("/candidatures"))  # a request of the same session, 20 minutes later
    await first.context.clock.fast_forward("07:00")
    for page in (first, second):
        await expect(page.locator("#session-expiration")).to_be_hidden()
    await first.context.clock.fast_forward("20:00")  # 27 minutes after the second tab's request
    for page in (first, second):
        await expect(page.get_by_role("heading", name="Votre session va bientôt expirer")).to_be_visible()


LIFETIME = 1200  # shorter than the idle timeout: the session's lifetime ends it first


@pytest.fixture
async def short_site(start_platform):
    async with running_site(
        start_platform,
        accounts={"accounts_session_idle": IDLE, "accounts_session_lifetime": LIFETIME},
        gateway={"gateway_session_cache_ttl": 0},
    ) as opened:
        yield opened


async def test_the_session_s_lifetime_is_told_before_it_ends_and_loses_nothing_typed(
    short_site, browser_page, journey, smtp_sink
):
    """The session's lifetime, which nothing puts off: told two minutes before (with the time, no
    « Rester connecté »), then the end, and what was typed comes back after the login."""
    site = short_site
    account = await activated_account(site.platform, smtp_sink)
    page = await browser_page(width=360, height=780)
    await page.clock.install()
    j = journey(page)
    await page.goto(site.url("/connexion"))
    await log_in(page, account["numero_dossier"])
    await page.wait_for_url(re.compile(r"/dossier$"))
    ends = next(c for c in await page.context.cookies() if c["name"] == "ecandidat_session_fin")
    assert ends["httpOnly"] is False and ends["sameSite"] == "Strict"
    await page.goto(site.url("/dossier/informations-personnelles"))
    dialog = page.locator("#session-expiration")
    final = dialog.get_by_role("heading", name="Votre session arrive à sa durée maximale")
    ended = dialog.get_by_role("heading", name="Votre session a expiré")

    await type_identity(page)
    await page.clock.fast_forward("16:00")  # typing keeps no prolongation asked: the lifetime is the limit
    await expect(dialog).to_be_hidden()
    await page.clock.fast_forward("02:30")
    await expect(final).to_be_visible()
    await expect(dialog).to_contain_text(
        re.compile(r"Votre session se termine à \d{1,2}\xa0h\xa0\d\d\xa0: elle ne peut plus")
    )
    await expect(dialog.get_by_role("button", name="Rester connecté")).to_be_hidden()
    understood = dialog.get_by_role("button", name="J'ai compris")
    await expect(understood).to_be_focused()
    await j.step("duree-maximale-360px")
    await understood.click()
    await expect(dialog).to_be_hidden()
    await page.clock.fast_forward("00:20")
    await expect(dialog).to_be_hidden()  # told once

    # The lifetime passes (on the platform's clock too): the page says so and keeps what was typed.
    site.platform.clock.advance(seconds=LIFETIME + 60)
    await page.clock.fast_forward("02:00")
    await expect(ended).to_be_visible()
    await j.step("duree-maximale-atteinte-360px")
    await reconnected_with_what_was_typed(page, account)

    # Logging out forgets when the session would have ended.
    await page.set_viewport_size({"width": 1280, "height": 900})  # the header's button, not the phone's menu
    await page.get_by_role("button", name="Déconnexion").first.click()
    await page.wait_for_url(site.url("/"))
    assert "ecandidat_session_fin" not in {c["name"] for c in await page.context.cookies()}
    j.assert_no_script_error()
