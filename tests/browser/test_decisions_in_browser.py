"""Every kind of decision entered from the review page in Chromium, as a commission's gestionnaire
does after the jury: présélection (date, time, place), liste d'attente, liste complémentaire with
its rank, défavorable with its motive. A decision missing what the candidate needs is refused
beside the field that lacks it, with everything typed still in the form; each validated decision
reaches the candidate by mail (the défavorable one with its letter attached). axe-core on every
page, screenshots in `test-artifacts/browser/<test>/`.
"""

from __future__ import annotations


from playwright.async_api import Page, expect

from tests.conftest import eventually
from tests.e2e.test_accounts import api, mail_to, text_of
from tests.e2e.test_accounts_staff import admin, invited

from .helpers import fields_clear_of_button, files, flash
from .helpers import staff_opens
from .test_gestion_in_browser import transmitted_candidature


async def complete_candidature(platform, smtp_sink, boss) -> dict:
    """A transmitted candidature of DAEU option A whose pieces are validated and dossier complet."""
    candidate = await transmitted_candidature(platform, smtp_sink)
    cid = candidate["id"]
    for code in files():  # the deposited ones; the conditional pieces are « non concerné »
        slot = candidate["slots"][code]["slot_id"]
        status, body, _ = await boss.call(
            "POST", f"/api/v1/staff/candidatures/{cid}/pieces/{slot}/examen", {"decision": "validee"}
        )
        assert status == 200, (code, body)

    async def proposed() -> bool:
        return (await boss.call("GET", f"/api/v1/staff/candidatures/{cid}"))[1]["complet_propose"]

    await eventually(proposed, message="complet proposed once every piece is validated")
    status, body, _ = await boss.call(
        "POST", "/api/v1/staff/candidatures/statut", {"candidature_ids": [cid], "statut": "complet"}
    )
    assert status == 200 and body["updated"] == [cid], body
    return candidate


async def enter(page: Page, kind: str, **fields: str) -> None:
    await page.locator(f"label[for=kind-{kind}]").click()
    for name, value in fields.items():
        await page.locator(f"#{name}").fill(value)
    button = page.get_by_role("button", name="Saisir la décision")
    await fields_clear_of_button(page, page.locator("form", has=button))
    await button.click()


async def validate(page: Page, label: str) -> None:
    await expect(page.locator("#decision-a-valider")).to_contain_text(label)
    await page.get_by_role("button", name="Valider la décision").click()
    await flash(page, "Décision validée pour 1 candidature : le candidat est prévenu.")
    await expect(page.locator("#decision-actuelle")).to_contain_text(label)


async def test_each_kind_of_decision_from_the_review_page(site, browser_page, journey, smtp_sink):
    """Also a check of « never lose work »: a refused decision keeps what was typed."""
    platform = site.platform
    boss = await admin(platform)
    candidate = await complete_candidature(platform, smtp_sink, boss)
    cid, email = candidate["id"], candidate["email"]
    gestionnaire = await invited(platform, smtp_sink, boss, ["gestionnaire"], centres=["DAEU"])

    page = await browser_page()
    j = journey(page)
    await staff_opens(page, site.url(f"/personnel/candidatures/{cid}"), gestionnaire)
    await expect(page.locator("p#statut")).to_have_text("Complet")

    # Présélection without its place: refused beside « Lieu », the date, time and comment kept.
    await enter(
        page,
        "preselection",
        preselection_date="2027-03-15",
        preselection_heure="10:30",
        commentaire="Munissez-vous d'une pièce d'identité.",
    )
    await expect(page.locator("#erreurs")).to_contain_text("La décision est incomplète.")
    await expect(page.locator("#preselection_lieu-desc-error")).to_have_text(
        "Le lieu de l'entretien de présélection est obligatoire."
    )
    await expect(page.locator("#kind-preselection")).to_be_checked()
    await expect(page.locator("#preselection_date")).to_have_value("2027-03-15")
    await expect(page.locator("#preselection_heure")).to_have_value("10:30")
    await expect(page.locator("#commentaire")).to_have_value("Munissez-vous d'une pièce d'identité.")
    await expect(page.locator("#decision-a-valider")).to_have_count(0)  # nothing was entered
    assert page.url.endswith("/decision#decision")  # the page opens on the form, not at its top
    await expect(page.locator("#erreurs")).to_be_in_viewport()
    await j.step("preselection-sans-lieu")
    await page.locator("#preselection_lieu").fill("Bâtiment A, salle 101")
    await page.get_by_role("button", name="Saisir la décision").click()
    await flash(page, "Décision saisie")
    await j.step("preselection-saisie")
    await validate(page, "Présélection")
    mail = await mail_to(smtp_sink, email, "présélection")
    assert "Bâtiment A, salle 101" in text_of(mail) and "Munissez-vous d'une pièce d'identité." in text_of(mail)

    # Liste d'attente.
    await enter(page, "liste_attente")
    await flash(page, "Décision saisie")
    await validate(page, "Liste d'attente")
    await mail_to(smtp_sink, email, "liste d'attente")
    await j.step("liste-attente-validee")

    # Liste complémentaire: the rank is required.
    await enter(page, "liste_complementaire")
    await expect(page.locator("#rang-desc-error")).to_have_text("Le rang sur la liste complémentaire est obligatoire.")
    await expect(page.locator("#kind-liste_complementaire")).to_be_checked()
    await j.step("liste-complementaire-sans-rang")
    await page.locator("#rang").fill("3")
    await page.get_by_role("button", name="Saisir la décision").click()
    await flash(page, "Décision saisie")
    await expect(page.locator("#decision-a-valider")).to_contain_text("rang 3")
    await validate(page, "Liste complémentaire")
    await mail_to(smtp_sink, email, "liste complémentaire")
    await j.step("liste-complementaire-validee")

    # Défavorable: the motive is required; validated, the candidate gets the letter attached.
    await enter(page, "defavorable", commentaire="Capacité d'accueil atteinte.")
    await expect(page.locator("#motif-desc-error")).to_have_text("Un avis défavorable doit être motivé.")
    await expect(page.locator("#commentaire")).to_have_value("Capacité d'accueil atteinte.")
    await j.step("defavorable-sans-motif")
    await page.locator("#motif").fill("Prérequis non satisfaits")
    await page.get_by_role("button", name="Saisir la décision").click()
    await flash(page, "Décision saisie")
    await validate(page, "Défavorable")
    mail = await mail_to(smtp_sink, email, "Avis défavorable")
    [letter] = [p for p in mail.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert letter.get_content().startswith(b"%PDF")
    await expect(page.locator("#lettre")).to_be_visible()
    await j.step("defavorable-valide-lettre")

    # The candidate sees the last validated decision.
    status, seen, _ = await api(platform, "GET", f"/api/v1/candidatures/{cid}", token=candidate["token"])
    assert status == 200 and seen["decision"] == "defavorable", seen
    j.console_errors = [e for e in j.console_errors if e != "Failed to load resource: net::ERR_FAILED"]
    j.assert_no_script_error()
