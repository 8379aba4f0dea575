"""Each form with wrong input (JavaScript off: the server's answer, as every browser gets it): the
field's message next to the field, the rest of the input kept, nothing saved. And the keyboard
alone: account creation, login, upload and transmission without a mouse."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import FileChooser, Page, expect
from playwright.async_api import TimeoutError as PlaywrightTimeout

from tests.browser.helpers import fields_clear_of_button, flash, log_in, pieces_ready
from tests.conftest import eventually, unique_email
from tests.e2e.test_accounts import PASSWORD, activated_account, api, login, mail_to, text_of
from tests.unit.documents import corpus
from tests.unit.dossiers.samples import adresse, baccalaureat, experiences, infos_perso

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]


async def refused(page: Page, field: str, message: str, kept: dict[str, str]) -> None:
    """The field's own message under it, and what was typed elsewhere still there."""
    await expect(page.locator(f"#{field}-desc-error")).to_contain_text(message)
    await expect(page.locator("#erreurs")).to_be_visible()
    for other, value in kept.items():
        await expect(page.locator(f"#{other}")).to_have_value(value)


async def test_bad_input_on_each_form_shows_the_fields_message_and_keeps_the_rest(
    site, browser_page, journey, smtp_sink
):
    page = await browser_page(js=False)
    j = journey(page)

    # Account creation: the confirmation differs.
    email = unique_email("erreurs")
    await page.goto(site.url("/compte/creation"))
    await page.locator("#nom").fill("Durand")
    await page.locator("#prenom").fill("Léa")
    await page.locator("#email").fill(email)
    await page.locator("#email_confirmation").fill("autre." + email)
    await page.locator("#password").fill(PASSWORD)
    await page.locator("#password_confirmation").fill(PASSWORD)
    await page.get_by_role("button", name="Enregistrer").click()
    await refused(
        page,
        "email_confirmation",
        "La confirmation ne correspond pas à l'adresse mail.",
        {"nom": "Durand", "prenom": "Léa", "email": email},
    )
    await expect(page.locator("#password")).to_have_value("")  # a password never comes back in the page
    await j.step("creation-erreur")

    # Lost activation code and forgotten identifiers: not an address.
    for path, name in (("/compte/code-activation", "code-activation"), ("/compte/identifiants", "identifiants")):
        await page.goto(site.url(path))
        await page.locator("#email").fill("pas-une-adresse")
        await page.locator("form[novalidate] button[type=submit]").click()
        await refused(page, "email", "L'adresse mail n'est pas valide.", {"email": "pas-une-adresse"})
        await j.step(f"{name}-erreur")

    # Login: a wrong password, the login kept.
    account = await activated_account(site.platform, smtp_sink)
    await page.goto(site.url("/connexion"))
    await log_in(page, account["numero_dossier"], "pas le bon mot de passe")
    await refused(page, "login", "Identifiant ou mot de passe incorrect.", {"login": account["numero_dossier"]})
    await j.step("connexion-erreur")

    # Password reset from the mailed link: too short.
    status, _, _ = await api(site.platform, "POST", "/api/v1/accounts/credentials", {"email": account["email"]})
    assert status == 202
    mail = await mail_to(smtp_sink, account["email"], "identifiants")
    link = re.search(r"https?://\S+jeton=[\w-]+", text_of(mail)).group(0)
    assert link.startswith(site.url("/compte/mot-de-passe?jeton="))
    await page.goto(link)
    await page.locator("#password").fill("court")
    await page.locator("#password_confirmation").fill("court")
    await page.get_by_role("button", name="Enregistrer le mot de passe").click()
    await expect(page.locator("#password-desc-error")).to_contain_text("au moins 12 caractères")
    await j.step("mot-de-passe-erreur")

    # My account: change of email with a wrong password.
    await page.goto(site.url("/connexion"))
    await log_in(page, account["numero_dossier"])
    await page.wait_for_url(re.compile(r"/dossier$"))
    await page.goto(site.url("/compte"))
    new_email = unique_email("nouvelle")
    await page.locator("#new_email").fill(new_email)
    await page.locator("#new_email_confirmation").fill(new_email)
    await page.locator("#password").fill("pas le bon mot de passe")
    await page.get_by_role("button", name="Changer d'adresse mail").click()
    await refused(
        page,
        "password",
        "Le mot de passe est incorrect.",
        {"new_email": new_email, "new_email_confirmation": new_email},
    )
    await j.step("compte-erreur")

    # Applying before the dossier is complete: the reason, and the way to the dossier.
    await page.goto(site.url("/offre/DU-MUSICO/candidater"))
    await page.get_by_role("button", name="Oui, candidater").click()
    await expect(page.get_by_text("Votre dossier doit être complété avant de candidater")).to_be_visible()
    await expect(page.locator("#a-completer a")).to_have_text(["Informations personnelles", "Adresse", "Baccalauréat"])
    await j.step("candidater-erreur")

    # The dossier's sections, one wrong field each.
    async def section(
        slug: str,
        fill: dict[str, str],
        selects: dict[str, str],
        field: str,
        message: str,
        step: str,
        labels: tuple[str, ...] = (),
    ):
        await page.goto(site.url(f"/dossier/{slug}"))
        for label in labels:
            await page.locator(f"label[for={label}]").click()
        for name, value in selects.items():
            await page.locator(f"#{name}").select_option(value)
        for name, value in fill.items():
            await page.locator(f"#{name}").fill(value)
        await page.locator("form[data-validate] button[type=submit]").last.click()
        await refused(page, field, message, {k: v for k, v in fill.items() if k != field})
        await fields_clear_of_button(page)
        await j.step(step)

    await section(
        "informations-personnelles",
        {"nom_naissance": "Durand", "prenoms": "Léa", "date_naissance": "1995-02-03", "telephone": "pas un numéro"},
        {"pays_naissance": "BE", "nationalite": "BE"},
        "telephone",
        "format",
        "informations-personnelles-erreur",
        labels=("civilite-1",),
    )
    await expect(page.locator("#civilite-1")).to_be_checked()
    await page.locator("#ville_naissance_etranger").fill("Liège")
    await page.locator("#telephone").fill("")
    await page.get_by_role("button", name="Enregistrer et passer à la suite").click()
    await page.wait_for_url(re.compile(r"/dossier/adresse$"))
    await section(
        "adresse",
        {"code_postal": "31100", "ville_etranger": "Liège"},
        {"pays": "BE"},
        "ligne1",
        "obligatoire",
        "adresse-erreur",
    )
    await section("baccalaureat", {"annee": "1800", "serie": "Générale"}, {}, "annee", "1900", "baccalaureat-erreur")
    await section(
        "cursus-externe",
        {
            "annee_universitaire": "2019",
            "etablissement": "Université de Liège",
            "diplome": "Licence",
            "libelle": "Licence 1 Psychologie",
        },
        {"pays": "BE"},
        "annee_universitaire",
        "format",
        "cursus-externe-erreur",
        labels=("obtenu-1",),
    )
    await section(
        "stages",
        {"annee": "deux mille", "duree": "8 semaines", "organisme": "CHU"},
        {},
        "annee",
        "nombre entier",
        "stages-erreur",
    )
    await section(
        "experiences-professionnelles",
        {"annee": "2021", "duree": "1 an", "organisme": "Mairie : service « État civil »"},
        {},
        "intitule",
        "obligatoire",
        "experiences-erreur",
    )

    # A list rubrique filled right: the row is listed; on a phone it is a card, each value under
    # its column's name, nothing scrolling sideways; « Supprimer » takes it away.
    await page.goto(site.url("/dossier/stages"))
    await page.locator("#annee").fill("2021")
    await page.locator("#duree").fill("8 semaines")
    await page.locator("#organisme").fill("Centre hospitalier universitaire de Toulouse")
    await page.get_by_role("button", name="Ajouter").click()
    await flash(page, "La rubrique « Stages » est enregistrée.")
    rows = page.get_by_role("table", name="Stages").locator("tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Centre hospitalier universitaire de Toulouse")
    await j.step("stages-une-ligne")
    mobile = await browser_page(js=False, width=360, height=740, state=await page.context.storage_state())
    j.watch(mobile)
    await mobile.goto(site.url("/dossier/stages"))
    await j.step("360px-stages-une-ligne", mobile)
    assert await mobile.evaluate("document.documentElement.scrollWidth") <= 360
    cells = mobile.locator("main table tbody td")
    await expect(cells).to_have_count(4)
    widths = [round((await cells.nth(i).bounding_box() or {"width": 0})["width"]) for i in range(4)]
    assert min(widths) >= 250, f"the row's cells at 360 px: {widths}"
    labels = await cells.evaluate_all("tds => tds.map(td => getComputedStyle(td, '::before').content)")
    assert labels == ['"Année"', '"Organisme"', '"Durée"', '"Action"'], labels
    await mobile.get_by_role("button", name="Supprimer la ligne 1").click()
    await flash(mobile, "La rubrique « Stages » est enregistrée.")
    await expect(mobile.get_by_role("table", name="Stages")).to_have_count(0)


