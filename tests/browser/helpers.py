"""The steps of the guide as a person does them in the browser, shared by the browser tests."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Locator, Page, expect

from tests.conftest import eventually, unique_email
from tests.e2e.test_accounts import PASSWORD, mail_to, text_of
from tests.e2e.test_accounts_staff import PASSWORD as STAFF_PASSWORD
from tests.unit.documents import corpus

LINK = re.compile(r"https?://\S+jeton=[A-Za-z0-9_-]+")
GREEN = "rgb(24, 117, 60)"  # the DSFR's --background-flat-success


def files() -> dict[str, tuple[str, str, bytes]]:
    """A legitimate file for each piece of DAEU option A (the guide's example)."""
    legit = corpus.legitimate()
    return {
        "IDENTITE": ("CNI.jpg", "image/jpeg", legit["photo.jpg"]),
        "SCOLARITE": ("releve.png", "image/png", legit["scan-1bit.png"]),
        "CV": ("CV.pdf", "application/pdf", legit["cv-reportlab.pdf"]),
        "IMPOSITION": ("Avis_d_impot.pdf", "application/pdf", legit["pillow-gris.pdf"]),
        "MOTIVATION-DAEU": ("Lettre_de_motivation.pdf", "application/pdf", legit["lettre-3-pages.pdf"]),
        "FICHE-CLIENT": ("Fiche_client.pdf", "application/pdf", corpus.reportlab_form()),
        "PRE-INSCRIPTION": ("Dossier_complementaire.pdf", "application/pdf", legit["dossier-platypus.pdf"]),
    }


LIBELLES = {
    "IDENTITE": "Une copie recto-verso de votre pièce d'identité",
    "SCOLARITE": "Justificatifs de scolarisation",
    "CV": "Curriculum vitae détaillé",
    "IMPOSITION": "Une copie de votre dernier avis d'imposition",
    "MOTIVATION-DAEU": "Lettre de motivation (à l'attention de l'Equipe Pédagogique DAEU A",
    "FICHE-CLIENT": "Fiche client",
    "PRE-INSCRIPTION": "Dossier complémentaire de pré-inscription.",
    "SED": "Fiche d'inscription au service d'enseignement à distance",
    "MOINS-24": "Moins de 24 ans au 1er Octobre",
    "FICHE-REGION": "Fiche région",
    "RSA": "Bénéficiaires du RSA",
    "AAH": "Adultes handicapés",
}
CONDITIONNELLES = ("SED", "MOINS-24", "FICHE-REGION", "RSA", "AAH")


def piece(page: Page, code: str):
    return page.locator(".ec-piece", has=page.locator(".ec-piece__title", has_text=LIBELLES[code]))


async def flash(page: Page, text: str) -> None:
    await expect(page.locator(".fr-alert").filter(has_text=text).first).to_be_visible()


async def create_account(page: Page, site, smtp_sink, nom: str = "Test2", prenom: str = "Camille") -> dict[str, Any]:
    """Étape 1: "Créer un compte", the mail, its link: the account is active, the login page shows the numéro."""
    email = unique_email("navigateur")
    await page.goto(site.url("/compte/creation"))
    await page.locator("#nom").fill(nom)
    await page.locator("#prenom").fill(prenom)
    await page.locator("#email").fill(email)
    await page.locator("#email_confirmation").fill(email)
    await page.locator("#password").fill(PASSWORD)
    await page.locator("#password_confirmation").fill(PASSWORD)
    await page.get_by_role("button", name="Enregistrer").click()
    await page.wait_for_url(re.compile(r"/connexion$"))
    await flash(page, "Votre compte a été créé avec succès, veuillez consulter vos courriels pour le valider.")
    mail = await mail_to(smtp_sink, email, "validez votre compte")
    numero = re.search(r"Utilisateur : (\w+)", text_of(mail)).group(1)
    return {"email": email, "numero": numero, "link": LINK.search(text_of(mail)).group(0)}


async def log_in(page: Page, login: str, password: str = PASSWORD) -> None:
    await page.locator("#login").fill(login)
    await page.locator("#password").fill(password)
    await page.get_by_role("button", name="Se connecter").click()


async def staff_login(page: Page, email: str, code: str, enter: bool = False) -> None:
    await page.locator("#email").fill(email)
    await page.locator("#password").fill(STAFF_PASSWORD)
    await page.locator("#code").fill(code)
    if enter:  # the keyboard, as one types a code
        await page.locator("#code").press("Enter")
    else:
        await page.get_by_role("button", name="Se connecter").click()


async def staff_opens(page: Page, url: str, staff: Any) -> None:
    """A staff member not logged in yet asks for `url`: the login page (password and TOTP code),
    then back on the page asked for."""
    await page.goto(url)
    await page.wait_for_url(re.compile(r"/personnel/connexion\?suite="))
    await staff_login(page, staff.email, staff.code())
    await page.wait_for_url(re.compile(re.escape(url.split("#")[0]) + r"(#.*)?$"))


async def choose_commune(page: Page, field: str, search: str, code: str, js: bool) -> None:
    """The commune picker: with JavaScript the list fills as one types; without, "Rechercher" posts the form back."""
    await page.locator(f"#{field}-recherche").fill(search)
    if not js:
        await page.locator(f"#{field}-recherche ~ button, button[name=rechercher][value={field}]").first.click()
        await page.wait_for_load_state("load")
    await expect(page.locator(f"#{field} option[value='{code}']")).to_have_count(1)
    await page.locator(f"#{field}").select_option(code)
    # The field after the picker sits as far below it as the DSFR spaces any two fields (1.5rem).
    gap = await page.locator(f"[data-commune={field}]").evaluate(
        "p => p.nextElementSibling && p.nextElementSibling.getBoundingClientRect().top - p.getBoundingClientRect().bottom"
    )
    assert gap is None or gap >= 24, f"the field after the commune {field!r} is {gap} px below its list"


async def fields_clear_of_button(page: Page, form: Locator | None = None) -> None:
    """The form's button (by default the page's last validated form's) sits as far below its last
    field as the DSFR spaces two fields (1.5rem)."""
    gap = await (form or page.locator("form[data-validate]").last).evaluate(
        """form => {
            const button = form.querySelector('button[type=submit]:not([name])');
            const fields = [...form.querySelectorAll('input:not([type=hidden]), select, textarea')];
            const bottom = Math.max(...fields.map(f => f.getBoundingClientRect().bottom));
            return button.getBoundingClientRect().top - bottom;
        }"""
    )
    assert gap >= 24, f"the button is {gap} px below the last field of {page.url}"


async def fill_dossier(page: Page, site, journey, js: bool) -> None:
    """Étape 2: informations personnelles, adresse, baccalauréat, in that order, "Enregistrer et passer à la suite"."""
    await page.goto(site.url("/dossier"))
    # Each rubrique not yet filled says « À compléter » once, not also « Manque : … rubrique à renseigner ».
    await expect(page.locator(".ec-rubrique").filter(has_text="À compléter")).to_have_count(3)
    await expect(page.get_by_text("Manque :")).to_have_count(0)
    await journey.step("dossier-vide")
    # Out of order, a rubrique is read-only: its fields greyed out, « Suivant » instead of saving.
    await page.goto(site.url("/dossier/adresse"))
    await expect(page.locator("#verrou")).to_contain_text("Renseignez d'abord vos informations personnelles")
    await expect(page.locator("#ligne1")).to_be_disabled()
    await expect(page.get_by_role("button", name="Enregistrer et passer à la suite")).to_have_count(0)
    await journey.step("adresse-avant-informations")
    await page.get_by_role("link", name="Suivant", exact=True).click()
    await page.wait_for_url(re.compile(r"/dossier/baccalaureat$"))
    await expect(page.locator("#annee")).to_be_disabled()
    await page.goto(site.url("/dossier/stages"))
    await expect(page.get_by_role("button", name="Ajouter")).to_have_count(0)
    await expect(page.get_by_role("link", name="Suivant", exact=True)).to_be_visible()
    await page.goto(site.url("/dossier"))
    await page.get_by_role("link", name="Saisir/Modifier informations").click()
    await page.wait_for_url(re.compile(r"/dossier/informations-personnelles$"))
    await page.locator("label[for=civilite-2]").click()
    await page.locator("#nom_naissance").fill("Test2")
    await page.locator("#prenoms").fill("Camille")
    await page.locator("#date_naissance").fill("1990-04-12")
    await page.locator("#pays_naissance").select_option("FR")
    await page.locator("#departement_naissance").select_option("31")
    await choose_commune(page, "commune_naissance", "Toulouse", "31555", js)
    await page.locator("#nationalite").select_option("FR")
    await page.locator("#portable").fill("06 12 34 56 78")
    await journey.step("informations-personnelles")
    await fields_clear_of_button(page)
    await page.get_by_role("button", name="Enregistrer et passer à la suite").click()
    await page.wait_for_url(re.compile(r"/dossier/adresse$"))
    await flash(page, "La rubrique « Informations personnelles » est enregistrée.")
    await page.locator("#pays").select_option("FR")
    await page.locator("#ligne1").fill("5 allées Antonio Machado")
    await page.locator("#code_postal").fill("31100")
    await choose_commune(page, "commune", "31100", "31555", js)
    await journey.step("adresse")
    await fields_clear_of_button(page)
    await page.get_by_role("button", name="Enregistrer et passer à la suite").click()
    await page.wait_for_url(re.compile(r"/dossier/baccalaureat$"))
    await page.locator("label[for=situation-1]").click()
    await page.locator("#annee").fill("2008")
    await page.locator("#serie").fill("Générale")
    await page.locator("#mention").select_option("bien")
    await page.locator("#pays").select_option("FR")
    await page.locator("#departement").select_option("31")
    await choose_commune(page, "commune", "Toulouse", "31555", js)
    await journey.step("baccalaureat")
    await fields_clear_of_button(page)
    await page.get_by_role("button", name="Enregistrer et passer à la suite").click()
    await page.wait_for_url(re.compile(r"/dossier/cursus-interne$"))
    await page.goto(site.url("/dossier"))
    await expect(page.locator(".ec-rubrique .fr-badge--success").filter(has_text="Complète")).to_have_count(3)
    await expect(page.get_by_text("Votre dossier est complet : vous pouvez candidater.")).to_be_visible()
    await journey.step("dossier-complet")


CANDIDATURE_URL = re.compile(r"/candidatures/[0-9a-f-]{36}$")


async def landed_after_double_submit(page: Page) -> None:
    """On the candidature's page after a form sent twice (a double click without JavaScript): the
    second submission aborts the first one's navigation, which `wait_for_url` takes for a failure
    when it sees it; the page's URL is awaited instead, then its load."""
    await expect(page).to_have_url(CANDIDATURE_URL)
    await page.wait_for_load_state("load")


async def open_offer_and_apply(page: Page, site, journey, formation: str, centre: str, type_: str) -> str:
    """Étape 3: the offer tree, "Voulez-vous candidater à la formation '…' ?", a double click on "Oui"."""
    await page.goto(site.url("/offre"))
    await page.locator("summary", has_text=centre).click()
    await page.locator("summary", has_text=type_).click()
    await journey.step("offre")
    await page.get_by_role("link", name=f"Candidater à la formation {formation}").click()
    await expect(page.get_by_text(f"Voulez-vous candidater à la formation '{formation}' ?")).to_be_visible()
    if formation.startswith("DAEU"):  # the guide, étape 2
        await expect(page.locator(".ec-facts")).to_contain_text(
            "Les rubriques cursus, stages et expériences sont facultatives pour cette formation."
        )
    await journey.step("confirmation-candidater")
    await page.get_by_role("button", name="Oui, candidater").dblclick()
    await landed_after_double_submit(page)
    await pieces_ready(page)
    return page.url.rsplit("/", 1)[1]


async def pieces_ready(page: Page) -> None:
    """The piece slots of a new candidature come with an event: on a slow day the page says they are
    being prepared, and the person refreshes it (« Actualiser la page ») until they are there."""

    async def listed() -> bool:
        if await page.locator(".ec-piece").count():
            return True
        await page.get_by_role("link", name="Actualiser la page").click()
        await page.wait_for_load_state("load")
        return await page.locator(".ec-piece").count() > 0

    await eventually(listed, timeout=90, interval=0.5, message="the pieces of the new candidature are listed")


async def upload(page: Page, code: str, name: str, mime: str, data: bytes, js: bool) -> None:
    block = piece(page, code)
    await block.locator("input[type=file]").set_input_files({"name": name, "mimeType": mime, "buffer": data})
    await block.get_by_role("button", name=re.compile("^Déposer")).click()


async def wait_statut(page: Page, code: str, statut: str) -> None:
    await expect(piece(page, code).locator(".ec-piece__statut")).to_have_text(statut)
