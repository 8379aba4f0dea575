"""The candidate's journey where it went wrong (issue 10), through the gateway, as a candidate and
a gestionnaire meet it: `can_transmit`, the pieces right after applying, the candidature PDF, the
decision letter, the liste complémentaire, and a review sent twice."""

from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta

import pytest
from pypdf import PdfReader

from tests.conftest import eventually
from tests.e2e.test_accounts import activated_account, api, login, mail_to, text_of
from tests.e2e.test_accounts_staff import admin
from tests.e2e.test_guide_journey import whole_platform
from tests.unit.documents import corpus
from tests.unit.dossiers.samples import adresse, baccalaureat, infos_perso, stages

pytestmark = pytest.mark.slow


@pytest.fixture
async def platform(start_platform):
    return await whole_platform(start_platform)


async def candidate(platform, smtp_sink, **identity) -> dict:
    """An activated, logged-in candidate whose dossier allows applying."""
    account = await activated_account(platform, smtp_sink)
    token = await login(platform, account["numero_dossier"])
    for slug, content in (
        ("informations-personnelles", infos_perso(**identity)),
        ("adresse", adresse()),
        ("baccalaureat", baccalaureat()),
        ("stages", stages()),
    ):
        status, body, _ = await api(
            platform, "PUT", f"/api/v1/dossier/sections/{slug}", content, token=token, headers={"If-Match": '"0"'}
        )
        assert status == 200, (slug, body)
    return {**account, "token": token}


async def apply(platform, who: dict, formation: str) -> dict:
    status, view, _ = await api(
        platform, "POST", "/api/v1/candidatures", {"formation_code": formation}, token=who["token"]
    )
    assert status == 201, view
    return view


async def upload(platform, token: str, cid: str, slot: str, data: bytes, name: str = "piece.pdf") -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}", "X-File-Name": name, "Content-Type": "application/octet-stream"}
    async with platform.http.put(
        platform.url(f"/api/v1/candidatures/{cid}/pieces/{slot}/fichier"), data=data, headers=headers
    ) as resp:
        return resp.status, await resp.json()


async def download(platform, path: str, token: str) -> tuple[int, bytes, str]:
    async with platform.http.get(platform.url(path), headers={"Authorization": f"Bearer {token}"}) as resp:
        return resp.status, await resp.read(), resp.content_type


async def outbox(platform, service: str, candidature_id: str) -> list[dict]:
    """The events a service committed about one candidature, in order."""
    async with platform.services[service].pool.acquire() as conn:
        rows = await conn.fetch("SELECT event_id, subject, payload FROM outbox ORDER BY seq")
    events = [(r, json.loads(r["payload"])) for r in rows]
    return [
        {"event_id": r["event_id"], "subject": r["subject"], "data": body["data"]}
        for r, body in events
        if body["subject"] == candidature_id
    ]


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


async def test_the_pieces_are_there_the_instant_the_candidature_is_created(platform, smtp_sink):
    """Read-your-writes: the page the candidate opens after the 201 lists the pieces at once."""
    who = await candidate(platform, smtp_sink)
    for formation in ("DU-MUSICO", "M1-BIOVIE", "DAEU-A", "DU-LSF"):
        view = await apply(platform, who, formation)
        status, pieces, _ = await api(platform, "GET", f"/api/v1/candidatures/{view['id']}/pieces", token=who["token"])
        assert status == 200, (formation, pieces)
        assert pieces["items"] and all(p["statut"] == "en_attente" for p in pieces["items"]), pieces
        assert pieces["can_change"] is True
    # The event, arriving after the read, opens nothing twice and changes no slot.
    [created] = [
        e
        for e in await outbox(platform, "candidatures", view["id"])
        if e["subject"] == "evt.candidatures.candidature.created"
    ]
    docs = platform.services["documents"]

    async def consumed() -> bool:
        async with docs.pool.acquire() as conn:
            return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM inbox WHERE event_id = $1)", created["event_id"])

    await eventually(consumed, message="candidature.created consumed by documents")
    status, after, _ = await api(platform, "GET", f"/api/v1/candidatures/{view['id']}/pieces", token=who["token"])
    assert [p["slot_id"] for p in after["items"]] == [p["slot_id"] for p in pieces["items"]]


