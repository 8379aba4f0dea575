"""The espace gestion in Chromium: a gestionnaire's day, from the mailed set-up link to the
admission letter, every page checked by axe-core and kept as a screenshot
(`test-artifacts/browser/<test>/`).

The candidate's side is prepared through the API (account, dossier, candidature, pièces,
transmission), as the espace candidat's browser tests already show it page by page.
"""

from __future__ import annotations

import re
import uuid
from datetime import date

import pyotp
import pytest
from playwright.async_api import Page, expect

from services.candidatures.seed import seed_demo
from tests.conftest import eventually
from tests.e2e.test_accounts import activated_account, api, login, mail_to, text_of, token_in
from tests.e2e.test_accounts_staff import PASSWORD, admin, invited
from tests.e2e.test_campaign_retention import campaign_in_service
from tests.e2e.test_guide_journey import upload
from tests.e2e.test_journey_defects import apply, candidate, own_formation, staff_decides
from tests.unit.dossiers.samples import adresse, baccalaureat, infos_perso

from .helpers import LIBELLES, files, flash, staff_login, staff_opens

# A gestionnaire's day is some fifty seconds of pages on a quiet machine, twice that on a busy one.
pytestmark = pytest.mark.timeout(600)

CONDITIONNELLES = ("SED", "MOINS-24", "FICHE-REGION", "RSA", "AAH")


class Authenticator:
    """The staff member's authenticator app: the secret read from the page, codes on the platform's clock."""

    def __init__(self, platform, secret: str) -> None:
        self.platform, self.totp, self.step = platform, pyotp.TOTP(secret), 0

    def code(self) -> str:
        """A code of a time step no login used yet (a TOTP code is accepted once)."""
        step = int(self.platform.clock.now().timestamp()) // 30
        if step <= self.step:
            self.platform.clock.advance(seconds=30 * (self.step - step + 1))
            step = int(self.platform.clock.now().timestamp()) // 30
        self.step = step
        return self.totp.at(step * 30)


async def transmitted_candidature(platform, smtp_sink) -> dict:
    """A candidate of DAEU option A with every piece deposited and the candidature transmitted."""
    account = await activated_account(platform, smtp_sink, nom="Test2", prenom="Camille")
    token = await login(platform, account["numero_dossier"])
    for slug, content in (
        ("informations-personnelles", infos_perso(nom_naissance="Test2", prenoms="Camille")),
        ("adresse", adresse()),
        ("baccalaureat", baccalaureat()),
    ):
        status, body, _ = await api(
            platform, "PUT", f"/api/v1/dossier/sections/{slug}", content, token=token, headers={"If-Match": '"0"'}
        )
        assert status == 200, (slug, body)
    status, candidature, _ = await api(
        platform, "POST", "/api/v1/candidatures", {"formation_code": "DAEU-A"}, token=token
    )
    assert status == 201, candidature
    cid = candidature["id"]

    async def slots() -> dict[str, dict] | None:
        status, listed, _ = await api(platform, "GET", f"/api/v1/candidatures/{cid}/pieces", token=token)
        return {p["code"]: p for p in listed["items"]} if status == 200 and listed["items"] else None

    found = await eventually(slots, timeout=90, message="the piece slots are open")
    for code, (name, _mime, data) in files().items():
        status, body = await upload(
            platform, token, f"/api/v1/candidatures/{cid}/pieces/{found[code]['slot_id']}/fichier", name, data
        )
        assert status == 201, (code, body)
    for code in CONDITIONNELLES:
        status, body, _ = await api(
            platform,
            "PUT",
            f"/api/v1/candidatures/{cid}/pieces/{found[code]['slot_id']}/concerne",
            {"concerne": False},
            token=token,
        )
        assert status == 200, body
    status, view, _ = await api(platform, "POST", f"/api/v1/candidatures/{cid}/transmission", token=token)
    assert status == 200 and view["statut"] == "receptionne", view
    return {**account, "token": token, "id": cid, "slots": found}


def review_block(page: Page, code: str):
    return page.locator(".ec-review-piece", has=page.locator("h3", has_text=LIBELLES[code]))


