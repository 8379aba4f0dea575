"""The candidates' guide, every step clicked in Chromium, with JavaScript and without.

Create the account → open the activation link from the mail → log in → fill the sections in order
→ apply (double click on "Oui, candidater": one candidature) → upload each piece (one refused for
its type, the reason shown; one by drag and drop with JavaScript) → "non concerné" → transmit
(green, the confirmation, a double click: one transmission) → a piece refused by the gestionnaire
(through the API) → the candidate sees "Incomplet" and the comment, replaces the piece, transmits
again → favourable decision, its admission letter downloaded → confirms before the deadline
shown the French way. Every step has its
screenshot (test-artifacts/browser/…) and passes axe-core; the main pages are checked at 360 px.
"""

from __future__ import annotations

import asyncio
import base64
import re

import pytest
from playwright.async_api import Page, expect
from pypdf import PdfReader

from tests.browser.helpers import (
    CANDIDATURE_URL,
    CONDITIONNELLES,
    GREEN,
    LIBELLES,
    create_account,
    files,
    fill_dossier,
    flash,
    landed_after_double_submit,
    log_in,
    open_offer_and_apply,
    piece,
    upload,
    wait_statut,
)
from tests.conftest import eventually, platform_quiescent
from tests.e2e.test_accounts import mail_to
from tests.e2e.test_accounts_staff import admin, invited
from tests.unit.documents import corpus

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]
# the day and its month held together by a no-break space (French typography, `typographie`)
DEADLINE = re.compile(
    r"jusqu'au \d{1,2}(er)?\u00a0(janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre)"
    r" \d{4} inclus"
)


async def api_get(page: Page, site, path: str) -> dict:
    """The candidate's own view through the public API, with the browser's session cookie."""
    response = await page.request.get(site.url(f"/api/v1{path}"))
    assert response.ok, (path, response.status, await response.text())
    return await response.json()


async def reload_until(page: Page, locator, text: str) -> None:
    async def shown() -> bool:
        await page.reload()
        return text in (await locator.text_content() or "")

    await eventually(shown, timeout=60, message=f"{text!r} shown after reloads")


async def transmit(page: Page, journey, js: bool, name: str, double: bool = False) -> None:
    """ "Transmettre ma candidature": green, then "Etes vous certain…" (a dialog, or a page without JavaScript)."""
    button = page.locator("#transmettre")
    await expect(button).to_be_enabled()
    assert await button.evaluate("b => getComputedStyle(b).backgroundColor") == GREEN
    # Its words are shown, not only its icon (a DSFR group of buttons with icons says where they go).
    assert await button.evaluate("b => b.scrollWidth <= b.clientWidth && b.clientWidth > 120"), "label hidden"
    await button.click()
    if js:
        dialog = page.locator("#dialog-transmission")
        await expect(dialog).to_be_visible()
        confirm = dialog.get_by_role("button", name="Transmettre ma candidature")
    else:
        await page.wait_for_url(re.compile(r"/transmission$"))
        confirm = page.get_by_role("button", name="Transmettre ma candidature")
    await expect(page.get_by_text("Etes vous certain de transmettre votre candidature?")).to_be_visible()
    await expect(
        page.get_by_text("Attention: une fois votre dossier transmis aucune modification ne sera possible")
    ).to_be_visible()
    await journey.step(name)
    if double:
        await confirm.dblclick()
        await landed_after_double_submit(page)
    else:
        await confirm.click()
        await page.wait_for_url(CANDIDATURE_URL)
    await flash(page, "Votre candidature est transmise.")
    await expect(page.locator("#statut")).to_have_text("Réceptionné")


