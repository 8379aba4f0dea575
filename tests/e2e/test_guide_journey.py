"""The candidates' guide, end to end, through the gateway, every mail read from the SMTP sink.

Read it next to `shared/seed` (the guide): Étape 1 (create the account, activate it), Étape 2
(fill the dossier), Étape 3 (apply, deposit the pièces), Étape 4 (transmit), Étape 5 (a piece is
refused, replaced, the candidature transmitted again, found complete, decided), Étape 6 (confirm).
"""

from __future__ import annotations

import io
import json
import uuid
from datetime import date

import pytest
from pypdf import PdfReader

from services.candidatures.seed import seed_demo
from tests.conftest import eventually
from tests.e2e.test_accounts import activated_account, api, login, mail_to, sealing_overrides, text_of
from tests.e2e.event_contract import collect_events, violations
from tests.e2e.test_accounts_staff import admin, invited
from tests.unit.documents import corpus
from tests.unit.dossiers.samples import adresse, baccalaureat, infos_perso

pytestmark = pytest.mark.slow


async def whole_platform(start_platform):
    """Every service and the gateway, the demo campaign seeded."""
    p = await start_platform(
        "accounts",
        "dossiers",
        "candidatures",
        "documents",
        "mailer",
        documents={"s3_bucket": f"pieces-{uuid.uuid4().hex[:8]}"},
        **sealing_overrides(),
    )
    await seed_demo(p.services["candidatures"].pool, date.today())
    return p


@pytest.fixture
async def platform(start_platform):
    return await whole_platform(start_platform)