async def test_a_gestionnaire_s_day_in_chromium(site, browser_page, journey, smtp_sink):
    platform = site.platform
    candidate = await transmitted_candidature(platform, smtp_sink)
    cid = candidate["id"]
    boss = await admin(platform)
    email = f"gestion.daeu.{cid[:8]}@example.org"
    status, body, _ = await boss.call(
        "POST",
        "/api/v1/staff/accounts",
        {"email": email, "nom": "Martin", "prenom": "Louise", "roles": ["gestionnaire"], "centres": ["DAEU"]},
    )
    assert status == 201, body
    mail = await mail_to(smtp_sink, email, "activez votre compte de gestion")
    link = re.search(r"https?://\S+/personnel/installation\?jeton=[A-Za-z0-9_-]+", text_of(mail)).group(0)
    assert link.startswith(site.base) and token_in(mail) in link

    page = await browser_page()
    j = journey(page)

    # Set-up from the mailed link: the password, the QR code and its key, the recovery codes once.
    await page.goto(link)
    await j.step("installation-mot-de-passe")
    await page.locator("#password").fill(PASSWORD)
    await page.locator("#password_confirmation").fill(PASSWORD)
    await page.get_by_role("button", name="Enregistrer le mot de passe").click()
    await expect(page.locator("img.ec-qr")).to_be_visible()
    assert await page.locator("img.ec-qr").evaluate("img => img.complete && img.naturalWidth > 100")
    await j.step("installation-qr-code")
    app = Authenticator(platform, await page.locator("#totp-secret").get_attribute("data-secret"))
    await page.locator("#code").fill("000000")
    await page.get_by_role("button", name="Vérifier et activer mon compte").click()
    await expect(page.locator("#code-desc-error")).not_to_be_empty()
    await expect(page.locator("img.ec-qr")).to_be_visible()  # a wrong code: the same key, try again
    await j.step("installation-code-refuse")
    await page.locator("#code").fill(app.code())
    await page.get_by_role("button", name="Vérifier et activer mon compte").click()
    await expect(page.locator("#codes-secours li")).to_have_count(10)
    app.step = int(platform.clock.now().timestamp()) // 30  # the set-up used this time step's code
    recovery = [c.strip() for c in await page.locator("#codes-secours code").all_inner_texts()]
    await j.step("installation-codes-de-secours")

    # Login with password and TOTP: the dashboard lists the formations of the centre.
    await page.get_by_role("link", name="J'ai conservé mes codes : me connecter").click()
    await staff_login(page, email, "123456")
    await expect(page.locator(".fr-alert--error")).to_be_visible()
    await j.step("connexion-code-faux")
    await staff_login(page, email, app.code(), enter=True)
    await page.wait_for_url(re.compile(r"/personnel$"))
    await expect(page.get_by_text("Louise Martin").first).to_be_visible()
    await expect(page.locator(".fr-tag")).to_have_text(["Gestionnaire"])  # her role by its name
    await j.step("tableau-de-bord")

    # The formation's list, filtered to « Réceptionné », with its counts per statut.
    await page.get_by_role("link", name="DAEU option A", exact=True).click()
    await page.wait_for_url(re.compile(r"/personnel/candidatures\?formation_code=DAEU-A$"))
    # The suite's tests share one database: the counts are the API's, this candidature among them.
    status, counts, _ = await boss.call("GET", "/api/v1/staff/candidatures/comptes?formation_code=DAEU-A")
    assert status == 200 and counts["counts"]["receptionne"] >= 1, counts
    await expect(page.locator("[data-count=receptionne]")).to_have_text(str(counts["counts"]["receptionne"]))
    await page.locator("#statut").select_option("receptionne")
    await page.get_by_role("button", name="Filtrer").click()
    await page.wait_for_url(re.compile(r"statut=receptionne"))
    await expect(page.locator("tbody tr")).to_have_count(min(counts["counts"]["receptionne"], 50))
    await j.step("liste-receptionne")
    await page.get_by_role("link", name=candidate["numero_dossier"]).click()
    await page.wait_for_url(re.compile(rf"/personnel/candidatures/{cid}\?"))

    # Each piece in the page: images drawn, PDFs framed; the keyboard shortcuts are listed.
    await expect(page.locator("#raccourcis")).to_contain_text("candidature suivante")
    image = review_block(page, "IDENTITE").locator("img")
    await image.scroll_into_view_if_needed()
    await expect(image).to_be_visible()
    await eventually(
        lambda: image.evaluate("img => img.complete && img.naturalWidth > 0"), message="the image is drawn"
    )
    frame = review_block(page, "CV").locator("iframe")
    await expect(frame).to_have_count(1)
    await frame.scroll_into_view_if_needed()
    framed = await page.request.get(site.url(await frame.get_attribute("src")))
    assert framed.status == 200 and framed.headers["content-type"] == "application/pdf"
    assert framed.headers["x-frame-options"] == "SAMEORIGIN" and framed.headers["content-disposition"] == "inline"
    await j.step("candidature-pieces")

    # Refuse the CV: a comment is required, and the candidate gets it by mail.
    cv = review_block(page, "CV")
    await cv.get_by_role("button", name="Refuser la pièce").click()  # the browser asks for the comment first
    assert not await cv.locator("textarea").evaluate("t => t.validity.valid")
    await cv.locator("textarea").fill("CV illisible : merci de déposer un PDF lisible.")
    await cv.get_by_role("button", name="Refuser la pièce").click()
    await flash(page, "Pièce refusée : le candidat reçoit votre commentaire par courriel.")
    await expect(review_block(page, "CV").locator(".ec-piece-statut")).to_have_text("Refusée")
    # The page shown after the refusal already says what it changed (no reload: the DOM as sent).
    assert (await page.locator("#statut").text_content() or "").strip() == "Incomplet"
    await j.step("piece-refusee")
    refused = await mail_to(smtp_sink, candidate["email"], "Pièce refusée")
    assert "CV illisible : merci de déposer un PDF lisible." in text_of(refused)

    # The candidate replaces the CV and transmits again (through the API).
    token, slot = candidate["token"], candidate["slots"]["CV"]["slot_id"]

    async def incomplet() -> bool:
        return (await api(platform, "GET", f"/api/v1/candidatures/{cid}", token=token))[1]["statut"] == "incomplet"

    await eventually(incomplet, message="the candidature is incomplet")
    status, _, _ = await api(platform, "DELETE", f"/api/v1/candidatures/{cid}/pieces/{slot}/fichier", token=token)
    assert status in (200, 204)
    name, _mime, data = files()["CV"]
    status, body = await upload(platform, token, f"/api/v1/candidatures/{cid}/pieces/{slot}/fichier", name, data)
    assert status == 201, body
    status, body, _ = await api(platform, "POST", f"/api/v1/candidatures/{cid}/transmission", token=token)
    assert status == 200, body

    # Validate every piece, from the keyboard for the first one: v on the focused piece.
    await page.reload()
    await page.locator(".ec-review-piece").first.focus()
    await page.keyboard.press("v")
    await flash(page, "Pièce validée.")
    for code in files():
        block = review_block(page, code)
        if await block.locator(".ec-piece-statut").inner_text() != "Validée":
            await block.get_by_role("button", name="Valider la pièce").click()
            await flash(page, "Pièce validée.")
    for code in files():
        await expect(review_block(page, code).locator(".ec-piece-statut")).to_have_text("Validée")
    await j.step("pieces-validees")

    async def proposed() -> bool:
        await page.reload()
        return await page.get_by_text("Toutes les pièces sont validées").count() > 0

    await eventually(proposed, message="complet proposed once every piece is validated")
    await page.locator("#nouveau_statut").select_option("complet")
    await page.get_by_role("button", name="Changer le statut").click()
    await expect(page.locator("p#statut")).to_have_text("Complet")
    await j.step("dossier-complet")

    # A favourable decision, then its validation: the admission letter is there.
    await page.locator("label[for=kind-favorable]").click()
    await page.get_by_role("button", name="Saisir la décision").click()
    await flash(page, "Décision saisie")
    await expect(page.locator("#decision-a-valider")).to_contain_text("Favorable")
    await j.step("decision-saisie")
    await page.get_by_role("button", name="Valider la décision").click()
    await flash(page, "Décision validée pour 1 candidature : le candidat est prévenu.")
    await expect(page.locator("#decision-actuelle")).to_contain_text("Favorable")
    await mail_to(smtp_sink, candidate["email"], "Avis favorable")
    await expect(page.locator("#lettre")).to_be_visible()

    async def letter() -> bool:
        reply = await page.request.get(site.url(f"/personnel/candidatures/{cid}/lettre"))
        return reply.status == 200 and (await reply.body()).startswith(b"%PDF")

    await eventually(letter, message="the admission letter is generated")
    # The history in words: each action by its name, codes by their names.
    history = history_of(page)
    await expect(history.filter(has_text="Candidature créée")).to_have_count(1)
    await expect(history.filter(has_text=re.compile(r"Pièce refusée.*Commentaire\s:\sCV illisible"))).to_have_count(1)
    await expect(history.filter(has_text=re.compile(r"Avant\s:\sRéceptionné\s;\sAprès\s:\sIncomplet"))).to_have_count(1)
    await expect(history.filter(has_text=re.compile(r"Décision validée.*Décision\s:\sFavorable"))).to_have_count(1)
    await expect(
        history.filter(has_text=re.compile(r"\b(created|statut|decision_validee|receptionne)\b"))
    ).to_have_count(0)
    await j.step("decision-validee-lettre")

    # Logout; the page asked for afterwards comes back after a login with a recovery code.
    await page.get_by_role("button", name="Déconnexion").click()
    await page.wait_for_url(re.compile(r"/personnel/connexion$"))
    await page.goto(site.url(f"/personnel/candidatures/{cid}"))
    await page.wait_for_url(re.compile(r"/personnel/connexion\?suite="))
    await j.step("connexion-requise")
    await staff_login(page, email, recovery[0])
    await page.wait_for_url(re.compile(rf"/personnel/candidatures/{cid}$"))
    await expect(page.locator("#decision-actuelle")).to_contain_text("Favorable")
    # Headless Chromium has no PDF viewer: a framed PDF may end as a failed load, never as a script error.
    j.console_errors = [e for e in j.console_errors if e != "Failed to load resource: net::ERR_FAILED"]
    j.assert_no_script_error()


