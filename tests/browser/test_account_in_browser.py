"""« Supprimer mon compte » in a real browser, on a phone's width: what goes is said first; a
candidature that stands in the way is named with the way to it; a missing confirmation or a wrong
password is refused beside its field; then the account is gone, the candidate logged out, told on
the page and by mail, and the numéro no longer logs in."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.browser.helpers import flash, log_in
from tests.e2e.test_accounts import PASSWORD, api, mail_to, text_of
from tests.e2e.test_journey_defects import apply, candidate

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


async def test_a_candidate_deletes_their_account_from_mon_compte(site, browser_page, journey, smtp_sink):
    who = await candidate(site.platform, smtp_sink)
    standing = (await apply(site.platform, who, "DU-MUSICO"))["id"]
    page = await browser_page(width=360, height=780)
    j = journey(page)
    await page.goto(site.url("/connexion"))
    await log_in(page, who["numero_dossier"])
    await page.wait_for_url(re.compile(r"/dossier$"))

    await page.goto(site.url("/compte"))
    await expect(page.locator("#suppression")).to_have_text("Supprimer mon compte")
    await j.step("mon-compte")
    await page.get_by_role("link", name="Supprimer mon compte").click()
    await page.wait_for_url(re.compile(r"/compte/suppression$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Supprimer mon compte")
    blocked = page.locator("#suppression-impossible")
    await expect(blocked).to_contain_text("Vous avez 1 candidature qui n'est pas annulée.")
    await expect(page.locator("form[action='/compte/suppression']")).to_have_count(0)
    await j.step("suppression-impossible")
    await blocked.get_by_role("link", name="Voir mes candidatures").click()
    await page.wait_for_url(re.compile(r"/candidatures$"))

    status, body, _ = await api(
        site.platform, "POST", f"/api/v1/candidatures/{standing}/annulation", token=who["token"]
    )
    assert status == 200, body
    await page.goto(site.url("/compte/suppression"))
    await expect(page.locator("#suppression-impossible")).to_have_count(0)
    await expect(page.locator("main")).to_contain_text(f"votre numéro de dossier {who['numero_dossier']}")
    await expect(page.locator("main")).to_contain_text(who["email"])
    await j.step("suppression-formulaire")

    # The box not ticked: refused, nothing sent to the API.
    await page.locator("#password").fill(PASSWORD)
    await page.get_by_role("button", name="Supprimer définitivement mon compte").click()
    await expect(page.locator(".fr-checkbox-group--error .fr-error-text")).to_have_text(
        "Cochez la case pour confirmer que votre compte et votre dossier seront supprimés."
    )
    await j.step("suppression-case-non-cochee")

    # A wrong password: refused beside the field.
    await page.locator("#password").fill("pas le bon mot de passe")
    await page.locator("label[for=confirmation]").click()
    await page.get_by_role("button", name="Supprimer définitivement mon compte").click()
    await expect(page.locator("#password-desc-error")).to_have_text("Le mot de passe est incorrect.")
    await expect(page.locator("#password")).to_have_attribute("aria-invalid", "true")
    await j.step("suppression-mot-de-passe-refuse")
    assert (await api(site.platform, "GET", "/api/v1/me", token=who["token"]))[0] == 200  # still there

    # The desktop's layout of the same form.
    await page.set_viewport_size({"width": 1280, "height": 900})
    await j.step("suppression-formulaire-bureau")
    await page.set_viewport_size({"width": 360, "height": 780})

    await page.locator("#password").fill(PASSWORD)
    await page.locator("label[for=confirmation]").click()
    await page.get_by_role("button", name="Supprimer définitivement mon compte").click()
    await page.wait_for_url(site.url("/"))
    await flash(page, "Votre compte et votre dossier sont supprimés. Un mail vous le confirme.")
    await expect(page.get_by_role("link", name="Créer un compte").first).to_be_attached()
    await j.step("compte-supprime")

    mail = await mail_to(smtp_sink, who["email"], "votre compte a été supprimé")
    assert who["numero_dossier"] in text_of(mail)

    await page.goto(site.url("/compte"))
    await page.wait_for_url(re.compile(r"/connexion"))
    await log_in(page, who["numero_dossier"])
    await expect(page.locator("#login-desc-error")).to_have_text("Identifiant ou mot de passe incorrect.")
    await j.step("numero-ne-connecte-plus")
    j.assert_no_script_error()
