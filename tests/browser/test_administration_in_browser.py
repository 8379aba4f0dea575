"""The administration of the espace gestion in Chromium: an administrator creates and edits a
formation with the pieces it asks for (and a piece's template), extends a campaign's deadlines,
changes a staff member's roles then disables them (they can no longer log in), imports a registry
CSV with one bad line then a good one, and replays an event in failure made for real; every page
checked by axe-core and kept as a screenshot (`test-artifacts/browser/<test>/`).

A gestionnaire gets none of it: no link in the header, a 403 page on each URL, and a forged post
changes nothing.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta, timezone

from playwright.async_api import expect

from tests.conftest import eventually, unique_email
from tests.e2e.test_accounts import api
from tests.e2e.test_accounts_staff import admin, invited
from tests.e2e.test_staff_administration import BrokenMailbox, mails_to, ManyDeadLetters
from tests.unit.documents import corpus
from tests.unit.dossiers.samples import bea, registry_csv, registry_row

from .helpers import fields_clear_of_button, flash
from .helpers import staff_login, staff_opens

ADMIN_PAGES = (
    "/personnel/administration/offre",
    "/personnel/administration/offre/formations/DAEU-A",
    "/personnel/administration/offre/formations/nouveau",
    "/personnel/administration/registre",
    "/personnel/administration/lettres-mortes",
    "/personnel/administration/courriels",
)
ADMIN_LINKS = (
    "Offre de formation",
    "Comptes du personnel",
    "Registre des étudiants",
    "Journal des courriels",
    "Événements en échec",
)


async def incident_fields_on_one_line(page) -> None:
    """The incident's day, hour and hours side by side, their boxes on one line, and the reason's
    field below them as far as the DSFR spaces two fields."""
    boxes = [await page.locator(f"#{name}").bounding_box() for name in ("incident_date", "incident_heure", "heures")]
    tops = [box["y"] for box in boxes if box]
    assert len(tops) == 3 and max(tops) - min(tops) <= 1, tops
    label = await page.locator("label[for=motif]").bounding_box()
    assert label and label["y"] - max(box["y"] + box["height"] for box in boxes if box) >= 24


async def test_an_administrator_s_administration_in_chromium(site, browser_page, journey, smtp_sink):
    platform = site.platform
    boss = await admin(platform)
    page = await browser_page()
    j = journey(page)
    await staff_opens(page, site.url("/personnel/administration/offre"), boss)
    for link in ADMIN_LINKS:
        await expect(page.locator("#navigation").get_by_role("link", name=link)).to_be_visible()
    await expect(page.get_by_role("link", name="DAEU option A", exact=True)).to_be_visible()
    await j.step("offre")

    # A new formation: a date before the deposit opens is refused beside its field, the input kept.
    code = f"DU-{uuid.uuid4().hex[:6].upper()}"
    today = date.today()
    await page.get_by_role("link", name="Nouvelle formation").click()
    await page.locator("#code").fill(code)
    await page.locator("#libelle").fill("DU Administration en navigateur")
    await page.locator("#centre_code").select_option("DAEU")
    await page.locator("#type_code").select_option("U-B2")
    await page.locator("#commission_code").select_option("COM-DAEU")
    await page.locator("#type_traitement").select_option("acces_controle")
    await page.locator("#capacite").fill("25")
    await page.locator("#depot_debut").fill(today.isoformat())
    await page.locator("#depot_fin").fill((today + timedelta(days=60)).isoformat())
    await page.locator("#date_retour").fill((today - timedelta(days=10)).isoformat())
    await page.locator("label[for=rubriques_exigees-experiences_professionnelles]").click()
    await page.get_by_role("button", name="Enregistrer").click()
    await expect(page.locator("#date_retour-desc-error")).to_contain_text("ne peut précéder l'ouverture du dépôt")
    await expect(page.locator("#libelle")).to_have_value("DU Administration en navigateur")
    await expect(page.locator("#capacite")).to_have_value("25")
    await expect(page.locator("#rubriques_exigees-experiences_professionnelles")).to_be_checked()
    await expect(page.locator("#rubriques_exigees-stages")).not_to_be_checked()
    await j.step("formation-date-refusee")
    await page.locator("#date_retour").fill((today + timedelta(days=70)).isoformat())
    await page.get_by_role("button", name="Enregistrer").click()
    await page.wait_for_url(re.compile(rf"/offre/formations/{code}$"))
    await flash(page, f"« {code} » est créé.")
    await expect(page.locator("#rubriques_exigees-experiences_professionnelles")).to_be_checked()
    await j.step("formation-creee")

    # Edited: its capacity; then a piece it asks for, with a template for the candidates.
    await page.locator("#capacite").fill("30")
    await page.get_by_role("button", name="Enregistrer").click()
    await flash(page, f"Les modifications de « {code} » sont enregistrées.")
    await expect(page.locator("#capacite")).to_have_value("30")
    await page.get_by_role("link", name="Ajouter une pièce demandée par cette formation").click()
    await expect(page.locator("#niveau")).to_have_value("formation")
    await expect(page.locator("#formation_code")).to_have_value(code)
    piece = f"P-{code}"
    await page.locator("#code").fill(piece)
    await page.locator("#libelle").fill("Attestation de l'employeur")
    await page.locator("label[for=conditionnelle-oui]").click()
    await page.locator("label[for=types_traitement-acces_controle]").click()
    await j.step("piece-nouvelle")
    await page.get_by_role("button", name="Enregistrer").click()
    await page.wait_for_url(re.compile(rf"/offre/pieces/{piece}$"))
    await flash(page, f"« {piece} » est créé.")
    await page.locator("#fichier-modele").set_input_files(
        {"name": "Attestation.pdf", "mimeType": "application/pdf", "buffer": corpus.reportlab_form()}
    )
    await page.get_by_role("button", name="Déposer le modèle").click()
    await flash(page, "Le modèle « Attestation.pdf » est déposé")
    await expect(page.get_by_role("link", name="Télécharger le modèle actuel")).to_be_visible()
    await j.step("piece-modele-depose")
    template = await page.request.get(site.url(f"/personnel/administration/offre/pieces/{piece}/modele"))
    assert template.status == 200 and (await template.body()).startswith(b"%PDF")
    await page.get_by_role("button", name="Retirer le modèle").click()
    await flash(page, "Le modèle est retiré.")
    await expect(page.get_by_text("Aucun modèle n'est proposé aux candidats pour cette pièce.")).to_be_visible()
    await expect(page.locator("#has_template-oui")).not_to_be_checked()
    await page.locator("#fichier-modele").set_input_files(
        {"name": "Attestation.pdf", "mimeType": "application/pdf", "buffer": corpus.reportlab_form()}
    )
    await page.get_by_role("button", name="Déposer le modèle").click()
    await flash(page, "Le modèle « Attestation.pdf » est déposé")
    await expect(page.locator("#has_template-oui")).to_be_checked()
    await page.goto(site.url(f"/personnel/administration/offre/formations/{code}"))
    pieces = page.locator("#pieces-demandees + .fr-table")
    await expect(pieces.get_by_role("row", name=re.compile("Attestation de l'employeur"))).to_contain_text(
        "acces_controle"
    )
    await expect(pieces).to_contain_text("Une copie recto-verso de votre pièce d'identité")  # the establishment's
    await j.step("formation-pieces")
    status, offer, _ = await boss.call("GET", "/api/v1/staff/offre")
    saved = next(f for f in offer["formations"] if f["code"] == code)
    assert saved["capacite"] == 30 and saved["commission_code"] == "COM-DAEU"
    assert next(p for p in offer["pieces"] if p["code"] == piece)["has_template"]

    # The other resources' forms: a centre, a type de diplôme, a commission (new and existing).
    for path in (
        "centres/nouveau",
        "centres/DAEU",
        "types-diplome/nouveau",
        "types-diplome/U-B2",
        "commissions/nouveau",
        "commissions/COM-DAEU",
    ):
        await page.goto(site.url(f"/personnel/administration/offre/{path}"))
        await expect(page.get_by_role("button", name="Enregistrer")).to_be_visible()
        await j.step(path.replace("/", "-"))
    await page.locator("#libelle").fill("")
    await page.get_by_role("button", name="Enregistrer").click()
    await expect(page.locator("#libelle-desc-error")).not_to_be_empty()
    await expect(page.locator("#centre_code")).to_have_value("DAEU")
    await j.step("commission-libelle-vide-refuse")

    # A new commission and its alerts by mail: a wrong address is refused beside its field, the
    # boxes ticked kept; then saved, and the offer's table says what the commission is told of.
    commission = f"COM-{code}"
    await page.goto(site.url("/personnel/administration/offre/commissions/nouveau"))
    await page.locator("#code").fill(commission)
    await page.locator("#libelle").fill(f"Commission {code}")
    await page.locator("#centre_code").select_option("DAEU")
    await page.locator("#email").fill("commission.daeu@")
    for alerte in ("transmission", "desistement"):
        await page.locator(f"label[for=alertes-{alerte}]").click()
    await page.locator("#alertes_frequence").select_option("quotidienne")  # one summary a day
    await page.get_by_role("button", name="Enregistrer").click()
    await expect(page.locator("#email-desc-error")).to_have_text("L'adresse mail n'est pas valide.")
    await expect(page.locator("#alertes_frequence")).to_have_value("quotidienne")
    await expect(page.locator("#alertes-transmission")).to_be_checked()
    await expect(page.locator("#alertes-annulation")).not_to_be_checked()
    await j.step("commission-adresse-refusee")
    await page.locator("#email").fill("commission.daeu@univ-exemple.fr")
    await page.get_by_role("button", name="Enregistrer").click()
    await flash(page, f"« {commission} » est créé.")
    await expect(page.locator("#alertes-desistement")).to_be_checked()
    await page.goto(site.url("/personnel/administration/offre#commissions"))
    row = page.locator("tr", has=page.get_by_role("cell", name=commission, exact=True))
    await expect(row.locator("td").last).to_have_text(
        "Candidature transmise, Désistement (commission.daeu@univ-exemple.fr, un récapitulatif par jour)"
    )
    await j.step("commission-alertes")
    status, offer, _ = await boss.call("GET", "/api/v1/staff/offre")
    saved = next(c for c in offer["commissions"] if c["code"] == commission)
    assert saved["email"] == "commission.daeu@univ-exemple.fr" and saved["alertes"] == ["desistement", "transmission"]
    assert saved["alertes_frequence"] == "quotidienne"

    # The campaign in service and its dates; a new campaign (not in service, so no candidate is
    # touched here) extended after an incident: 0 hours is refused beside the field.
    campagne = next(c for c in offer["campagnes"] if c["en_service"])
    await page.goto(site.url("/personnel/administration/offre#campagnes"))
    in_service = page.locator("tr", has=page.get_by_role("link", name=campagne["libelle"], exact=True))
    await expect(in_service.locator("td").last).to_have_text("Conservées")
    await page.get_by_role("link", name=campagne["libelle"]).click()
    await expect(page.locator("#debut")).to_have_value(campagne["debut"])
    await expect(page.locator("#fin")).to_have_value(campagne["fin"])
    await expect(page.locator("label[for=en_service-oui] .fr-hint-text")).to_contain_text(
        "Une campagne qui quitte le service est archivée : ses candidatures, leurs pièces et leurs lettres sont détruites"
    )
    await incident_fields_on_one_line(page)
    await j.step("campagne")
    await page.goto(site.url("/personnel/administration/offre"))
    await page.get_by_role("link", name="Nouvelle campagne").click()
    campagne_code = f"C-{code}"
    await page.locator("#code").fill(campagne_code)
    await page.locator("#libelle").fill(f"Campagne d'essai {code}")
    await page.locator("#debut").fill((today - timedelta(days=5)).isoformat())
    await page.locator("#fin").fill((today + timedelta(days=5)).isoformat())
    await page.locator("#prefix").fill("ZZ")
    await page.get_by_role("button", name="Enregistrer").click()
    await flash(page, f"« {campagne_code} » est créé.")
    await page.locator("#incident_date").fill(today.isoformat())
    await page.locator("#incident_heure").fill("00:00")
    await page.locator("#heures").fill("0")
    await page.locator("#motif").fill("Plateforme indisponible")
    await page.get_by_role("button", name="Prolonger").click()
    await expect(page.locator("#heures-desc-error")).not_to_be_empty()
    await expect(page.locator("#motif")).to_have_value("Plateforme indisponible")
    await incident_fields_on_one_line(page)  # the message below its field moves none of them
    await j.step("campagne-prolongation-refusee")
    await page.locator("#heures").fill("24")
    await page.get_by_role("button", name="Prolonger").click()
    await flash(page, "Prolongation enregistrée : aucune candidature n'avait de date limite ouverte")
    await expect(page.locator("#prolongations + .fr-table")).to_contain_text("Plateforme indisponible")
    await j.step("campagne-prolongee")

    # A campaign archived (as when another one is put in service) says until when its candidatures are kept.
    async with platform.services["candidatures"].pool.acquire() as conn:
        await conn.execute(
            "UPDATE campagnes SET archivee_le = $2 WHERE code = $1",
            campagne_code,
            datetime(2026, 9, 1, 10, tzinfo=timezone.utc),
        )
    await page.goto(site.url("/personnel/administration/offre#campagnes"))
    archived = page.locator("tr", has=page.get_by_role("link", name=f"Campagne d'essai {code}", exact=True))
    await expect(archived.locator("td").last).to_have_text(
        re.compile(
            r"^Campagne archivée le 1er\s+septembre\s+2026\s+: candidatures détruites à partir du 1er\s+septembre\s+2027$"
        )
    )
    await j.step("campagne-archivee")

    # A staff member's roles: none is refused beside the roles; then read-only; then disabled.
    member = await invited(platform, smtp_sink, boss, ["gestionnaire"], centres=["DAEU"])
    await page.goto(site.url("/personnel/administration/comptes"))
    await expect(page.locator("tbody tr", has_text=member.email)).to_contain_text("Gestionnaire")
    await page.locator("tbody tr", has_text=member.email).get_by_role("link").click()
    await page.wait_for_url(re.compile(r"/personnel/administration/comptes/[0-9a-f-]{36}$"))
    await expect(page.get_by_text(member.email)).to_be_visible()
    # The roles by their names, the button clear of the scope's fields.
    await expect(page.locator("label[for=role-gestionnaire_lecture]")).to_have_text("Gestionnaire (lecture seule)")
    await fields_clear_of_button(
        page, page.locator("form", has=page.get_by_role("button", name="Enregistrer les rôles"))
    )
    await page.locator("label[for=role-gestionnaire]").click()  # unticked: no role left
    await page.get_by_role("button", name="Enregistrer les rôles").click()
    await expect(page.locator("#erreurs")).to_be_visible()
    await expect(page.locator("#centres")).to_have_value("DAEU")
    await j.step("compte-sans-role-refuse")
    await page.locator("label[for=role-gestionnaire_lecture]").click()
    await page.get_by_role("button", name="Enregistrer les rôles").click()
    await flash(page, f"Le compte de {member.email} est modifié.")
    await expect(page.locator("#role-gestionnaire_lecture")).to_be_checked()
    await expect(page.locator("#role-gestionnaire")).not_to_be_checked()
    await j.step("compte-roles-modifies")
    await page.get_by_role("button", name="Désactiver le compte").click()
    await flash(page, f"Le compte de {member.email} est désactivé")
    await expect(page.locator("#etat-compte")).to_have_text("Désactivé")
    await j.step("compte-desactive")
    status, body = await member.login()
    assert status == 403, body
    status, body, _ = await member.call("GET", "/api/v1/staff/me")
    assert status == 401, body

    # The registry: a file with one bad line is refused whole, line by line; a good one is imported.
    good, other = bea(f"{uuid.uuid4().int % 10**10:010d}"), bea(f"{uuid.uuid4().int % 10**10:010d}")
    await page.get_by_role("link", name="Registre des étudiants").click()
    await j.step("registre")
    refused = registry_csv([registry_row(good), registry_row("1234567890W"), registry_row(other)])
    await page.locator("#fichier-registre").set_input_files(
        {"name": "registre.csv", "mimeType": "text/csv", "buffer": refused}
    )
    await page.get_by_role("button", name="Importer").click()
    await expect(page.locator("#rapport")).to_contain_text("Import refusé : registre.csv")
    await expect(page.locator("#rapport")).to_contain_text("Lignes correctes : 2")
    await expect(page.locator("#rapport")).to_contain_text("Lignes refusées : 1")
    await expect(page.locator("#refus tbody tr")).to_have_count(1)
    await expect(page.locator("#refus tbody tr td").nth(0)).to_have_text("3")
    await expect(page.locator("#refus tbody tr td").nth(1)).to_have_text("ine")
    await j.step("registre-refuse")
    await page.locator("#fichier-registre").set_input_files(
        {
            "name": "registre.csv",
            "mimeType": "text/csv",
            "buffer": registry_csv([registry_row(good), registry_row(other)]),
        }
    )
    await page.get_by_role("button", name="Importer").click()
    await expect(page.locator("#rapport")).to_contain_text("Import réussi")
    await expect(page.locator("#rapport")).to_contain_text("Lignes acceptées : 2")
    await expect(page.locator("#rapport")).to_contain_text("Étudiants ajoutés : 2")
    await j.step("registre-importe")

    # An event in failure, made for real (the mailer's database refuses one address), then replayed.
    address = unique_email("boite-en-panne")
    async with BrokenMailbox(platform, address) as mailbox:
        status, queued, _ = await boss.call("POST", "/api/v1/staff/mail/test", {"to": address})
        assert status == 202, queued
        row = page.locator("#lettres-mortes tbody tr", has_text=queued["event_id"])

        async def listed() -> bool:
            await page.goto(site.url("/personnel/administration/lettres-mortes"))
            return await row.count() == 1

        await eventually(listed, timeout=60, message="the event is in failure")
        await expect(row).to_contain_text("boîte de test indisponible")
        await expect(row.locator("td").nth(1)).to_have_text(re.compile(r"^\s*Courriels\s*mailer_notifications\s*$"))
        assert await row.get_attribute("data-service") == "mailer"
        seq = await row.get_attribute("data-seq")
        await j.step("lettres-mortes")
        # On a phone each event is a card: nothing to scroll sideways, the button on the screen.
        await page.set_viewport_size({"width": 360, "height": 740})
        await j.step("lettres-mortes-360px")
        assert await page.evaluate("document.documentElement.scrollWidth") <= 360
        for scroller in (page.locator("#lettres-mortes"), page.locator(".fr-table:has(#lettres-mortes)")):
            assert await scroller.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), "the table scrolls sideways"
        box = await row.get_by_role("button").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360, box
        await page.set_viewport_size({"width": 1280, "height": 900})
        await row.get_by_role("button").click()
        await flash(page, "Le rejeu a de nouveau échoué")
        await expect(row).to_have_count(1)
        await j.step("rejeu-en-echec")
        await mailbox.repair()
        await row.get_by_role("button").click()
        await flash(page, f"L'événement n° {seq} du service Courriels est rejoué.")
        await expect(row).to_have_count(0)
        await j.step("rejeu-reussi")
    await eventually(lambda: mails_to(smtp_sink, address) == 1, timeout=30, message="the test mail is sent")

    # After an incident, more letters than the page lists: it says how many there are in all.
    async with ManyDeadLetters(platform, 201):
        await page.goto(site.url("/personnel/administration/lettres-mortes"))
        await expect(page.locator("#lettres-mortes-plus")).to_have_text(
            re.compile(
                r"^\s*\d+ événements en échec en tout\s: la liste montre les 200 plus récents de chaque service\."
            )
        )
        await expect(page.locator("#lettres-mortes tbody tr[data-service=mailer]")).to_have_count(200)
        await j.step("lettres-mortes-au-dela-de-200")
    j.assert_no_script_error()


async def test_a_gestionnaire_gets_no_administration_and_a_forged_post_changes_nothing(
    site, browser_page, journey, smtp_sink
):
    platform = site.platform
    boss = await admin(platform)
    gestionnaire = await invited(platform, smtp_sink, boss, ["gestionnaire"], centres=["DAEU"])
    victim = await invited(platform, smtp_sink, boss, ["commission"], commissions=["COM-DAEU"])
    status, listed, _ = await boss.call("GET", "/api/v1/staff/accounts")
    victim_id = next(a["account_id"] for a in listed["items"] if a["email"] == victim.email)

    page = await browser_page()
    j = journey(page)
    await page.goto(site.url("/personnel"))
    await staff_login(page, gestionnaire.email, gestionnaire.code())
    await page.wait_for_url(re.compile(r"/personnel$"))
    for link in ADMIN_LINKS:
        await expect(page.locator("#navigation").get_by_role("link", name=link)).to_have_count(0)
    await j.step("tableau-de-bord-sans-administration")
    for path in (*ADMIN_PAGES, f"/personnel/administration/comptes/{victim_id}"):
        reply = await page.goto(site.url(path))
        assert reply.status == 403, (path, reply.status)
    await j.step("page-403")

    # Forged posts, each with the page's own CSRF token: refused (403), nothing changed.
    csrf = await page.context.cookies(site.base)
    token = next(c["value"] for c in csrf if c["name"] == "ecandidat_csrf")
    code = f"DU-{uuid.uuid4().hex[:6].upper()}"
    today = date.today().isoformat()
    forged = {
        "/personnel/administration/offre/formations/nouveau": {
            "code": code,
            "libelle": "Forgée",
            "centre_code": "DAEU",
            "type_code": "U-B2",
            "type_traitement": "acces_direct",
            "depot_debut": today,
            "depot_fin": today,
            "date_retour": today,
        },
        "/personnel/administration/offre/formations/DAEU-A": {"libelle": "Forgée"},
        f"/personnel/administration/comptes/{victim_id}": {"roles": "admin"},
        f"/personnel/administration/comptes/{victim_id}/etat": {"desactive": "oui"},
        "/personnel/administration/lettres-mortes/mailer/1/rejeu": {},
        "/personnel/administration/offre/campagnes/X/prolongations": {
            "incident_date": today,
            "incident_heure": "00:00",
            "heures": "24",
            "motif": "Forgé",
        },
    }
    for path, form in forged.items():
        reply = await page.request.post(site.url(path), form={"csrf": token, **form}, max_redirects=0)
        assert reply.status == 403, (path, reply.status, (await reply.text())[:300])
    reply = await page.request.post(
        site.url("/personnel/administration/registre"),
        max_redirects=0,
        multipart={
            "csrf": token,
            "fichier": {
                "name": "r.csv",
                "mimeType": "text/csv",
                "buffer": registry_csv([registry_row(bea("0123456789"))]),
            },
        },
    )
    assert reply.status == 403, reply.status
    status, offer, _ = await boss.call("GET", "/api/v1/staff/offre")
    assert code not in {f["code"] for f in offer["formations"]}
    assert next(f for f in offer["formations"] if f["code"] == "DAEU-A")["libelle"] == "DAEU option A"
    status, account, _ = await boss.call("GET", f"/api/v1/staff/accounts/{victim_id}")
    assert account["roles"] == ["commission"] and not account["disabled"]
    status, body = await victim.login()
    assert status == 201, body
    assert (await api(platform, "GET", "/api/v1/staff/me", token=gestionnaire.token))[0] == 200
    j.assert_no_script_error()