async def tab_to(page: Page, selector: str, limit: int = 250) -> None:
    """Tab until the element has the focus: it is reachable with the keyboard."""
    for _ in range(limit):
        if await page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
        await page.keyboard.press("Tab")
    pytest.fail(f"{selector} cannot be reached with the Tab key")


async def choose_file_with_space(page: Page, selector: str, attempts: int = 3) -> FileChooser:
    """Space on the focused file input opens the file chooser. Chromium has been seen to let a
    first key press go by on a busy machine (once in a whole suite, never alone): the input is
    focused again and Space pressed again; an input the keyboard cannot operate fails every time."""
    for _ in range(attempts):
        await tab_to(page, selector)
        try:
            async with page.expect_file_chooser(timeout=20_000) as chooser:
                await page.keyboard.press("Space")
            return await chooser.value
        except PlaywrightTimeout:
            continue
    pytest.fail(f"Space on {selector} opened no file chooser in {attempts} attempts")


async def applied(site, smtp_sink, formation: str, **sections: dict) -> tuple[dict, str, str]:
    """An activated candidate with the dossier every application needs (and `sections`, by slug),
    who has applied to `formation`, all through the API: (account, token, candidature id)."""
    account = await activated_account(site.platform, smtp_sink)
    token = await login(site.platform, account["numero_dossier"])
    for slug, content in {
        "informations-personnelles": infos_perso(),
        "adresse": adresse(),
        "baccalaureat": baccalaureat(),
        **sections,
    }.items():
        status, body, _ = await api(
            site.platform, "PUT", f"/api/v1/dossier/sections/{slug}", content, token=token, headers={"If-Match": '"0"'}
        )
        assert status == 200, (slug, body)
    status, body, _ = await api(
        site.platform, "POST", "/api/v1/candidatures", {"formation_code": formation}, token=token
    )
    assert status == 201, body
    return account, token, body["id"]