@pytest.mark.parametrize("js", [True, False], ids=["javascript", "sans-javascript"])
async def test_the_whole_guide_in_chromium(site, browser_page, journey, smtp_sink, js):
    page = await browser_page(js=js)
    j = journey(page)

    # Étape 1 — the home page with the offer, "Créer un compte", the mail's link, "Connexion".
    await page.goto(site.url("/"))
    await expect(page.get_by_role("heading", name="Bienvenue sur eCandidat")).to_be_visible()
    await expect(page.locator("summary", has_text="Diplôme d'Accès aux Etudes Universitaires (DAEU)")).to_be_visible()
    await j.step("accueil")
    await page.locator("header").get_by_role("link", name="Créer un compte").click()
    await page.wait_for_url(re.compile(r"/compte/creation$"))
    await j.step("creation-de-compte")
    account = await create_account(page, site, smtp_sink)
    await j.step("compte-cree")
    assert account["link"].startswith(site.base + "/compte/activation?jeton=")
    await page.goto(account["link"])
    await page.wait_for_url(re.compile(r"/connexion\?identifiant=" + account["numero"]))
    await flash(page, f"Votre compte est activé. Connectez-vous avec votre numéro de dossier {account['numero']}")
    await expect(page.locator("#login")).to_have_value(account["numero"])
    await j.step("compte-active")
    await log_in(page, account["numero"])
    await page.wait_for_url(re.compile(r"/dossier$"))

    # Étape 2 — the sections in order, with their markers.
    await fill_dossier(page, site, j, js)

    # A formation that requires a section the DAEU leaves optional: the VA85 asks for the
    # professional experience, refused in French with the way to the dossier, nothing made.
    await page.goto(site.url("/offre/VA85-LIC/candidater"))
    await expect(page.locator(".ec-facts")).to_contain_text("Exigées pour cette formation")
    await expect(page.locator(".ec-facts a")).to_have_text("Expériences professionnelles")
    await page.get_by_role("button", name="Oui, candidater").click()
    await expect(page.locator(".fr-alert--error")).to_contain_text(
        "Expériences professionnelles : rubrique à renseigner, exigée par cette formation"
    )
    await expect(page.locator("#a-completer a")).to_have_text("Expériences professionnelles")
    assert await page.locator("#a-completer a").get_attribute("href") == "/dossier/experiences-professionnelles"
    await j.step("candidature-rubrique-exigee")
    assert (await api_get(page, site, "/candidatures"))["items"] == []

    # Étape 3 — the offer tree and "Voulez-vous candidater à la formation 'DAEU option A' ?", double-clicked.
    cid = await open_offer_and_apply(
        page, site, j, "DAEU option A", "Diplôme d'Accès aux Etudes Universitaires (DAEU)", "DAEU - DIPLÔME D'ACCÈS"
    )
    mine = await api_get(page, site, "/candidatures")
    assert [c["id"] for c in mine["items"]] == [cid], "a double click on « Oui, candidater » makes one candidature"
    await expect(page.locator(".ec-piece")).to_have_count(len(LIBELLES))
    await expect(page.locator("#regles")).to_contain_text("un seul fichier de type PDF, JPG ou PNG")
    await expect(page.locator("#regles")).to_contain_text("ne doit pas dépasser 5 Mo")
    await j.step("candidature-creee")
    await page.goto(site.url("/dossier"))
    await expect(page.get_by_text("Informations personnelles verrouillées")).to_be_visible()
    await j.step("dossier-verrouille")
    await page.goto(site.url("/dossier/informations-personnelles"))
    await expect(page.locator("#verrou")).to_be_visible()
    # The saved commune de naissance by its name, not its INSEE code.
    await expect(page.locator("select[name=commune_naissance] option:checked")).to_contain_text("Toulouse")
    await j.step("informations-personnelles-verrouillees")
    await page.goto(site.url(f"/candidatures/{cid}"))

    # The pièces: one refused for its type (the reason shown next to it), then each one.
    pdf_that_is_not = b"Ceci n'est pas un PDF, seulement du texte.\n" * 20
    await upload(page, "IDENTITE", "CNI.pdf", "application/pdf", pdf_that_is_not, js)
    refusal = piece(page, "IDENTITE").locator(".ec-piece__erreur, [data-upload-error]:not(.ec-hidden)")
    await expect(refusal).to_be_visible()
    assert "PDF" in await refusal.inner_text()
    await j.step("piece-refusee-type")
    await wait_statut(page, "IDENTITE", "En attente")
    documents = files()
    for index, (code, (name, mime, data)) in enumerate(documents.items()):
        if js and code == "CV":
            await drop_file(page, code, name, mime, data)
        elif js and code == "SCOLARITE":
            await upload_with_visible_progress(page, code, name, mime, data)
        else:
            await upload(page, code, name, mime, data, js)
        await wait_statut(page, code, "Transmise")
        await expect(piece(page, code).get_by_role("link", name=name)).to_be_visible()
        if index == 0:
            await flash(page, f"Le fichier « {name} » est déposé.")
            await j.step("piece-deposee")
    for code in CONDITIONNELLES:
        await piece(page, code).get_by_role("button", name=re.compile("^Non concerné par cette pièce")).click()
        await wait_statut(page, code, "Non concerné")
    await j.step("pieces-completes")

    # Étape 4 — transmit: green, confirmed, double-clicked: one transmission, one acknowledgement.
    await transmit(page, j, js, "transmettre-confirmation", double=True)
    await j.step("candidature-transmise")
    await mail_to(smtp_sink, account["email"], "Accusé de réception")
    await expect(page.locator(".ec-piece input[type=file]")).to_have_count(0)

    # Étape 5 — the gestionnaire refuses the CV (through the API); the candidate sees it and replaces it.
    platform = site.platform
    root = await admin(platform)
    gest = await invited(platform, smtp_sink, root, ["gestionnaire"], centres=["DAEU"])
    prof = await invited(platform, smtp_sink, root, ["commission"], commissions=["COM-DAEU"])
    slots = {p["code"]: p["slot_id"] for p in (await api_get(page, site, f"/candidatures/{cid}/pieces"))["items"]}
    comment = "CV illisible : merci de déposer un PDF lisible."
    status, body, _ = await gest.call(
        "POST",
        f"/api/v1/staff/candidatures/{cid}/pieces/{slots['CV']}/examen",
        {"decision": "refusee", "commentaire": comment},
    )
    assert status == 200, body
    await reload_until(page, page.locator("#statut"), "Incomplet")
    await expect(piece(page, "CV").get_by_text(comment)).to_be_visible()
    await wait_statut(page, "CV", "Refusée")
    suivi = page.locator(".ec-history")  # "Suivi de la candidature": the refusal, with its comment
    await expect(suivi.locator("li").filter(has_text="Pièce refusée")).to_contain_text(comment)
    await expect(suivi).to_contain_text("Statut du dossier : Incomplet")
    await j.step("piece-refusee-par-la-scolarite")
    name, mime, data = "CV-lisible.pdf", "application/pdf", corpus.legitimate()["pypdf-reecrit.pdf"]
    await upload(page, "CV", name, mime, data, js)
    await wait_statut(page, "CV", "Transmise")
    await j.step("piece-remplacee")
    await transmit(page, j, js, "transmettre-a-nouveau")

    # The gestionnaire validates every piece and sets "complet"; the commission decides; the decision is validated.
    for code in documents:
        status, body, _ = await gest.call(
            "POST", f"/api/v1/staff/candidatures/{cid}/pieces/{slots[code]}/examen", {"decision": "validee"}
        )
        assert status == 200, (code, body)

    async def proposed() -> bool:
        return (await gest.call("GET", f"/api/v1/staff/candidatures/{cid}"))[1]["complet_propose"]

    await eventually(proposed, timeout=60, message="complet proposed once every piece is validated")
    status, body, _ = await gest.call(
        "POST", "/api/v1/staff/candidatures/statut", {"candidature_ids": [cid], "statut": "complet"}
    )
    assert status == 200, body
    status, body, _ = await prof.call("POST", f"/api/v1/staff/candidatures/{cid}/decision", {"kind": "favorable"})
    assert status == 201, body
    status, body, _ = await gest.call(
        "POST", "/api/v1/staff/candidatures/decisions/validation", {"candidature_ids": [cid]}
    )
    assert status == 200, body
    await mail_to(smtp_sink, account["email"], "Avis favorable")

    # Étape 6 — the decision, its deadline written the French way, "Confirmation candidature".
    await reload_until(page, page.locator("#decision"), "Favorable")
    decision = page.locator("#section-decision")
    await expect(decision).to_contain_text("Favorable")
    assert DEADLINE.search(await decision.inner_text()), await decision.inner_text()
    await j.step("decision-favorable")
    async with page.expect_download() as download:
        await decision.get_by_role("link", name="Télécharger ma lettre d'admission").click()
    letter = await (await download.value).path()
    letter_text = "\n".join(p.extract_text() for p in PdfReader(str(letter)).pages)
    assert "DAEU option A" in letter_text and account["numero"] in letter_text, letter_text[:500]
    await decision.get_by_role("button", name="Confirmation candidature").click()
    await page.wait_for_url(re.compile(r"/candidatures/[0-9a-f-]{36}$"))
    await flash(page, "Vous avez confirmé votre candidature.")
    await expect(decision).to_contain_text("Vous avez confirmé votre candidature le")
    await j.step("candidature-confirmee")
    await mail_to(smtp_sink, account["email"], "Confirmation de votre candidature")
    await eventually(lambda: platform_quiescent(site.platform, account["email"]), message="every mail sent")
    acknowledgements = [
        m for m in smtp_sink.messages() if m["To"] == account["email"] and "Accusé de réception" in m["Subject"]
    ]
    assert len(acknowledgements) == 2, "two transmissions (the first double-clicked), two acknowledgements"

    # "À tout moment vous pouvez télécharger en PDF une copie de votre candidature."
    async with page.expect_download() as download:
        await page.get_by_role("link", name="Télécharger mon dossier").click()
    pdf = await (await download.value).path()
    assert open(pdf, "rb").read(5) == b"%PDF-"

    # My candidatures, my account, and the same pages at 360 px wide.
    await page.goto(site.url("/candidatures"))
    await expect(page.get_by_role("link", name="DAEU option A")).to_be_visible()
    await j.step("mes-candidatures")
    await page.goto(site.url("/compte"))
    await expect(page.get_by_text(account["numero"])).to_be_visible()
    await j.step("mon-compte")
    mobile = await browser_page(js=js, width=360, height=740, state=await page.context.storage_state())
    j.watch(mobile)
    for path, name in (
        ("/", "accueil"),
        ("/dossier", "dossier"),
        ("/dossier/informations-personnelles", "informations"),
        ("/offre", "offre"),
        ("/candidatures", "candidatures"),
        (f"/candidatures/{cid}", "candidature"),
    ):
        await mobile.goto(site.url(path))
        await j.step(f"360px-{name}", mobile)
        width = await mobile.evaluate("document.documentElement.scrollWidth")
        wide = await mobile.evaluate(
            "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 361)"
            ".slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"
        )
        assert width <= 360, f"{path} is {width} px wide at 360 px: {wide}"
        # A card of a list draws no number outside its border (at 360 px it fell off the screen's edge).
        markers = await mobile.evaluate(
            "[...document.querySelectorAll('.ec-pieces > li, .ec-rubriques > li')]"
            ".map(li => getComputedStyle(li, '::marker').content).filter(c => c !== 'none')"
        )
        assert markers == [], f"{path}: list cards drawing a marker {markers}"
        if path.startswith("/dossier"):
            await dossier_menu_at_360(mobile, j, js, name)
        if name == "candidatures":  # each candidature a card, not six columns of a few letters each
            cells = await mobile.evaluate(
                "[...document.querySelectorAll('main td')].map(td => Math.round(td.getBoundingClientRect().width))"
            )
            assert cells and min(cells) >= 250, f"cells of « Mes candidatures » at 360 px: {cells}"
            # The column names are in each card: their header row takes no room above the cards, and
            # the caption (the page's title already) is for screen readers only.
            header = await mobile.evaluate(
                "Math.round(document.querySelector('main thead').getBoundingClientRect().height)"
            )
            assert header <= 1, f"the header row takes {header} px above the cards at 360 px"
            await expect(mobile.get_by_role("table", name="Mes candidatures")).to_have_count(1)
            caption = await mobile.evaluate("document.querySelector('main caption').getBoundingClientRect().height")
            assert caption <= 1, f"the caption takes {caption} px"
    await header_menu_at_360(mobile, j, js)
    j.assert_no_script_error()