async def test_can_transmit_says_what_the_transmission_will_answer(platform, smtp_sink):
    who = await candidate(platform, smtp_sink)
    code = await own_formation(await admin(platform), platform.clock.now().date())
    view = await apply(platform, who, code)
    cid, token = view["id"], who["token"]
    assert view["can_transmit"] is False, "a fresh candidature has every piece to deposit"

    async def seen() -> dict:
        return (await api(platform, "GET", f"/api/v1/candidatures/{cid}", token=token))[1]

    assert (await seen())["can_transmit"] is False

    async def transmission_answered() -> tuple[int, dict] | None:
        # 503 « en cours de préparation » until documents has created the pieces: a client retries
        status, body, _ = await api(platform, "POST", f"/api/v1/candidatures/{cid}/transmission", token=token)
        return None if status == 503 else (status, body)

    status, refused = await eventually(transmission_answered, message="transmission answered once pieces exist")
    assert status == 409 and refused["reason"] == "pieces_manquantes", refused
    [mine] = (await api(platform, "GET", "/api/v1/candidatures", token=token))[1]["items"]
    assert mine["can_transmit"] is False

    status, pieces, _ = await api(platform, "GET", f"/api/v1/candidatures/{cid}/pieces", token=token)
    slots = [p["slot_id"] for p in pieces["items"] if not p["conditionnelle"]]
    for slot in slots:
        status, body = await upload(platform, token, cid, slot, corpus.reportlab_pdf())
        assert status == 201, body
    # Right after the last upload (no waiting for events): transmittable, and indeed transmitted.
    assert (await seen())["can_transmit"] is True
    status, body, _ = await api(
        platform, "DELETE", f"/api/v1/candidatures/{cid}/pieces/{slots[0]}/fichier", token=token
    )
    assert status == 200, body
    assert (await seen())["can_transmit"] is False
    status, body = await upload(platform, token, cid, slots[0], corpus.reportlab_pdf())
    assert status == 201 and (await seen())["can_transmit"] is True
    status, done, _ = await api(platform, "POST", f"/api/v1/candidatures/{cid}/transmission", token=token)
    assert status == 200 and done["statut"] == "receptionne" and done["can_transmit"] is False, done


async def test_the_candidature_pdf_reads_like_the_form(platform, smtp_sink):
    who = await candidate(platform, smtp_sink, date_naissance="1990-04-12", prenoms="Zoé Lucie", nom_naissance="Martin")
    view = await apply(platform, who, "DU-MUSICO")
    status, data, ctype = await download(platform, f"/api/v1/candidatures/{view['id']}/dossier.pdf", who["token"])
    assert status == 200 and ctype == "application/pdf", data[:200]
    text = pdf_text(data)
    flat = " ".join(text.split())
    for words in (
        "Récapitulatif de votre candidature - Zoé Lucie Martin",
        "Nom de naissance Martin",
        "Prénoms Zoé Lucie",
        "Date de naissance 12 avril 1990",
        "Commune de naissance Toulouse",
        "Département de naissance Haute-Garonne (31)",
        "Nationalité France",
        "Mention Bien",
        "Situation Titulaire du baccalauréat",
        "Stage 1",
        "Organisme d'accueil CHU de Toulouse",
        "Date limite de retour",
        "DU Musicothérapie",
    ):
        assert words in flat, (words, flat[:3000])
    for raw in ("Prenoms", "Nom naissance", "Items 1", "31555", "1990-04-12", "Commune naissance", "bien,", "› "):
        assert raw not in text, (raw, text[:3000])
    # The sections come in the guide's order, after the récapitulatif.
    order = [
        "Informations détaillées",
        "Dates utiles",
        "Adresse de contact",
        "Informations personnelles",
        "Adresse",
        "Baccalauréat",
        "Cursus interne",
        "Cursus externe",
        "Stages",
        "Expériences professionnelles",
        "Pièces justificatives",
    ]
    lines = [line.strip() for line in text.splitlines()]
    positions = [lines.index(title) for title in order]
    assert positions == sorted(positions), list(zip(order, positions))