async def upload_pieces(site, token: str, cid: str, leave: tuple[str, ...] = ()) -> dict[str, str]:
    """Each piece of the candidature but `leave` sent through the API; the slots by piece code."""

    async def slots() -> dict[str, str]:
        status, listed, _ = await api(site.platform, "GET", f"/api/v1/candidatures/{cid}/pieces", token=token)
        return {p["code"]: p["slot_id"] for p in listed["items"]} if status == 200 else {}

    by_code = await eventually(slots, message="the piece slots exist")
    pdf = corpus.legitimate()["cv-reportlab.pdf"]
    for code in by_code.keys() - set(leave):
        async with site.platform.http.put(
            site.url(f"/api/v1/candidatures/{cid}/pieces/{by_code[code]}/fichier"),
            data=pdf,
            headers={
                "Authorization": f"Bearer {token}",
                "X-File-Name": f"{code}.pdf",
                "Content-Type": "application/octet-stream",
            },
        ) as resp:
            assert resp.status == 201, await resp.text()
    return by_code


async def va85_ready_to_transmit(page: Page, site, smtp_sink) -> tuple[str, str]:
    """A candidate to the VA85 (which requires the expériences) with every piece sent, logged in
    on `page`: (token, candidature id)."""
    account, token, cid = await applied(site, smtp_sink, "VA85-LIC", **{"experiences-professionnelles": experiences()})
    await upload_pieces(site, token, cid)
    await page.goto(site.url("/connexion"))
    await log_in(page, account["numero_dossier"])
    await page.wait_for_url(re.compile(r"/dossier$"))
    return token, cid