async def upload(platform, token: str, path: str, name: str, data: bytes) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}", "X-File-Name": name, "Content-Type": "application/octet-stream"}
    async with platform.http.put(platform.url(path), data=data, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_the_whole_guide(platform, smtp_sink, nats_server):
    expected = {
        "accounts.account.created",
        "accounts.account.activated",
        "candidatures.candidature.created",
        "candidatures.candidature.transmitted",
        "candidatures.decision.validated",
        "candidatures.candidature.confirmed",
    }
    async with collect_events(nats_server) as events:
        await _the_whole_guide(platform, smtp_sink)
        await eventually(
            lambda: expected <= {json.loads(m.data)["type"].removeprefix("fr.ecandidat.") for m in events},
            timeout=30,
            message="the journey's events",
        )
    # Every event the journey published, as an integrator receives it, matches the AsyncAPI document.
    status, document, _ = await api(platform, "GET", "/api/v1/asyncapi.json")
    assert status == 200
    assert violations(document, events) == []


async def _the_whole_guide(platform, smtp_sink):
    # Étape 1 — "Créer son dossier": the account, the mail with the numéro de dossier, activation, login.
    account = await activated_account(platform, smtp_sink, nom="Test2", prenom="Camille")
    email, numero = account["email"], account["numero_dossier"]
    assert f"Utilisateur : {numero}" in text_of(account["mail"])
    token = await login(platform, numero)

    # Étape 2 — "Renseigner son dossier": informations personnelles first, then adresse and baccalauréat.
    status, body, _ = await api(
        platform, "PUT", "/api/v1/dossier/sections/adresse", adresse(), token=token, headers={"If-Match": '"0"'}
    )
    assert status == 409, "adresse before informations personnelles"
    for slug, content in (
        ("informations-personnelles", infos_perso(nom_naissance="Test2", prenoms="Camille")),
        ("adresse", adresse()),
        ("baccalaureat", baccalaureat()),
    ):
        status, body, _ = await api(
            platform, "PUT", f"/api/v1/dossier/sections/{slug}", content, token=token, headers={"If-Match": '"0"'}
        )
        assert status == 200, (slug, body)

    # Étape 3 — "Dépôt de votre candidature": the offer tree, then "Voulez-vous candidater à la formation … ?".
    status, offre, _ = await api(platform, "GET", "/api/v1/offre")
    centres = {c["libelle"]: c for c in offre["centres"]}
    assert "Service de la Formation continue - Formations diplômantes" in centres
    status, candidature, _ = await api(
        platform, "POST", "/api/v1/candidatures", {"formation_code": "DAEU-A"}, token=token
    )
    assert status == 201, candidature
    cid = candidature["id"]
    mail = await mail_to(smtp_sink, email, "Votre candidature à la formation DAEU option A")
    assert f"Numéro de dossier eCandidat : {numero}" in text_of(mail)
    assert f"Vous avez jusqu'au {date.fromisoformat(candidature['date_limite_retour']):%d/%m/%Y}" in text_of(mail)
    # Personal information is now locked for the candidate (the email stays changeable elsewhere).
    status, body, _ = await api(
        platform,
        "PUT",
        "/api/v1/dossier/sections/informations-personnelles",
        infos_perso(nom_naissance="Autre"),
        token=token,
        headers={"If-Match": '"1"'},
    )
    assert status in (409, 403), body

    # The pièces justificatives: one file each (PDF, JPG or PNG), conditional ones "non concerné".
    async def pieces() -> dict[str, dict]:
        status, listed, _ = await api(platform, "GET", f"/api/v1/candidatures/{cid}/pieces", token=token)
        return {p["code"]: p for p in listed["items"]} if status == 200 else {}

    slots = await eventually(pieces, message="the piece slots are open")
    legit = corpus.legitimate()
    files = {
        "IDENTITE": ("CNI.jpg", legit["photo.jpg"]),
        "SCOLARITE": ("releve.png", legit["scan-1bit.png"]),
        "CV": ("CV.pdf", legit["cv-reportlab.pdf"]),
        "IMPOSITION": ("Avis_d_impot.pdf", legit["pillow-gris.pdf"]),
        "MOTIVATION-DAEU": ("Lettre_de_motivation.pdf", legit["lettre-3-pages.pdf"]),
        "FICHE-CLIENT": ("Fiche_client.pdf", corpus.reportlab_form()),
        "PRE-INSCRIPTION": ("Dossier_complementaire.pdf", legit["dossier-platypus.pdf"]),
    }
    # "Etape 4": transmission is refused while pieces are missing, and says which.
    status, refused, _ = await api(platform, "POST", f"/api/v1/candidatures/{cid}/transmission", token=token)
    assert status == 409 and "pièces manquantes" in refused["detail"], refused
    for code, (name, data) in files.items():
        status, body = await upload(
            platform, token, f"/api/v1/candidatures/{cid}/pieces/{slots[code]['slot_id']}/fichier", name, data
        )
        assert status == 201, (code, body)
    for code in ("SED", "MOINS-24", "FICHE-REGION", "RSA", "AAH"):
        status, body, _ = await api(
            platform,
            "PUT",
            f"/api/v1/candidatures/{cid}/pieces/{slots[code]['slot_id']}/concerne",
            {"concerne": False},
            token=token,
        )
        assert status == 200, body

    # Étape 4 — "Transmettre son dossier": statut réceptionné, accusé de réception by mail.
    status, view, _ = await api(platform, "POST", f"/api/v1/candidatures/{cid}/transmission", token=token)
    assert status == 200 and view["statut"] == "receptionne", view
    mail = await mail_to(smtp_sink, email, "Accusé de réception")
    assert "Réceptionné" in text_of(mail)
    status, body, _ = await api(platform, "POST", f"/api/v1/candidatures/{cid}/annulation", token=token)
    assert status == 409, "a transmitted candidature cannot be cancelled"

    # Étape 5 — the gestionnaire of the DAEU centre checks completeness and refuses the CV.
    root = await admin(platform)
    gest = await invited(platform, smtp_sink, root, ["gestionnaire"], centres=["DAEU"])
    prof = await invited(platform, smtp_sink, root, ["commission"], commissions=["COM-DAEU"])
    status, page, _ = await gest.call("GET", "/api/v1/staff/candidatures?formation_code=DAEU-A&statut=receptionne")
    assert status == 200 and cid in [r["id"] for r in page["items"]], page
    cv = slots["CV"]["slot_id"]
    status, body, _ = await gest.call(
        "POST",
        f"/api/v1/staff/candidatures/{cid}/pieces/{cv}/examen",
        {"decision": "refusee", "commentaire": "CV illisible : merci de déposer un PDF lisible."},
    )
    assert status == 200, body
    mail = await mail_to(smtp_sink, email, "Pièce refusée")
    assert "CV illisible : merci de déposer un PDF lisible." in text_of(mail)
    assert "la date limite de retour pour transmettre votre candidature reste valable" in text_of(mail)

    async def statut() -> str:
        return (await api(platform, "GET", f"/api/v1/candidatures/{cid}", token=token))[1]["statut"]

    await eventually(lambda: _is(statut, "incomplet"), message="candidature incomplet")

    # "Remplacer une pièce justificative refusée", then transmit again.
    status, body, _ = await api(platform, "DELETE", f"/api/v1/candidatures/{cid}/pieces/{cv}/fichier", token=token)
    assert status in (200, 204), body
    status, body = await upload(
        platform, token, f"/api/v1/candidatures/{cid}/pieces/{cv}/fichier", "CV-lisible.pdf", legit["pypdf-reecrit.pdf"]
    )
    assert status == 201, body
    status, view, _ = await api(platform, "POST", f"/api/v1/candidatures/{cid}/transmission", token=token)
    assert status == 200 and view["statut"] == "receptionne", view

    # Every piece validated (or non concernée): the gestionnaire sets the dossier complet.
    for code in files:
        status, body, _ = await gest.call(
            "POST", f"/api/v1/staff/candidatures/{cid}/pieces/{slots[code]['slot_id']}/examen", {"decision": "validee"}
        )
        assert status == 200, (code, body)

    async def proposed() -> bool:
        return (await gest.call("GET", f"/api/v1/staff/candidatures/{cid}"))[1]["complet_propose"]

    await eventually(proposed, message="complet proposed once every piece is validated")
    status, body, _ = await gest.call(
        "POST", "/api/v1/staff/candidatures/statut", {"candidature_ids": [cid], "statut": "complet"}
    )
    assert status == 200 and body["updated"] == [cid], body
    mail = await mail_to(smtp_sink, email, "Statut de votre dossier : Complet")
    assert "commission pédagogique" in text_of(mail)

    # The commission enters a favourable decision; the gestionnaire validates it: mail + admission letter.
    status, body, _ = await prof.call("POST", f"/api/v1/staff/candidatures/{cid}/decision", {"kind": "favorable"})
    assert status == 201, body
    status, seen, _ = await api(platform, "GET", f"/api/v1/candidatures/{cid}", token=token)
    assert seen["decision"] is None, "a decision reaches the candidate only once validated"
    status, body, _ = await gest.call(
        "POST", "/api/v1/staff/candidatures/decisions/validation", {"candidature_ids": [cid]}
    )
    assert status == 200, body
    mail = await mail_to(smtp_sink, email, "Avis favorable")
    assert "Vous trouverez en pièce jointe votre lettre d'admission" in text_of(mail)
    [letter] = [part for part in mail.iter_attachments() if part.get_content_type() == "application/pdf"]
    letter_text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(letter.get_content())).pages)
    assert "DAEU option A" in letter_text and numero in letter_text and "Camille" in letter_text

    # Étape 6 — "Confirmer sa candidature": before the deadline, with a mail confirming the choice.
    status, seen, _ = await api(platform, "GET", f"/api/v1/candidatures/{cid}", token=token)
    assert seen["decision"] == "favorable" and seen["can_confirm"] and seen["confirmation_deadline"]
    status, seen, _ = await api(platform, "POST", f"/api/v1/candidatures/{cid}/confirmation", token=token)
    assert status == 200 and seen["confirmed_at"], seen
    mail = await mail_to(smtp_sink, email, "Confirmation de votre candidature")
    assert "DAEU option A" in text_of(mail)

    # "À tout moment vous pouvez télécharger en PDF une copie de votre candidature."
    async with platform.http.get(
        platform.url(f"/api/v1/candidatures/{cid}/dossier.pdf"), headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        assert resp.status == 200 and resp.content_type == "application/pdf"
        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(await resp.read())).pages)
    assert "Favorable" in text or "favorable" in text