async def test_the_same_review_twice_is_one_effect_and_one_mail(platform, smtp_sink):
    """A gestionnaire refuses a piece; the gateway times out and they send it again: the candidate
    gets one mail, the candidature's history one entry, the event stream one event."""
    who = await candidate(platform, smtp_sink)
    view = await apply(platform, who, "DU-MUSICO")
    cid, token = view["id"], who["token"]
    status, pieces, _ = await api(platform, "GET", f"/api/v1/candidatures/{cid}/pieces", token=token)
    first, second = pieces["items"][0]["slot_id"], pieces["items"][1]["slot_id"]
    for slot in (first, second):
        assert (await upload(platform, token, cid, slot, corpus.reportlab_pdf()))[0] == 201
    root = await admin(platform)
    refusal = {"decision": "refusee", "commentaire": "Document illisible : scannez-le à nouveau."}
    replies = [
        await root.call("POST", f"/api/v1/staff/candidatures/{cid}/pieces/{first}/examen", refusal) for _ in range(3)
    ]
    assert [r[0] for r in replies] == [200, 200, 200], replies
    assert {r[1]["statut"] for r in replies} == {"refusee"} and len({r[1]["reviewed_at"] for r in replies}) == 1
    validation = await root.call(
        "POST", f"/api/v1/staff/candidatures/{cid}/pieces/{second}/examen", {"decision": "validee"}
    )
    again = await root.call("POST", f"/api/v1/staff/candidatures/{cid}/pieces/{second}/examen", {"decision": "validee"})
    assert validation[0] == again[0] == 200 and validation[1]["reviewed_at"] == again[1]["reviewed_at"]

    subjects = [e["subject"] for e in await outbox(platform, "documents", cid)]
    assert subjects.count("evt.documents.piece.refused") == 1 and subjects.count("evt.documents.piece.validated") == 1

    # A refusal with a new comment is news: the candidate is told the new comment.
    newer = {"decision": "refusee", "commentaire": "Il manque la page 2 du document."}
    assert (await root.call("POST", f"/api/v1/staff/candidatures/{cid}/pieces/{first}/examen", newer))[0] == 200
    await mail_to(smtp_sink, who["email"], "Pièce refusée", count=2)
    mails = [m for m in smtp_sink.messages() if m["To"] == who["email"] and "Pièce refusée" in m["Subject"]]
    assert [("illisible" in text_of(m), "la page 2" in text_of(m)) for m in mails] == [(True, False), (False, True)]
    # Not transmitted yet: the dossier is not « incomplet », the candidate deposits another file then transmits.
    assert all("incomplet" not in m["Subject"] and "pas encore transmise" in text_of(m) for m in mails), [
        m["Subject"] for m in mails
    ]

    async def history() -> list[str]:
        status, seen, _ = await root.call("GET", f"/api/v1/staff/candidatures/{cid}")
        return [h["action"] for h in seen["history"]]

    await eventually(lambda: _has(history, "piece_refusee", 2), message="both refusals in the history")
    assert (await history()).count("piece_validee") == 1

    # The candidate's "suivi": the steps with the comments, never the staff's notes nor who acted.
    note = "Candidat connu de la commission, à rappeler."
    assert (await root.call("POST", f"/api/v1/staff/candidatures/{cid}/notes", {"body": note}))[0] == 201
    status, suivi, _ = await api(platform, "GET", f"/api/v1/candidatures/{cid}/suivi", token=token)
    assert status == 200, suivi
    steps = [(e["etape"], e.get("commentaire")) for e in suivi["etapes"]]
    assert steps[0] == ("creee", None)
    assert [s for s in steps if s[0] == "piece_refusee"] == [
        ("piece_refusee", refusal["commentaire"]),
        ("piece_refusee", newer["commentaire"]),
    ]
    assert [s for s in steps if s[0] == "piece_validee"] == [("piece_validee", None)]
    assert all(e["libelle"] for e in suivi["etapes"]) and note not in json.dumps(suivi)
    assert "actor" not in json.dumps(suivi) and "admin" not in json.dumps(suivi).lower()
    # Another candidate cannot read it (nothing says that it exists).
    stranger = await candidate(platform, smtp_sink)
    status, problem, _ = await api(platform, "GET", f"/api/v1/candidatures/{cid}/suivi", token=stranger["token"])
    assert status == 404 and problem["status"] == 404, problem


async def _has(history, action: str, count: int) -> bool:
    return (await history()).count(action) == count


async def own_formation(root, today, **settings) -> str:
    """A formation of the Formation continue centre for this test alone (the demo's are shared)."""
    code = f"DU-{uuid.uuid4().hex[:8].upper()}"
    body = {
        "libelle": f"DU de la liste {code}",
        "centre_code": "FC-DIPL",
        "type_code": "U-B3",
        "commission_code": "COM-FC",
        "type_traitement": "acces_controle",
        "depot_debut": str(today),
        "depot_fin": str(today + timedelta(days=30)),
        "date_retour": str(today + timedelta(days=40)),
        **settings,
    }
    status, reply, _ = await root.call("PUT", f"/api/v1/staff/offre/formations/{code}", body)
    assert status == 201, reply
    return code


async def staff_decides(root, cid: str, kind: str, **details) -> None:
    for path, body in (
        ("/api/v1/staff/candidatures/statut", {"candidature_ids": [cid], "statut": "complet"}),
        (f"/api/v1/staff/candidatures/{cid}/decision", {"kind": kind, **details}),
        ("/api/v1/staff/candidatures/decisions/validation", {"candidature_ids": [cid]}),
    ):
        status, reply, _ = await root.call("POST", path, body)
        assert status in (200, 201), (path, reply)