async def test_with_the_keyboard_alone(site, browser_page, journey, smtp_sink):
    page = await browser_page(js=True)
    j = journey(page)

    # Account creation.
    email = unique_email("clavier")
    await page.goto(site.url("/compte/creation"))
    for selector, text in (
        ("#nom", "Clavier"),
        ("#prenom", "Alex"),
        ("#email", email),
        ("#email_confirmation", email),
        ("#password", PASSWORD),
        ("#password_confirmation", PASSWORD),
    ):
        await tab_to(page, selector)
        await page.keyboard.type(text)
    await j.step("creation-au-clavier")
    await tab_to(page, "button[type=submit]")
    await page.keyboard.press("Enter")
    await flash(page, "Votre compte a été créé avec succès")

    # A candidate whose dossier and candidature are ready but for one piece (made through the API).
    account, token, cid = await applied(site, smtp_sink, "DU-MUSICO")
    by_code = await upload_pieces(site, token, cid, leave=("MOTIVATION-FC",))
    pdf = corpus.legitimate()["cv-reportlab.pdf"]

    # Login, upload and transmission, with the keyboard.
    await page.goto(site.url("/connexion"))
    await tab_to(page, "#login")
    await page.keyboard.type(account["numero_dossier"])
    await tab_to(page, "#password")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r"/dossier$"))
    await page.goto(site.url(f"/candidatures/{cid}"))
    slot = by_code["MOTIVATION-FC"]
    chooser = await choose_file_with_space(page, f"#fichier-{slot}")
    await chooser.set_files({"name": "Lettre.pdf", "mimeType": "application/pdf", "buffer": pdf})
    await j.step("depot-au-clavier")
    await tab_to(page, f"#piece-{slot} button[type=submit]")
    await page.keyboard.press("Enter")
    await expect(page.locator(f"#piece-{slot} .ec-piece__statut")).to_have_text("Transmise")
    await tab_to(page, "#transmettre")
    await page.keyboard.press("Enter")
    dialog = page.locator("#dialog-transmission")
    await expect(dialog).to_be_visible()
    await j.step("transmettre-au-clavier")
    await tab_to(page, "#dialog-transmission button[type=submit]")
    await page.keyboard.press("Enter")
    await flash(page, "Votre candidature est transmise.")
    await expect(page.locator("#statut")).to_have_text("Réceptionné")
    await j.step("transmise-au-clavier")
    j.assert_no_script_error()


async def test_transmit_stays_disabled_until_every_piece_is_there(site, browser_page, smtp_sink):
    page = await browser_page(js=True)
    account, _, cid = await applied(site, smtp_sink, "DU-MUSICO")
    await page.goto(site.url("/connexion"))
    await log_in(page, account["numero_dossier"])
    await page.wait_for_url(re.compile(r"/dossier$"))
    await page.goto(site.url(f"/candidatures/{cid}"))
    await pieces_ready(page)
    await expect(page.locator(".ec-piece")).to_have_count(4)
    await expect(page.locator("#transmettre")).to_be_disabled(timeout=5_000)
    await expect(page.get_by_text("devient actif (vert) lorsque toutes les pièces sont déposées")).to_be_visible()