async def header_menu_at_360(page: Page, j, js: bool) -> None:
    """On a phone the header's links and the navigation are in the DSFR's menu dialog, behind its
    « Menu » button; it opens over the page and closes with « Fermer » or Escape; the skip link
    « Menu » opens it too, the focus on the navigation. Without JavaScript, no button: they are
    listed in the page."""
    header = page.locator("header")
    button = header.get_by_role("button", name="Menu", exact=True)
    navigation = page.get_by_role("navigation", name="Menu principal")
    if not js:
        await expect(button).to_be_hidden()
        await expect(navigation.get_by_role("link", name="Mes candidatures")).to_be_visible()
        await expect(header.get_by_role("button", name="Déconnexion")).to_be_visible()
        return
    await expect(navigation.get_by_role("link", name="Mes candidatures")).to_be_hidden()
    await expect(header.get_by_role("button", name="Déconnexion")).to_be_hidden()
    await button.click()
    dialog = page.get_by_role("dialog")
    await expect(dialog.get_by_role("link", name="Mes candidatures")).to_be_visible()
    await expect(dialog.get_by_role("button", name="Déconnexion")).to_be_visible()
    await j.step("360px-menu-ouvert", page)
    await dialog.get_by_role("button", name="Fermer").click()
    await expect(dialog).to_be_hidden()
    # The skip link « Menu », taken with the keyboard, opens the dialog on the navigation.
    await page.locator(".fr-skiplinks").get_by_role("link", name="Menu").focus()
    await page.keyboard.press("Enter")
    await expect(dialog).to_be_visible()
    await expect(page.locator("#navigation a").first).to_be_focused()
    await j.step("360px-menu-lien-d-evitement", page)
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    # The focus back where it was, on the skip link, whose bar covers the header's top until the
    # focus moves on.
    await expect(page.locator(".fr-skiplinks").get_by_role("link", name="Menu")).to_be_focused()
    await page.keyboard.press("Tab")
    await button.click()
    await dialog.get_by_role("link", name="Mes candidatures").click()
    await page.wait_for_url(re.compile(r"/candidatures$"))


