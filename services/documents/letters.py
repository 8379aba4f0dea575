"""Admission and refusal letters: on `decision.validated` (favorable or défavorable) the letter is
generated (reportlab), stored under a key derived from the decision (a redelivered event writes
the same object again), and `letter.generated` tells the mailer to send the decision with it."""

from __future__ import annotations

import asyncio
import io
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

import asyncpg
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

from ecandidat.contracts.candidatures import DecisionValidated
from ecandidat.contracts.documents import LetterGenerated
from ecandidat.contracts.envelope import CloudEvent
from ecandidat.runtime.outbox import add_event

from .domain import PARIS

if TYPE_CHECKING:
    from .service import DocumentsService

LETTERS = {"favorable": "admission", "defavorable": "refus"}


def on_decision(svc: DocumentsService):
    async def handle(conn: asyncpg.Connection, event: DecisionValidated, meta: CloudEvent) -> None:
        if event.kind not in LETTERS:
            return
        pdf = await asyncio.get_running_loop().run_in_executor(svc.endpoint.inspector, render_letter, event)
        key = f"lettres/{event.candidature_id}/{event.decision_id}.pdf"
        await svc.storage.put_bytes(key, pdf)
        await add_event(conn, LetterGenerated(
            candidature_id=event.candidature_id, account_id=event.account_id, decision_id=event.decision_id,
            kind=event.kind, bucket=svc.storage.bucket, key=key,
            filename=f"lettre-{LETTERS[event.kind]}-{event.numero_dossier}.pdf",
            formation_libelle=event.formation_libelle, motif=event.motif, commentaire=event.commentaire,
            confirmation_deadline=event.confirmation_deadline, automatic=event.automatic,
        ), subject=str(event.candidature_id), clock=svc.clock)

    return handle


def render_letter(event: DecisionValidated) -> bytes:
    styles = getSampleStyleSheet()
    body = styles["BodyText"]
    name = " ".join(p for p in (event.prenom, event.nom) if p) or "Madame, Monsieur"
    day = event.validated_at.astimezone(PARIS)
    lines = [
        (escape(event.centre_libelle), styles["Heading3"]),
        *[(escape(line), body) for line in [event.contact_libelle, *event.contact_adresse.splitlines()]],
        (f"Le {day:%d/%m/%Y}", body),
        (escape(f"{name} — numéro de dossier {event.numero_dossier}"), body),
    ]
    if event.kind == "favorable":
        title = "Lettre d'admission"
        text = [f"Nous avons le plaisir de vous informer que la commission a émis un avis favorable à votre "
                f"candidature à la formation « {event.formation_libelle} »."]
        if event.confirmation_deadline:
            text.append("Vous devez confirmer votre admission, ou vous désister, avant le "
                        f"{event.confirmation_deadline.astimezone(PARIS):%d/%m/%Y à %H:%M} depuis votre espace "
                        "candidat ; sans réponse dans ce délai, votre candidature sera considérée comme un désistement.")
    else:
        title = "Avis défavorable"
        text = [f"Nous avons le regret de vous informer que la commission a émis un avis défavorable à votre "
                f"candidature à la formation « {event.formation_libelle} »."]
        if event.motif:
            text.append(f"Motif : {event.motif}")
    if event.commentaire:
        text.append(event.commentaire)
    story = [Paragraph(t, s) for t, s in lines]
    story += [Spacer(1, 1 * cm), Paragraph(title, styles["Title"])]
    story += [Paragraph(escape(t), body) for t in text]
    story += [Spacer(1, 1 * cm), Paragraph("Le service de scolarité", body)]
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4, title=title, author="eCandidat").build(story)
    return out.getvalue()