async def test_a_section_emptied_after_applying_stops_the_transmission_with_the_way_back(
    site, browser_page, journey, smtp_sink
):
    """The VA85 requires the expériences; emptied after applying (in another tab, while the
    candidature's page is open on a phone), the transmission is refused with the reason and a link
    to the section, nothing is transmitted, and the page then says it before the button."""
    page = await browser_page(js=True, width=360, height=740)
    j = journey(page)
    token, cid = await va85_ready_to_transmit(page, site, smtp_sink)
    await page.goto(site.url(f"/candidatures/{cid}"))
    await pieces_ready(page)
    await expect(page.locator("a#transmettre")).to_be_visible()

    status, body, _ = await api(
        site.platform,
        "PUT",
        "/api/v1/dossier/sections/experiences-professionnelles",
        {"items": []},
        token=token,
        headers={"If-Match": '"1"'},
    )
    assert status == 200, body
    await page.locator("#transmettre").click()
    await page.locator("#dialog-transmission button[type=submit]").click()
    alert = page.locator("#action-erreur")
    await expect(alert).to_contain_text("Votre dossier doit être complété avant de transmettre votre candidature")
    await expect(alert).to_contain_text(
        "Expériences professionnelles : rubrique à renseigner, exigée par cette formation"
    )
    link = alert.locator("#a-completer a")
    await expect(link).to_have_text("Expériences professionnelles")
    assert await link.get_attribute("href") == "/dossier/experiences-professionnelles"
    # The page now says it before the button, which waits for the section.
    await expect(page.locator("button#transmettre")).to_be_disabled()
    await expect(page.locator("#transmettre-rubriques a")).to_have_text("Expériences professionnelles")
    await j.step("360px-transmission-rubrique-videe")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    status, view, _ = await api(site.platform, "GET", f"/api/v1/candidatures/{cid}", token=token)
    assert status == 200 and view["statut"] == "en_attente" and view["date_reception"] is None, view

    await link.click()
    await page.wait_for_url(re.compile(r"/dossier/experiences-professionnelles$"))
    j.assert_no_script_error()


async def test_a_dossier_that_cannot_be_checked_says_so_and_the_transmission_waits(
    site, browser_page, journey, smtp_sink
):
    """The VA85 requires the expériences; while the dossiers service is down, the candidature's page
    says their check is unavailable, not that pieces are missing, and the transmission changes nothing."""
    page = await browser_page(js=True, width=360, height=740)
    j = journey(page)
    token, cid = await va85_ready_to_transmit(page, site, smtp_sink)

    dossiers = site.platform.services["dossiers"]
    await dossiers.stop()
    dossiers._stopped = True
    await page.goto(site.url(f"/candidatures/{cid}"))
    await pieces_ready(page)
    await expect(page.locator("button#transmettre")).to_be_disabled()
    aide = page.locator("#transmettre-aide")
    await expect(aide.locator("#transmettre-verification")).to_contain_text(
        "La vérification des rubriques que cette formation exige dans votre dossier est momentanément indisponible."
    )
    await expect(aide).not_to_contain_text("lorsque toutes les pièces sont déposées")
    await j.step("360px-verification-indisponible")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360

    status, body, _ = await api(site.platform, "POST", f"/api/v1/candidatures/{cid}/transmission", token=token)
    assert status == 503 and body["code"] == "unavailable" and body["detail"], body
    status, view, _ = await api(site.platform, "GET", f"/api/v1/candidatures/{cid}", token=token)
    assert status == 200 and view["statut"] == "en_attente" and view["verification_indisponible"], view
    j.assert_no_script_error()


async def test_the_browsers_own_words_are_in_french(browser_page):
    """What the browser itself writes (the file input's button, a field's validation message) is in
    French, as in a candidate's French browser: the screenshots show what candidates see."""
    page = await browser_page()
    await page.set_content('<input type="file" id="fichier"><input required id="champ">')
    assert await page.eval_on_selector("#champ", "e => e.validationMessage") == "Veuillez renseigner ce champ."