async def test_each_role_is_offered_only_what_the_api_allows_and_a_forged_post_is_refused(site, smtp_sink):
    platform = site.platform
    candidate = await transmitted_candidature(platform, smtp_sink)
    cid, slot = candidate["id"], candidate["slots"]["CV"]["slot_id"]
    boss = await admin(platform)
    csrf = "c" * 32

    async def as_(roles: list[str], **scopes) -> dict[str, str]:
        staff = await invited(platform, smtp_sink, boss, roles, **scopes)
        return {"ecandidat_session": staff.token, "ecandidat_csrf": csrf}

    async def get(path: str, jar: dict) -> tuple[int, str]:
        async with platform.http.get(site.url(path), cookies=jar, allow_redirects=False) as resp:
            return resp.status, await resp.text()

    actions = (
        "Valider la pièce",
        "Refuser la pièce",
        "Changer le statut",
        "Saisir la décision",
        "Ajouter la note",
        'name="ids"',
    )
    gestionnaire = await as_(["gestionnaire"], centres=["DAEU"])
    status, body = await get(f"/personnel/candidatures/{cid}", gestionnaire)
    assert status == 200 and all(a in body for a in actions[:3] + ("Ajouter la note",)), body[:2000]
    status, body = await get("/personnel/candidatures?formation_code=DAEU-A", gestionnaire)
    assert status == 200 and 'name="ids"' in body and "Changer le statut" in body

    # Read-only: the pages, without a single action; a forged post is refused by the API, nothing changes.
    lecture = await as_(["gestionnaire_lecture"], centres=["DAEU"])
    status, body = await get(f"/personnel/candidatures/{cid}", lecture)
    assert status == 200 and candidate["numero_dossier"] in body
    assert not [a for a in actions if a in body]
    status, body = await get("/personnel/candidatures?formation_code=DAEU-A", lecture)
    assert status == 200 and candidate["numero_dossier"] in body and not [a for a in actions if a in body]
    form = {"csrf": csrf, "examen": "refusee", "commentaire": "Forgé"}
    async with platform.http.post(
        site.url(f"/personnel/candidatures/{cid}/pieces/{slot}/examen"),
        data=form,
        cookies=lecture,
        allow_redirects=False,
    ) as resp:
        assert resp.status == 303 and resp.cookies["ecandidat_message"].value.startswith("action_refusee")
    status, pieces, _ = await api(platform, "GET", f"/api/v1/candidatures/{cid}/pieces", token=candidate["token"])
    assert {p["statut"] for p in pieces["items"] if p["slot_id"] == slot} == {"transmise"}
    async with platform.http.post(
        site.url("/personnel/candidatures/lot"),
        allow_redirects=False,
        cookies=lecture,
        data={"csrf": csrf, "formation_code": "DAEU-A", "action": "statut", "statut_lot": "complet", "ids": cid},
    ) as resp:
        assert resp.status == 303 and resp.cookies["ecandidat_message"].value.startswith("action_refusee")

    # A commission member: a réceptionné candidature is not theirs yet (not listed, not shown).
    commission = await as_(["commission"], commissions=["COM-DAEU"])
    status, body = await get("/personnel/candidatures?formation_code=DAEU-A", commission)
    assert status == 200 and candidate["numero_dossier"] not in body
    status, body = await get(f"/personnel/candidatures/{cid}", commission)
    assert status == 403 and "Valider" not in body

    # A gestionnaire of another centre: nothing of DAEU, the dashboard lists only their centre.
    ailleurs = await as_(["gestionnaire"], centres=["FC-DIPL"])
    status, body = await get(f"/personnel/candidatures/{cid}", ailleurs)
    assert status == 403
    status, body = await get("/personnel/candidatures?formation_code=DAEU-A", ailleurs)
    assert status == 403 and candidate["numero_dossier"] not in body
    status, body = await get("/personnel", ailleurs)
    assert status == 200 and "DAEU option A" not in body

    # Staff accounts: the administrators read them and invite; the others have no such page.
    assert (await get("/personnel/administration/comptes", lecture))[0] == 403
    assert "Comptes du personnel" not in (await get("/personnel", lecture))[1]
    root = {"ecandidat_session": boss.token, "ecandidat_csrf": csrf}
    status, body = await get("/personnel/administration/comptes", root)
    assert status == 200 and "Inviter un membre du personnel" in body and "gestionnaire_lecture" in body
    email = f"invite.{cid[:8]}@example.org"
    form = {
        "csrf": csrf,
        "email": email,
        "nom": "Durand",
        "prenom": "Paul",
        "roles": "commission",
        "commissions": "COM-DAEU",
    }
    async with platform.http.post(
        site.url("/personnel/administration/comptes"), data=form, cookies=root, allow_redirects=False
    ) as resp:
        assert resp.status == 303 and resp.cookies["ecandidat_message"].value.startswith("compte_invite")
    assert "/personnel/installation?jeton=" in text_of(
        await mail_to(smtp_sink, email, "activez votre compte de gestion")
    )
    async with platform.http.post(
        site.url("/personnel/administration/comptes"),
        data={**form, "roles": "commission", "commissions": ""},
        cookies=root,
        allow_redirects=False,
    ) as resp:
        assert resp.status == 422 and "Le formulaire contient des erreurs" in await resp.text()

    # The mail log, failures first: administrators only.
    status, body = await get(f"/personnel/administration/courriels?destinataire={candidate['email']}", root)
    assert status == 200 and "Envois en échec" in body and "Accusé de réception" in body
    assert body.index("Envois en échec") < body.index("Derniers envois")
    assert (await get("/personnel/administration/courriels", gestionnaire))[0] == 403