async def test_the_decision_letter_is_downloadable_and_says_what_the_mails_say(platform, smtp_sink):
    root = await admin(platform)
    modalites = "Votre inscription administrative se fait en ligne, avec le lien envoyé sous huit jours."
    code = await own_formation(root, platform.clock.now().date(), modalites_inscription=modalites)
    admitted, refused = await candidate(platform, smtp_sink), await candidate(platform, smtp_sink)
    cid = (await apply(platform, admitted, code))["id"]
    other = (await apply(platform, refused, code))["id"]
    status, body, _ = await api(platform, "GET", f"/api/v1/candidatures/{cid}/lettre", token=admitted["token"])
    assert status == 404 and body["reason"] == "pas_de_lettre", body

    await staff_decides(root, cid, "favorable")
    mail = await mail_to(smtp_sink, admitted["email"], "Avis favorable")
    status, letter, ctype = await download(platform, f"/api/v1/candidatures/{cid}/lettre", admitted["token"])
    assert status == 200 and ctype == "application/pdf"
    [attached] = [p.get_content() for p in mail.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert attached == letter, "the letter downloaded is the one mailed"
    text = " ".join(pdf_text(letter).split())
    for words in (
        "Lettre d'admission",
        "DU de la liste",
        admitted["numero_dossier"],
        "Modalités d'inscription administrative",
        "Une fois votre admission confirmée",
        modalites,
        "Jean Delmas",
        "Directeur du service de la formation continue",
    ):
        assert words in text, (words, text)
    mail_text = " ".join(text_of(mail).split())
    assert "selon les modalités indiquées dans votre lettre d'admission" in mail_text
    assert "vous seront précisées après votre confirmation" not in mail_text, "the mail and the letter disagreed"
    assert "Jean Delmas Directeur du service de la formation continue" in mail_text
    assert "Une place s'est libérée" not in mail_text + text

    status, seen, _ = await api(platform, "POST", f"/api/v1/candidatures/{cid}/confirmation", token=admitted["token"])
    assert status == 200, seen
    confirmed = " ".join(
        text_of(await mail_to(smtp_sink, admitted["email"], "Confirmation de votre candidature")).split()
    )
    assert "selon les modalités indiquées dans votre lettre d'admission" in confirmed and modalites in confirmed
    assert "Jean Delmas" in confirmed

    # A refusal has its letter too, with the motive; staff in scope read it; nobody else does.
    await staff_decides(root, other, "defavorable", motif="Prérequis non satisfaits")
    await mail_to(smtp_sink, refused["email"], "Avis défavorable")
    status, letter, _ = await download(platform, f"/api/v1/candidatures/{other}/lettre", refused["token"])
    assert status == 200 and "Motif : Prérequis non satisfaits" in " ".join(pdf_text(letter).split())
    status, data, _ = await download(platform, f"/api/v1/staff/candidatures/{other}/lettre", root.token)
    assert status == 200 and data == letter
    status, _, _ = await download(platform, f"/api/v1/candidatures/{other}/lettre", admitted["token"])
    assert status == 404


async def test_a_freed_place_goes_to_the_next_and_the_list_moves_up(platform, smtp_sink):
    root = await admin(platform)
    code = await own_formation(root, platform.clock.now().date(), capacite=1)
    a, b, c, d = [await candidate(platform, smtp_sink) for _ in range(4)]
    ids = {who["email"]: (await apply(platform, who, code))["id"] for who in (a, b, c, d)}
    await staff_decides(root, ids[a["email"]], "favorable")
    for who, rang in ((b, 1), (c, 2), (d, 3)):
        await staff_decides(root, ids[who["email"]], "liste_complementaire", rang=rang)
    await mail_to(smtp_sink, a["email"], "Avis favorable")

    status, seen, _ = await api(
        platform, "POST", f"/api/v1/candidatures/{ids[a['email']]}/desistement", token=a["token"]
    )
    assert status == 200, seen
    mail = await mail_to(smtp_sink, b["email"], "Avis favorable")
    assert text_of(mail).count("Une place s'est libérée") == 1, text_of(mail)
    status, promoted, _ = await api(platform, "GET", f"/api/v1/candidatures/{ids[b['email']]}", token=b["token"])
    assert promoted["decision"] == "favorable" and promoted["can_confirm"], promoted
    status, letter, _ = await download(platform, f"/api/v1/candidatures/{ids[b['email']]}/lettre", b["token"])
    assert " ".join(pdf_text(letter).split()).count("Une place s'est libérée") == 1
    # The next ones move up.
    for who, rang in ((c, 1), (d, 2)):
        status, seen, _ = await api(platform, "GET", f"/api/v1/candidatures/{ids[who['email']]}", token=who["token"])
        assert (seen["decision"], seen["decision_rang"]) == ("liste_complementaire", rang), seen
    status, staff_view, _ = await root.call("GET", f"/api/v1/staff/candidatures/{ids[c['email']]}")
    moves = [h["details"] for h in staff_view["history"] if h["action"] == "rang_liste_complementaire"]
    assert moves == [{"old": 2, "new": 1}] and staff_view["rang"] == 1