async def _is(get, value) -> bool:
    return await get() == value


async def test_refusals_and_cancellation_through_the_gateway(platform, smtp_sink):
    """Étape 3's rules as a candidate meets them: each refusal a clear French 4xx that changes nothing."""
    account = await activated_account(platform, smtp_sink)
    token = await login(platform, account["numero_dossier"])
    email = account["email"]
    status, body, _ = await api(platform, "POST", "/api/v1/candidatures", {"formation_code": "DAEU-A"}, token=token)
    assert status == 409 and body["reason"] == "dossier_incomplet", body
    assert "Votre dossier doit être complété avant de candidater" in body["detail"]
    assert body["rubriques"] == ["informations_personnelles", "adresse", "baccalaureat"], body
    for slug, content in (
        ("informations-personnelles", infos_perso()),
        ("adresse", adresse()),
        ("baccalaureat", baccalaureat()),
    ):
        status, body, _ = await api(
            platform, "PUT", f"/api/v1/dossier/sections/{slug}", content, token=token, headers={"If-Match": '"0"'}
        )
        assert status == 200, body
    status, body, _ = await api(platform, "POST", "/api/v1/candidatures", {"formation_code": "NOPE"}, token=token)
    assert status == 404 and body["detail"] == "Cette formation n'existe pas."
    status, body, _ = await api(platform, "POST", "/api/v1/candidatures", {"formation_code": "DU-MUSICO"}, token=token)
    assert status == 201, body
    first = body["id"]
    status, body, _ = await api(platform, "POST", "/api/v1/candidatures", {"formation_code": "DU-MUSICO"}, token=token)
    assert status == 409 and body["reason"] == "deja_candidat", body
    status, mine, _ = await api(platform, "GET", "/api/v1/candidatures", token=token)
    assert [c["id"] for c in mine["items"]] == [first]

    # Cancelling is definitive and mailed; the candidature shows as cancelled.
    status, body, _ = await api(platform, "POST", f"/api/v1/candidatures/{first}/annulation", token=token)
    assert status == 200 and body["statut"] == "annulee", body
    mail = await mail_to(smtp_sink, email, "Annulation de votre candidature à la formation DU Musicothérapie")
    assert "Cette annulation est définitive." in text_of(mail)
    status, body, _ = await api(platform, "POST", f"/api/v1/candidatures/{first}/annulation", token=token)
    assert status == 409 and body["reason"] == "deja_annulee"

    # Someone else's candidature does not exist for this candidate.
    other = await activated_account(platform, smtp_sink)
    other_token = await login(platform, other["numero_dossier"])
    for method, path in (("GET", ""), ("POST", "/transmission"), ("POST", "/annulation")):
        status, body, _ = await api(platform, method, f"/api/v1/candidatures/{first}{path}", token=other_token)
        assert status == 404, (path, body)
    status, body, _ = await api(platform, "GET", "/api/v1/candidatures/not-a-uuid", token=token)
    assert status == 404
