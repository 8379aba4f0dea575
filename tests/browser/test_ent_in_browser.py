"""Connexion via l'ENT in Chromium: the home page's "Connexion via l'ENT" → the university's CAS
login page (a real CAS 3.0 server) → back in the espace candidat, logged in, the dossier filled
from the student records by the INE the ENT released → apply to a formation. And when the ENT
does not answer, the login page says so. Screenshots in test-artifacts/browser/…, axe-core on
every eCandidat page."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.async_api import expect

from ecandidat.devstack._process import free_port
from tests.browser.conftest import running_site
from tests.browser.helpers import open_offer_and_apply
from tests.browser.test_guide_in_browser import api_get
from tests.e2e.ent import new_ent_user
from tests.e2e.test_accounts import PASSWORD, activated_account
from tests.e2e.test_dossiers_login import load_registry
from tests.unit.dossiers.samples import bea, registry_row

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
ENT_PAGE = "/connexion/ent"


def ent_settings(cas_url: str) -> dict:
    return {
        "accounts": {"ent_enabled": True, "ent_cas_url": cas_url, "ent_timeout": 10.0},
        "web_settings": {"web_ent_url": ENT_PAGE},
    }


async def test_connexion_via_l_ent_fills_the_dossier_and_applies(start_platform, cas_server, browser_page, journey):
    async with running_site(start_platform, **ent_settings(cas_server.url)) as site:
        ine = bea(f"{uuid.uuid4().int % 10**10:010d}")
        await load_registry(site.platform, registry_row(ine))
        uid, password, attributes = new_ent_user(cas_server, ine=ine, sn="Dupont", givenName="Jean")
        page = await browser_page()
        j = journey(page)

        await page.goto(site.url("/"))
        await j.step("accueil")
        j.assert_no_script_error()
        await page.locator(".fr-callout").get_by_role("link", name="Connexion via l'ENT").click()
        await page.wait_for_url(re.compile("^" + re.escape(cas_server.url) + "/login"))
        await expect(page.locator("#id_username")).to_be_visible()
        await j.shot("cas-login")  # the university's page, not ours: no axe-core there
        await page.locator("#id_username").fill(uid)
        await page.locator("#id_password").fill(password)
        await page.locator("#id_password").press("Enter")

        await page.wait_for_url(re.compile(r"/dossier$"))
        # The CAS page is the university's (here django-cas-server's, whose jQuery and Bootstrap come
        # from a CDN this machine does not reach): its console is not ours to judge.
        j.console_errors.clear()
        await j.step("dossier-depuis-l-ent")
        await expect(page.locator("body")).to_contain_text("Dupont")
        dossier = await api_get(page, site, "/dossier")
        assert dossier["ine_importe"] == ine and dossier["completude"]["complet"], dossier
        cursus = next(s for s in dossier["sections"] if s["section"] == "cursus_interne")
        assert cursus["renseignee"] and cursus["lecture_seule"]
        me = await api_get(page, site, "/me")
        assert me["email"] == attributes["mail"]

        await page.goto(site.url("/dossier/cursus-interne"))
        await expect(page.locator("body")).to_contain_text("Licence 1 Psychologie")
        await j.step("cursus-interne-verrouille")

        cid = await open_offer_and_apply(
            page, site, j, "DAEU option A", "Diplôme d'Accès aux Etudes Universitaires (DAEU)", "DAEU - DIPLÔME D'ACCÈS"
        )
        mine = await api_get(page, site, "/candidatures")
        assert [c["id"] for c in mine["items"]] == [cid]
        await j.step("candidature-creee")
        j.assert_no_script_error()


async def test_an_existing_account_is_linked_to_the_ent_with_its_password(
    start_platform, cas_server, smtp_sink, browser_page, journey
):
    async with running_site(start_platform, **ent_settings(cas_server.url)) as site:
        account = await activated_account(site.platform, smtp_sink)
        uid, password, _ = new_ent_user(cas_server, mail=account["email"])
        page = await browser_page()
        j = journey(page)
        await page.goto(site.url("/connexion"))
        await page.locator("#ent").get_by_role("link", name="Connexion via l'ENT").click()
        await page.wait_for_url(re.compile("^" + re.escape(cas_server.url) + "/login"))
        await page.locator("#id_username").fill(uid)
        await page.locator("#id_password").fill(password)
        await page.locator("#id_password").press("Enter")
        await page.wait_for_url(re.compile(r"/connexion/ent/liaison\?"))
        j.console_errors.clear()  # the CAS page's console is not ours (see above)
        await expect(page.locator("main, body").first).to_contain_text(account["email"])
        await j.step("liaison")
        await page.locator("#password").fill("pas le bon mot de passe")
        await page.get_by_role("button", name="Lier mon compte").click()
        await expect(page.locator("body")).to_contain_text("Le mot de passe est incorrect.")
        await j.step("liaison-mot-de-passe-incorrect")
        await page.locator("#password").fill(PASSWORD)
        # With the pointer, as a person does: the message of the refusal leaving must not move the button away.
        await page.get_by_role("button", name="Lier mon compte").click()
        await page.wait_for_url(re.compile(r"/dossier$"))
        await j.step("dossier-apres-liaison")
        me = await api_get(page, site, "/me")
        assert me["numero_dossier"] == account["numero_dossier"]
        j.assert_no_script_error()


async def test_the_login_page_says_when_the_ent_is_unavailable(start_platform, browser_page, journey):
    dead = f"http://127.0.0.1:{free_port()}/cas"
    async with running_site(start_platform, **ent_settings(dead)) as site:
        page = await browser_page()
        j = journey(page)
        await page.goto(site.url("/connexion"))
        await page.locator("#ent").get_by_role("link", name="Connexion via l'ENT").click()
        await page.wait_for_url(re.compile(r"/connexion\?ent=indisponible$"))
        await expect(page.locator("#ent .fr-alert")).to_contain_text("momentanément indisponible")
        await j.step("ent-indisponible")
        j.assert_no_script_error()


async def test_an_account_made_by_the_ent_is_deleted_after_logging_in_to_the_ent_again(
    start_platform, cas_server, smtp_sink, browser_page, journey
):
    """« Supprimer mon compte » for an account without an eCandidat password: the ENT asks its
    password again (even within its single sign-on), and the way back deletes the account; the way
    back reached without this page's form deletes nothing."""
    async with running_site(start_platform, **ent_settings(cas_server.url)) as site:
        uid, password, attributes = new_ent_user(cas_server)
        page = await browser_page()
        j = journey(page)
        await page.goto(site.url(ENT_PAGE))
        await page.locator("#id_username").fill(uid)
        await page.locator("#id_password").fill(password)
        await page.locator("#id_password").press("Enter")
        await page.wait_for_url(re.compile(r"/dossier$"))
        j.console_errors.clear()  # the CAS page's console is not ours (see above)

        # A way back that this page's form did not start: refused, nothing deleted.
        await page.goto(site.url("/compte/suppression/ent/confirmation?ticket=ST-1-forged"))
        await expect(page.locator(".fr-alert--error")).to_contain_text("n'a pas été demandée depuis cette page")
        assert (await api_get(page, site, "/me"))["email"] == attributes["mail"]
        await j.step("suppression-ent-non-demandee")

        async def ask_for_the_deletion(step: str | None = None) -> str:
            """The deletion page's form sent; the CAS login page's URL it leads to."""
            await page.goto(site.url("/compte/suppression"))
            await expect(page.locator("#password")).to_have_count(0)
            await expect(page.locator("main")).to_contain_text("en vous connectant de nouveau à l'ENT")
            if step:
                await j.step(step)
            await page.locator("label[for=confirmation]").click()
            await page.get_by_role("button", name="Confirmer avec l'ENT et supprimer mon compte").click()
            await page.wait_for_url(re.compile("^" + re.escape(cas_server.url) + "/login"))
            j.console_errors.clear()
            return page.url

        # Asked, then left at the CAS page; a CAS login reached from elsewhere (another way back)
        # within the next minutes: refused, nothing deleted.
        asked = await ask_for_the_deletion("suppression-ent")
        forged = asked.replace("etat%3D", "etat%3DFORGED")
        assert forged != asked
        await page.goto(forged)
        if await page.locator("#id_username").is_editable():
            await page.locator("#id_username").fill(uid)
        await page.locator("#id_password").fill(password)
        await page.locator("#id_password").press("Enter")
        await page.wait_for_url(re.compile(r"/compte/suppression/ent/confirmation"))
        j.console_errors.clear()
        await expect(page.locator(".fr-alert--error")).to_contain_text("n'a pas été demandée depuis cette page")
        assert (await api_get(page, site, "/me"))["email"] == attributes["mail"]
        await j.step("suppression-ent-autre-retour")

        await ask_for_the_deletion()
        # The ENT asks for the password again although its session is open.
        await expect(page.locator("#id_password")).to_be_visible()
        await j.shot("cas-nouvelle-connexion")
        if await page.locator("#id_username").is_editable():
            await page.locator("#id_username").fill(uid)
        await page.locator("#id_password").fill(password)
        await page.locator("#id_password").press("Enter")
        await page.wait_for_url(site.url("/"))
        j.console_errors.clear()
        await expect(page.locator(".fr-alert--success")).to_contain_text("Votre compte et votre dossier sont supprimés")
        await j.step("compte-supprime")
        j.assert_no_script_error()
        async with site.platform.services["accounts"].pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM candidates WHERE email = $1", attributes["mail"]) == 0