async def applied(platform, smtp_sink) -> str:
    """A candidate who applied to DAEU option A (candidature en attente)."""
    account = await activated_account(platform, smtp_sink)
    token = await login(platform, account["numero_dossier"])
    for slug, content in (
        ("informations-personnelles", infos_perso()),
        ("adresse", adresse()),
        ("baccalaureat", baccalaureat()),
    ):
        status, body, _ = await api(
            platform, "PUT", f"/api/v1/dossier/sections/{slug}", content, token=token, headers={"If-Match": '"0"'}
        )
        assert status == 200, body
    status, candidature, _ = await api(
        platform, "POST", "/api/v1/candidatures", {"formation_code": "DAEU-A"}, token=token
    )
    assert status == 201, candidature
    return account["numero_dossier"]


async def test_bulk_statut_on_twenty_candidatures_then_their_xlsx_export(site, browser_page, journey, smtp_sink):
    from openpyxl import load_workbook

    platform = site.platform
    numeros = {await applied(platform, smtp_sink) for _ in range(20)}
    boss = await admin(platform)
    gestionnaire = await invited(platform, smtp_sink, boss, ["gestionnaire"], centres=["DAEU"])
    page = await browser_page()
    j = journey(page)
    await staff_opens(
        page, site.url("/personnel/candidatures?formation_code=DAEU-A&statut=en_attente&limit=100"), gestionnaire
    )
    # The suite's other tests share the database: count what this one adds.
    before = int(await page.locator("[data-count=receptionne]").inner_text())
    # The count tags read « Réceptionné : 3 », a non-breaking space on each side of the colon.
    tag = await page.locator(".ec-counts a", has=page.locator("[data-count=receptionne]")).inner_text()
    assert tag == f"Réceptionné\u00a0:\u00a0{before}", repr(tag)
    rows = page.locator("tbody tr")
    # « Tout cocher »: every row of the page, then none.
    boxes = page.locator("input[name=ids]")
    assert await page.locator("#tout-cocher").evaluate("box => !box.closest('[hidden]')")  # shown by the script
    await page.locator("#tout-cocher").check(force=True)  # the DSFR draws the box over the input, in its label
    await expect(page.locator("input[name=ids]:checked")).to_have_count(await boxes.count())
    await j.step("liste-tout-coche")
    await page.locator("#tout-cocher").uncheck(force=True)
    await expect(page.locator("input[name=ids]:checked")).to_have_count(0)
    # Without JavaScript, a link reloads the page with every row checked.
    plain = await browser_page(js=False, state=await page.context.storage_state())
    await plain.goto(page.url)
    await expect(plain.locator("#tout-cocher")).to_be_hidden()
    await plain.get_by_role("link", name="Tout cocher (les lignes de cette page)").click()
    await plain.wait_for_url(re.compile(r"&tout=1$"))
    await expect(plain.locator("input[name=ids]:checked")).to_have_count(await plain.locator("input[name=ids]").count())
    await j.step("liste-tout-coche-sans-javascript", page=plain)
    await plain.get_by_role("link", name="Tout décocher").click()
    await expect(plain.locator("input[name=ids]:checked")).to_have_count(0)
    for index in range(await rows.count()):
        row = rows.nth(index)
        if await row.locator("a").inner_text() in numeros:
            await row.locator("input[name=ids]").check(
                force=True
            )  # the DSFR draws the box over the input, in its label
    await expect(page.locator("input[name=ids]:checked")).to_have_count(20)
    await page.locator("#statut_lot").select_option("receptionne")
    # Each action on the checked rows has its button beside its choice, their bottoms on one line.
    offsets = await page.locator(".ec-action").evaluate_all(
        """actions => actions.map(action => action.querySelector('button').getBoundingClientRect().bottom
                                         - action.querySelector('select').getBoundingClientRect().bottom)"""
    )
    assert len(offsets) == 2 and all(abs(offset) <= 2 for offset in offsets), offsets
    await j.step("liste-vingt-cochees")
    await page.get_by_role("button", name="Changer le statut").click()
    await flash(page, "Statut du dossier changé pour 20 candidatures.")
    await expect(page.locator("[data-count=receptionne]")).to_have_text(str(before + 20))
    await j.step("liste-statut-change")
    # The same statut again: nothing changes, and the page says so rather than « 0 candidature ».
    await page.goto(site.url("/personnel/candidatures?formation_code=DAEU-A&statut=receptionne&limit=100"))
    for index in range(await rows.count()):
        row = rows.nth(index)
        if await row.locator("a").inner_text() in numeros:
            await row.locator("input[name=ids]").check(force=True)
    await expect(page.locator("input[name=ids]:checked")).to_have_count(20)
    await page.locator("#statut_lot").select_option("receptionne")
    await page.get_by_role("button", name="Changer le statut").click()
    await flash(page, "Aucune des candidatures cochées n'a changé : l'action ne les concernait pas.")
    await expect(page.locator("[data-count=receptionne]")).to_have_text(str(before + 20))
    await j.step("liste-rien-n-a-change")

    # « Passer au suivant »: the link, then the n key, go down the list it was opened from.
    await page.goto(site.url("/personnel/candidatures?formation_code=DAEU-A&statut=receptionne&sort=nom"))
    listed = [await link.inner_text() for link in await page.locator("tbody a").all()]
    await page.locator("tbody a").first.click()
    await expect(page.locator("h1")).to_contain_text(listed[0])
    await page.get_by_role("link", name="Passer au suivant").click()
    await expect(page.locator("h1")).to_contain_text(listed[1])
    await j.step("passer-au-suivant")
    await page.keyboard.press("n")
    await expect(page.locator("h1")).to_contain_text(listed[2])
    await page.goto(site.url("/personnel/candidatures?formation_code=DAEU-A&statut=receptionne"))
    async with page.expect_download() as downloading:
        await page.get_by_role("link", name="Exporter la liste (XLSX)").click()
    download = await downloading.value
    path = j.directory / "candidatures.xlsx"
    await download.save_as(path)
    sheet = load_workbook(path, read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Numéro de dossier" and len(rows) == before + 21
    assert numeros <= {row[0] for row in rows[1:]} and {row[6] for row in rows[1:]} == {"receptionne"}
    j.assert_no_script_error()


# -- étiquettes ---------------------------------------------------------------------------------


async def candidature_id(staff, numero: str) -> str:
    """The id of a candidature to DAEU option A, by its numéro de dossier, from the staff's list."""
    cursor = ""
    while True:
        status, listed, _ = await staff.call(
            "GET", f"/api/v1/staff/candidatures?formation_code=DAEU-A&limit=500{cursor}"
        )
        assert status == 200, listed
        for row in listed["items"]:
            if row["numero_dossier"] == numero:
                return row["id"]
        assert listed.get("next_cursor"), f"{numero} is not listed"
        cursor = f"&cursor={listed['next_cursor']}"


async def fits(page: Page) -> None:
    """Nothing wider than the screen: the page does not scroll sideways (a table scrolls in its box)."""
    width = await page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    wider = await page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""
    )
    assert width[0] <= width[1], f"{page.url} is {width[0]} px wide on a {width[1]} px screen: {wider}"


