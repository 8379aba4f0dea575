"""Admission and refusal letters: on `decision.validated` (favorable or défavorable) the letter is
generated (reportlab) and stored under a key derived from the decision before the consumer's
transaction opens (a redelivered event writes the same object again), then recorded as the
letter of that decision, and `letter.generated` tells the
mailer to send the decision with it. Every validated decision becomes the candidature's current
one here: the candidate downloads the letter of their current decision (`open_letter_download`).

The letter says what the mails say: the favourable mail sends it and points to it for the
modalités d'inscription, the confirmation mail repeats them; all three are signed by the same
signatory (the formation's, else the centre's, else "Le service de scolarité")."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass

import asyncpg
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import SimpleDocTemplate, Spacer

from ecandidat.contracts.candidatures import DecisionValidated
from ecandidat.contracts.documents import LetterGenerated
from ecandidat.contracts.envelope import CloudEvent
from ecandidat.runtime.consumer import Subscription
from ecandidat.runtime.french import avant_limite
from ecandidat.runtime.outbox import add_event

from . import store
from .context import Deps
from .domain import PARIS
from .pdftext import paragraph

LETTERS = {"favorable": "admission", "defavorable": "refus"}
PROMOTION = "Une place s'est libérée dans la formation « {formation} » : vous bénéficiez de la liste complémentaire."


# `letter.generated` repeats the validated decision's facts (same names, same meaning) for the mailer.
SHARED_FACTS = tuple(name for name in LetterGenerated.model_fields if name in DecisionValidated.model_fields)


@dataclass(frozen=True)
class StoredLetter:
    key: str
    filename: str
    size: int


def on_decision(deps: Deps) -> Subscription:
    """A validated decision: its letter rendered and stored before the transaction (`prepare`),
    then recorded and announced in it. The key is the decision's: preparing again rewrites the
    same object."""

    async def prepare(event: DecisionValidated, meta: CloudEvent) -> StoredLetter | None:
        if event.kind not in LETTERS:
            return None
        pdf = await asyncio.get_running_loop().run_in_executor(deps.inspector, render_letter, event)
        key = f"lettres/{event.candidature_id}/{event.decision_id}.pdf"
        await deps.storage.put_bytes(key, pdf)
        return StoredLetter(key, f"lettre-{LETTERS[event.kind]}-{event.numero_dossier}.pdf", len(pdf))

    async def handle(
        conn: asyncpg.Connection, event: DecisionValidated, meta: CloudEvent, letter: StoredLetter | None
    ) -> None:
        await store.set_current_decision(conn, event.candidature_id, event.decision_id, event.revision)
        if letter is None:
            return
        await store.insert_letter(
            conn,
            event.decision_id,
            event.candidature_id,
            event.kind,
            letter.key,
            letter.filename,
            letter.size,
            deps.now(),
        )
        generated = LetterGenerated(
            **{name: getattr(event, name) for name in SHARED_FACTS},
            bucket=deps.storage.bucket,
            key=letter.key,
            filename=letter.filename,
        )
        await add_event(conn, generated, subject=str(event.candidature_id), clock=deps.clock)

    return Subscription(DecisionValidated, handle, prepare=prepare)


def signature(event: DecisionValidated) -> list[str]:
    """Who signs: the signatory's name and title, else the service; then the centre."""
    lines = [event.signataire_nom, event.signataire_qualite] if event.signataire_nom else ["Le service de scolarité"]
    return [line for line in lines if line] + [event.centre_libelle]


def letter_text(event: DecisionValidated) -> tuple[str, list[tuple[str, str]]]:
    """The title and the paragraphs (style, text) of the letter, in French."""
    day = f"{event.validated_at.astimezone(PARIS):%d/%m/%Y}"
    formation = event.formation_libelle
    if event.kind == "favorable":
        title = "Lettre d'admission"
        body = [("subject", f"Objet : admission en « {formation} »")]
        if event.origine == "liste_complementaire":
            body.append(("text", PROMOTION.format(formation=formation)))
        body.append(
            (
                "text",
                f"Nous avons le plaisir de vous informer que la commission a émis, le {day}, un avis "
                f"favorable à votre candidature à la formation « {formation} ».",
            )
        )
        if event.commentaire:
            body.append(("text", event.commentaire))
        if event.confirmation_deadline:
            deadline = avant_limite(event.confirmation_deadline)
            body.append(
                (
                    "text",
                    f"Vous devez impérativement confirmer votre souhait d'inscription, ou vous désister si "
                    f"vous renoncez à l'admission, {deadline}, depuis votre "
                    "espace candidat (« Confirmation candidature » ou « Désistement candidature »). "
                    "L'absence de confirmation de votre part dans le délai imparti sera considérée comme "
                    "un désistement définitif.",
                )
            )
        body.append(("heading", "Modalités d'inscription administrative"))
        body.append(("text", "Une fois votre admission confirmée :"))
        body += [("text", paragraph) for paragraph in (event.modalites_inscription or "").split("\n\n") if paragraph]
    else:
        title = "Avis défavorable"
        body = [
            ("subject", f"Objet : votre candidature à la formation « {formation} »"),
            (
                "text",
                f"La commission pédagogique a examiné votre candidature à la formation « {formation} » et a "
                f"émis, le {day}, un avis défavorable.",
            ),
        ]
        if event.motif:
            body.append(("text", f"Motif : {event.motif}"))
        if event.commentaire:
            body.append(("text", event.commentaire))
    body.append(("text", "Veuillez agréer l'expression de nos sincères salutations."))
    return title, body


def render_letter(event: DecisionValidated) -> bytes:
    styles = getSampleStyleSheet()
    text_style = styles["BodyText"].clone("letter", fontSize=10.5, leading=14, spaceAfter=6)
    subject = text_style.clone("subject", fontName="Helvetica-Bold")
    sign = text_style.clone("signature", leftIndent=9 * cm, spaceAfter=0)
    name = " ".join(p for p in (event.prenom, event.nom) if p) or "Madame, Monsieur"
    title, body = letter_text(event)
    story = [paragraph(event.centre_libelle, styles["Heading3"])]
    story += [paragraph(line, text_style) for line in [event.contact_libelle, *event.contact_adresse.splitlines()]]
    story += [
        Spacer(1, 0.5 * cm),
        paragraph(name, sign),
        paragraph(f"Numéro de dossier eCandidat : {event.numero_dossier}", sign),
        Spacer(1, 0.3 * cm),
        paragraph(f"Le {event.validated_at.astimezone(PARIS):%d/%m/%Y}", sign),
        Spacer(1, 0.8 * cm),
        paragraph(title, styles["Title"]),
    ]
    kinds = {"subject": subject, "text": text_style, "heading": styles["Heading4"]}
    story += [paragraph(t, kinds[k], line_breaks=True) for k, t in body]
    story.append(Spacer(1, 0.8 * cm))
    story += [paragraph(line, sign) for line in signature(event)]
    out = io.BytesIO()
    SimpleDocTemplate(
        out, pagesize=A4, title=title, author="eCandidat", leftMargin=2.2 * cm, rightMargin=2.2 * cm
    ).build(story)
    return out.getvalue()