async def dossier_menu_at_360(page: Page, j, js: bool, name: str) -> None:
    """On a phone the dossier's side menu is folded under its button (« Mon dossier : <rubrique> »)
    and the page's title shows on the first screen; the button unfolds it. Without JavaScript, no
    button: the menu is listed."""
    menu = page.get_by_role("navigation", name="Mon dossier")
    button = menu.get_by_role("button", name=re.compile("^Mon dossier : "))
    rubrique = menu.get_by_role("link", name="Baccalauréat")
    title = await page.locator("main h1").bounding_box()
    if not js:
        await expect(button).to_be_hidden()
        await expect(rubrique).to_be_visible()
        return
    await expect(button).to_have_attribute("aria-expanded", "false")
    await expect(rubrique).to_be_hidden()
    assert title is not None and title["y"] + title["height"] <= 740, f"the title is below the first screen: {title}"
    await button.click()
    await expect(button).to_have_attribute("aria-expanded", "true")
    await expect(rubrique).to_be_visible()
    await j.step(f"360px-{name}-menu-deplie", page)


async def drop_file(page: Page, code: str, name: str, mime: str, data: bytes) -> None:
    """Drag and drop onto the piece's drop zone (a DataTransfer holding the file, as a file manager gives it)."""
    zone = piece(page, code).locator("[data-dropzone]")
    await zone.evaluate(
        """(zone, [b64, name, mime]) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, {type: mime}));
            for (const type of ['dragenter', 'dragover', 'drop'])
                zone.dispatchEvent(new DragEvent(type, {dataTransfer: transfer, bubbles: true, cancelable: true}));
        }""",
        [base64.b64encode(data).decode(), name, mime],
    )


async def upload_with_visible_progress(page: Page, code: str, name: str, mime: str, data: bytes) -> None:
    """The progress bar shows while the file is on its way (the request is held until it is seen)."""
    seen, passed = asyncio.Event(), asyncio.Event()

    async def hold(route) -> None:
        await seen.wait()
        await route.continue_()
        passed.set()

    await page.route("**/pieces/*/fichier", hold)
    await upload(page, code, name, mime, data, True)
    await expect(piece(page, code).locator("progress")).to_be_visible()
    seen.set()
    await passed.wait()
    await page.unroute("**/pieces/*/fichier", hold)