async def check(page: Page, code: str) -> None:
    """A box of the étiquettes' form (the DSFR draws it in its label)."""
    await page.locator(f"label[for=etiquette-{code}]").click()


async def test_etiquettes_defined_put_on_a_candidature_and_filtered_in_chromium(site, browser_page, journey, smtp_sink):
    platform = site.platform
    tagged, other = await applied(platform, smtp_sink), await applied(platform, smtp_sink)
    boss = await admin(platform)
    cid = await candidature_id(boss, tagged)

    # An administrator creates an étiquette: an empty libellé is refused beside its field, the rest kept.
    page = await browser_page()
    j = journey(page)
    await staff_opens(page, site.url("/personnel/administration/offre#etiquettes"), boss)
    seeded = page.locator(".fr-table", has=page.locator("caption", has_text="Étiquettes"))
    await expect(seeded.locator("p.fr-tag.fr-tag--orange-terre-battue")).to_have_text("À revoir")
    await expect(seeded.locator("p.fr-tag.fr-tag--green-emeraude")).to_have_text("Dossier prioritaire")
    code = f"E-{uuid.uuid4().hex[:6].upper()}"
    await page.get_by_role("link", name="Nouvelle étiquette").click()
    await page.wait_for_url(re.compile(r"/offre/etiquettes/nouveau$"))
    await page.locator("#code").fill(code)
    await page.locator("#couleur").select_option(label="Violet glycine")
    await page.locator("#ordre").fill("10")
    await page.get_by_role("button", name="Enregistrer").click()
    await expect(page.locator("#libelle-desc-error")).not_to_be_empty()
    await expect(page.locator("#code")).to_have_value(code)
    await expect(page.locator("#couleur")).to_have_value("purple-glycine")
    await expect(page.locator("#ordre")).to_have_value("10")
    await j.step("etiquette-libelle-refuse")
    await page.locator("#libelle").fill("Entretien à prévoir")
    await page.get_by_role("button", name="Enregistrer").click()
    await page.wait_for_url(re.compile(rf"/offre/etiquettes/{code}$"))
    await flash(page, f"« {code} » est créé.")
    await expect(page.locator("p.fr-tag.fr-tag--purple-glycine")).to_have_text("Entretien à prévoir")
    await j.step("etiquette-creee")
    await page.goto(site.url("/personnel/administration/offre#etiquettes"))
    row = page.get_by_role("row", name=re.compile(code))
    await expect(row.locator("p.fr-tag.fr-tag--purple-glycine")).to_have_text("Entretien à prévoir")
    await expect(row).to_contain_text("Violet glycine")
    await j.step("offre-etiquettes")
    # Another one, that an administrator archives while a gestionnaire has the candidature open.
    soon_archived = f"{code}-B"
    body = {"libelle": "Bientôt archivée", "couleur": "pink-tuile", "ordre": 11, "archivee": False}
    status, saved, _ = await boss.call("PUT", f"/api/v1/staff/offre/etiquettes/{soon_archived}", body)
    assert status == 201, saved

    # A gestionnaire puts two étiquettes on the candidature from its page.
    gestionnaire = await invited(platform, smtp_sink, boss, ["gestionnaire"], centres=["DAEU"])
    desk = await browser_page()
    j.watch(desk)
    await staff_opens(desk, site.url(f"/personnel/candidatures/{cid}"), gestionnaire)
    await expect(desk.locator(".ec-facts")).to_contain_text("Aucune étiquette")
    await expect(desk.locator("#etiquettes-choix input[type=checkbox]:checked")).to_have_count(0)
    await expect(desk.locator(f"#etiquette-{soon_archived}")).to_have_count(1)
    status, saved, _ = await boss.call(
        "PUT", f"/api/v1/staff/offre/etiquettes/{soon_archived}", {**body, "archivee": True}
    )
    assert status == 200, saved
    await check(desk, "A-REVOIR")
    await check(desk, code)
    await check(desk, soon_archived)  # archived since the page was shown: the API refuses it
    await desk.get_by_role("button", name="Enregistrer les étiquettes").click()
    await expect(desk.locator("#etiquettes-desc-error .fr-message--error")).not_to_be_empty()
    await expect(desk.locator("#etiquette-A-REVOIR")).to_be_checked()
    await expect(desk.locator(f"#etiquette-{code}")).to_be_checked()
    await expect(desk.locator(f"#etiquette-{soon_archived}")).to_have_count(0)  # no longer offered
    await expect(desk.locator(".ec-facts")).to_contain_text("Aucune étiquette")
    await j.step("etiquettes-refusees", page=desk)
    await desk.get_by_role("button", name="Enregistrer les étiquettes").click()
    await flash(desk, "Les étiquettes de la candidature sont enregistrées.")
    tags = desk.locator("#etiquettes-actuelles .fr-tag")
    await expect(tags).to_have_text(["À revoir", "Entretien à prévoir"])
    await expect(desk.locator("#etiquettes-actuelles .fr-tag--orange-terre-battue")).to_have_text("À revoir")
    await expect(desk.locator("#etiquettes-actuelles .fr-tag--purple-glycine")).to_have_text("Entretien à prévoir")
    colours = await tags.evaluate_all("tags => tags.map(t => getComputedStyle(t).backgroundColor)")
    assert len(set(colours)) == 2, colours  # each in its colour
    history = history_of(desk)
    await expect(history.filter(has_text=re.compile(r"Étiquettes\s:\sÀ revoir, Entretien à prévoir"))).to_have_count(1)
    await expect(history.filter(has_text=re.compile(r"Ajout\s:\sÀ revoir, Entretien à prévoir"))).to_have_count(1)
    await j.step("candidature-etiquettes", page=desk)
    phone = await browser_page(width=360, height=780, state=await desk.context.storage_state())
    j.watch(phone)
    await phone.goto(site.url(f"/personnel/candidatures/{cid}"))
    await expect(phone.locator("#etiquettes-actuelles .fr-tag")).to_have_text(["À revoir", "Entretien à prévoir"])
    await fits(phone)
    await j.step("candidature-etiquettes-360px", page=phone)

    # The list filtered by the new étiquette: this candidature, not the other one; its row shows its tags.
    await desk.goto(site.url("/personnel/candidatures?formation_code=DAEU-A"))
    await desk.locator("#etiquette").select_option(code)
    await desk.get_by_role("button", name="Filtrer").click()
    await desk.wait_for_url(re.compile(rf"etiquette={code}"))
    rows = desk.locator("tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first.get_by_role("link", name=tagged)).to_be_visible()
    await expect(desk.get_by_role("link", name=other)).to_have_count(0)
    await expect(rows.first.locator(".fr-tag.fr-tag--sm")).to_have_text(["À revoir", "Entretien à prévoir"])
    await expect(desk.locator("[data-count=en_attente]")).to_have_text("1")
    await j.step("liste-filtree-par-etiquette", page=desk)
    await phone.goto(desk.url)
    await expect(phone.locator("tbody tr")).to_have_count(1)
    await fits(phone)
    await j.step("liste-filtree-par-etiquette-360px", page=phone)
    await desk.goto(site.url("/personnel/candidatures?formation_code=DAEU-A&etiquette=PRIORITAIRE&limit=200"))
    await expect(desk.get_by_role("link", name=tagged)).to_have_count(0)

    # One taken off, without JavaScript: the form is posted as it is.
    plain = await browser_page(js=False, state=await desk.context.storage_state())
    await plain.goto(site.url(f"/personnel/candidatures/{cid}?formation_code=DAEU-A&etiquette={code}"))
    await plain.locator("label[for=etiquette-A-REVOIR]").click()
    await expect(plain.locator("#etiquette-A-REVOIR")).not_to_be_checked()
    await plain.get_by_role("button", name="Enregistrer les étiquettes").click()
    await flash(plain, "Les étiquettes de la candidature sont enregistrées.")
    assert f"etiquette={code}" in plain.url  # back with the list's filters, for « Passer au suivant »
    await expect(plain.locator("#etiquettes-actuelles .fr-tag")).to_have_text(["Entretien à prévoir"])
    await expect(history_of(plain).filter(has_text=re.compile(r"Retrait\s:\sÀ revoir"))).to_have_count(1)
    await j.step("etiquette-retiree-sans-javascript", page=plain)
    await desk.goto(site.url("/personnel/candidatures?formation_code=DAEU-A&etiquette=A-REVOIR&limit=200"))
    await expect(desk.get_by_role("link", name=tagged)).to_have_count(0)
    j.assert_no_script_error()


def history_of(page: Page):
    return page.locator("#titre-historique ~ .fr-table tbody tr")


async def test_the_dashboard_shows_where_each_formation_stands_and_leads_to_its_lists(
    site, browser_page, journey, smtp_sink
):
    """The espace gestion's home: each formation of one's centres with its candidatures by statut,
    its validated decisions and those to validate, confirmations, désistements and capacity, each
    count a link to the list it counts; a commission member's home counts what the commission examines."""
    platform = site.platform
    boss = await admin(platform)
    code = await own_formation(boss, platform.clock.now().date(), capacite=2)
    admitted, examined, waiting = [await candidate(platform, smtp_sink) for _ in range(3)]
    decided = (await apply(platform, admitted, code))["id"]
    to_validate = (await apply(platform, examined, code))["id"]
    await apply(platform, waiting, code)
    await staff_decides(boss, decided, "favorable")
    for path, body in (  # a decision entered, not validated yet
        ("/api/v1/staff/candidatures/statut", {"candidature_ids": [to_validate], "statut": "complet"}),
        (f"/api/v1/staff/candidatures/{to_validate}/decision", {"kind": "favorable"}),
    ):
        status, reply, _ = await boss.call("POST", path, body)
        assert status in (200, 201), reply

    page = await browser_page()
    j = journey(page)
    await staff_opens(page, site.url("/personnel"), boss)
    row = page.locator(f"#tableau-centre-FC-DIPL tr[data-formation='{code}']")
    await expect(row.get_by_role("link", name=f"DU de la liste {code}", exact=True)).to_be_visible()
    cells = row.locator("td")
    await expect(cells).to_have_count(12)
    await expect(cells.nth(1)).to_have_text("3")
    await expect(row.locator("[data-statut=en_attente]")).to_have_text(re.compile(r"^1\b"))
    await expect(row.locator("[data-statut=complet]")).to_have_text(re.compile(r"^2\b"))
    await expect(row.locator("[data-statut=receptionne]")).to_have_count(0)
    await expect(row.locator("[data-decision=favorable]")).to_have_text(re.compile(r"^Favorable\s:\s1\b"))
    await expect(row.locator("[data-decision=a_valider]")).to_have_text(re.compile(r"^1\b"))
    await expect(cells.last).to_have_text("2")
    # Its twelve columns fit a desktop's width: nothing to scroll sideways to read the capacity.
    assert await page.locator("#tableau-centre-FC-DIPL").evaluate(
        """box => [box, ...box.querySelectorAll('*')]
            .filter(e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX))
            .every(e => e.scrollWidth <= e.clientWidth + 1)"""
    )
    await j.step("tableau-de-bord")

    # A count leads to the list it counts: the decisions to validate, then the complet dossiers.
    await row.locator("[data-decision=a_valider]").click()
    await page.wait_for_url(re.compile(rf"formation_code={code}&decision=a_valider$"))
    await expect(page.locator("#decision")).to_have_value("a_valider")
    await expect(page.locator("tbody tr")).to_have_count(1)
    await expect(page.get_by_role("link", name=examined["numero_dossier"])).to_be_visible()
    await expect(page.locator("tbody tr .fr-badge--warning")).to_have_text(re.compile(r"à valider\s:\sFavorable"))
    await j.step("liste-decisions-a-valider")
    await page.go_back()
    await row.locator("[data-statut=complet]").click()
    await page.wait_for_url(re.compile(rf"formation_code={code}&statut=complet$"))
    await expect(page.locator("tbody tr")).to_have_count(2)
    await expect(page.get_by_role("link", name=admitted["numero_dossier"])).to_be_visible()
    await j.step("liste-depuis-le-tableau")

    # On a phone, each formation is a card that fits the screen.
    phone = await browser_page(width=360, height=780, state=await page.context.storage_state())
    j.watch(phone)
    await phone.goto(site.url("/personnel"))
    card = phone.locator(f"#tableau-centre-FC-DIPL tr[data-formation='{code}']")
    await expect(card.locator("[data-decision=favorable]")).to_be_visible()
    await fits(phone)
    await j.step("tableau-de-bord-360px", page=phone)

    # A member of the formation's commission: the commission's table, the complet dossiers only.
    member = await invited(platform, smtp_sink, boss, ["commission"], commissions=["COM-FC"])
    desk = await browser_page()
    j.watch(desk)
    await staff_opens(desk, site.url("/personnel"), member)
    await expect(desk.locator("#tableau-centre-FC-DIPL")).to_have_count(0)
    mine = desk.locator(f"#tableau-commission-COM-FC tr[data-formation='{code}']")
    await expect(desk.locator("#tableau-commission-COM-FC th")).to_have_text(
        [
            "Formation",
            "Dossiers complets",
            "Décisions validées",
            "Décisions à valider",
            "Confirmées",
            "Désistées",
            "Capacité d'accueil",
        ]
    )
    await expect(mine.locator("td").nth(1)).to_have_text("2")
    await expect(mine.locator("[data-decision=favorable]")).to_have_text(re.compile(r"^Favorable\s:\s1\b"))
    await expect(mine.locator("[data-decision=a_valider]")).to_have_text(re.compile(r"^1\b"))
    await j.step("tableau-de-bord-commission", page=desk)
    j.assert_no_script_error()


async def test_an_archived_campaign_is_read_by_choosing_it_on_the_dashboard_and_the_list(
    site, browser_page, journey, smtp_sink
):
    """Once the next campaign is in service, the dashboard and the lists show it; last campaign's
    candidatures, kept while archived, are one choice away, the page saying until when they are kept."""
    platform = site.platform
    boss = await admin(platform)
    today = platform.clock.now().date()
    code = await own_formation(boss, today, capacite=2)
    demo = next(c for c in (await boss.call("GET", "/api/v1/staff/offre"))[1]["campagnes"] if c["en_service"])
    last_year = await candidate(platform, smtp_sink)
    await staff_decides(boss, (await apply(platform, last_year, code))["id"], "favorable")
    libelle = f"Campagne suivante {code}"
    nouvelle = await campaign_in_service(boss, today, libelle)
    try:
        this_year = await candidate(platform, smtp_sink)
        await apply(platform, this_year, code)
        page = await browser_page()
        j = journey(page)
        await staff_opens(page, site.url("/personnel"), boss)

        # The campaign in service: this year's one candidature, no decision yet.
        await expect(page.get_by_role("heading", name=re.compile(libelle))).to_be_visible()
        row = page.locator(f"#tableau-centre-FC-DIPL tr[data-formation='{code}']")
        await expect(row.locator("td").nth(1)).to_have_text("1")
        await expect(row.locator("[data-statut=en_attente]")).to_have_text(re.compile(r"^1\b"))
        await expect(row.locator("[data-decision=favorable]")).to_have_count(0)
        await expect(page.locator("#campagne-archivee")).to_have_count(0)
        await expect(page.locator("#campagne_code option").first).to_have_text(f"{libelle} (en service)")
        await j.step("tableau-de-bord-campagne-en-service")

        # Last campaign, chosen: its candidature and its decision, and until when they are kept.
        archived = f"{demo['libelle']} (archivée)"
        await expect(page.locator(f"#campagne_code option[value='{demo['code']}']")).to_have_text(archived)
        await page.locator("#campagne_code").select_option(value=demo["code"])
        await page.get_by_role("button", name="Afficher").click()
        await page.wait_for_url(re.compile(rf"campagne_code={demo['code']}$"))
        await expect(page.locator("#campagne-archivee")).to_contain_text(f"Campagne archivée « {demo['libelle']} »")
        await expect(row.locator("td").nth(1)).to_have_text("1")
        await expect(row.locator("[data-decision=favorable]")).to_have_text(re.compile(r"^Favorable\s:\s1\b"))
        await j.step("tableau-de-bord-campagne-archivee")

        await row.get_by_role("link", name=f"DU de la liste {code}", exact=True).click()
        await page.wait_for_url(re.compile(rf"formation_code={code}&campagne_code={demo['code']}$"))
        await expect(page.locator("#campagne-archivee")).to_be_visible()
        await expect(page.locator("tbody tr")).to_have_count(1)
        await expect(page.get_by_role("link", name=last_year["numero_dossier"])).to_be_visible()
        await expect(page.locator("#titre-filtres")).to_have_text("Filtres")  # the campaign is not a filter
        await j.step("liste-campagne-archivee")

        # Back to the campaign in service, from the list's own filter.
        await page.locator("#campagne_code").select_option(value="")
        await page.get_by_role("button", name="Filtrer").click()
        await page.wait_for_url(re.compile(r"campagne_code=(&|$)"))
        await expect(page.locator("#campagne-archivee")).to_have_count(0)
        await expect(page.locator("tbody tr")).to_have_count(1)
        await expect(page.get_by_role("link", name=this_year["numero_dossier"])).to_be_visible()
        # Its links keep the campaign they list (another put in service meanwhile changes none of them).
        review = await page.get_by_role("link", name=this_year["numero_dossier"]).get_attribute("href")
        assert f"campagne_code={nouvelle}" in review, review
        export = await page.get_by_role("link", name="Exporter la liste (CSV)").get_attribute("href")
        assert f"campagne_code={nouvelle}" in export, export
        await j.step("liste-campagne-en-service")
        j.assert_no_script_error()
    finally:
        await seed_demo(platform.services["candidatures"].pool, date.today())  # the demo campaign in service again


async def test_a_piece_whose_file_cannot_be_read_says_so_in_its_frame(site, browser_page, journey, smtp_sink):
    """The review page frames each PDF: where the file cannot be read (gone from storage, the
    documents service down) or the session has ended, the frame says so in a sentence, where it showed the browser's blocked frame
    (the error pages refuse every frame)."""
    platform = site.platform
    candidate = await transmitted_candidature(platform, smtp_sink)
    cid = candidate["id"]
    docs = platform.services["documents"]
    async with docs.pool.acquire() as conn:
        key = await conn.fetchval(
            "SELECT file_key FROM piece_slots WHERE id = $1", uuid.UUID(candidate["slots"]["CV"]["slot_id"])
        )
    assert key
    await docs.storage.delete(key)
    boss = await admin(platform)
    page = await browser_page()
    j = journey(page)
    await staff_opens(page, site.url(f"/personnel/candidatures/{cid}"), boss)
    block = review_block(page, "CV")
    await block.locator("iframe").scroll_into_view_if_needed()
    framed = block.frame_locator("iframe")
    await expect(framed.locator(".fr-alert")).to_have_text(
        "Ce fichier n'est plus disponible : il a été remplacé ou supprimé entre-temps."
    )
    await expect(framed.locator("p.fr-text--sm")).to_contain_text("refusez la pièce en demandant au candidat")
    await expect(framed.locator("html")).to_have_attribute("lang", "fr")
    await j.step("piece-illisible")
    src = site.url(await block.locator("iframe").get_attribute("src"))
    answer = await page.request.get(src)
    assert answer.status == 404 and answer.headers["x-frame-options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in answer.headers["content-security-policy"]
    # The other pieces are still shown: the identity card's image is drawn.
    image = review_block(page, "IDENTITE").locator("img")
    await image.scroll_into_view_if_needed()
    await eventually(
        lambda: image.evaluate("img => img.complete && img.naturalWidth > 0"), message="the image is drawn"
    )
    # The frame alone, as a page: checked like every page.
    alone = await browser_page()
    j.watch(alone)
    await alone.context.add_cookies(await page.context.cookies())
    await alone.goto(src)
    await j.step("piece-illisible-cadre", page=alone)

    # The documents service down: the frame says so and offers to try again.
    documents = platform.services["documents"]
    await documents.stop()
    documents._stopped = True
    await block.locator("iframe").evaluate("frame => { frame.src = frame.src; }")
    await expect(framed.locator(".fr-alert")).to_contain_text("momentanément indisponible")
    again = framed.get_by_role("link", name="Réessayer d'afficher la pièce")
    assert site.url(await again.get_attribute("href")) == src
    await j.step("piece-service-indisponible")
    # The frame's answer is a 503, which Chromium logs: expected here, not a script error.
    unavailable = "Failed to load resource: the server responded with a status of 503 (Service Unavailable)"
    assert unavailable in j.console_errors, j.console_errors
    j.console_errors.remove(unavailable)

    # The session ended meanwhile: the frame offers to log in again, in the whole window.
    await page.context.clear_cookies()
    await block.locator("iframe").evaluate("frame => { frame.src = frame.src; }")
    await expect(framed.locator(".fr-alert")).to_contain_text("Votre session a expiré")
    login = framed.get_by_role("link", name="Se reconnecter")
    await expect(login).to_have_attribute("target", "_top")
    await j.step("piece-session-expiree")
    await login.click()
    await page.wait_for_url(re.compile(rf"/personnel/connexion\?suite=/personnel/candidatures/{cid}$"))
    j.assert_no_script_error()
    assert not [e for e in j.console_errors if "frame-ancestors" in e], j.console_errors


async def test_the_list_on_a_phone_folds_its_filters_once_rows_are_shown(site, browser_page, journey, smtp_sink):
    """The staff list's eleven filters stood before its rows: on a phone, once a list is shown, they
    are folded under « Afficher les filtres », the heading counting those in use; on a desktop and
    without JavaScript they stay open."""
    platform = site.platform
    boss = await admin(platform)
    code = await own_formation(boss, platform.clock.now().date())
    first, second = [await candidate(platform, smtp_sink) for _ in range(2)]
    await apply(platform, first, code)
    cancelled = (await apply(platform, second, code))["id"]
    status, body, _ = await api(platform, "POST", f"/api/v1/candidatures/{cancelled}/annulation", token=second["token"])
    assert status == 200, body

    phone = await browser_page(width=360, height=740)
    j = journey(phone)
    await staff_opens(phone, site.url("/personnel/candidatures"), boss)
    filters = phone.locator("#filtres")
    await expect(phone.locator("#statut")).to_be_visible()  # nothing listed yet: the filters are the page
    await expect(phone.locator("button[aria-controls=filtres]")).to_have_count(0)
    await phone.locator("#formation_code").fill(code)
    await phone.get_by_role("button", name="Filtrer").click()
    await phone.wait_for_url(re.compile(rf"formation_code={code}\b"))
    await expect(phone.locator("tbody tr")).to_have_count(2)
    await expect(filters).to_be_hidden()
    await expect(phone.locator("#titre-filtres")).to_have_text("Filtres")
    toggle = phone.locator("button[aria-controls=filtres]")
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    await expect(toggle).to_have_text("Afficher les filtres", use_inner_text=True)
    await expect(phone.locator("#statut")).to_be_hidden()
    await j.step("liste-360px-filtres-replies")
    # The list begins on the first screen (its filters unfolded, some 1,000 px lower).
    assert await phone.locator(".ec-table table").evaluate("t => t.getBoundingClientRect().top") < 740
    await fits(phone)

    await toggle.click()
    await expect(toggle).to_have_text("Masquer les filtres", use_inner_text=True)
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    await phone.locator("#statut").select_option("annulee")
    await fits(phone)
    await j.step("liste-360px-filtres-ouverts")
    await phone.get_by_role("button", name="Filtrer").click()
    await phone.wait_for_url(re.compile(r"statut=annulee"))
    await expect(phone.locator("tbody tr")).to_have_count(1)
    await expect(phone.locator("#titre-filtres")).to_have_text("Filtres (1 actif)")
    await expect(filters).to_be_hidden()

    desk = await browser_page()
    j.watch(desk)
    await staff_opens(desk, site.url(f"/personnel/candidatures?formation_code={code}"), boss)
    await expect(desk.locator("#statut")).to_be_visible()
    await expect(desk.locator("button[aria-controls=filtres]")).to_have_text("Masquer les filtres", use_inner_text=True)
    await j.step("liste-bureau-filtres-ouverts", page=desk)

    plain = await browser_page(js=False, width=360, height=740)
    await plain.context.add_cookies(await desk.context.cookies())
    await plain.goto(site.url(f"/personnel/candidatures?formation_code={code}"))
    await expect(plain.locator("#statut")).to_be_visible()
    await expect(plain.locator("button[aria-controls=filtres]")).to_be_hidden()
    await j.step("liste-360px-sans-javascript", page=plain)
    j.assert_no_script_error()
