"""Mails of the documents service's events: a refused piece, a decision with its letter."""

from __future__ import annotations

from ecandidat.contracts import documents as d
from ecandidat.contracts.envelope import CloudEvent

from ..catalogue import Attachment, Mail, MailContext, composes


@composes(d.PieceRefused)
def _refused(event: d.PieceRefused, meta: CloudEvent, ctx: MailContext) -> list[Mail]:
    return [
        Mail(
            "piece_refused",
            account_id=event.account_id,
            candidature_id=event.candidature_id,
            context={
                "piece": event.libelle,
                "commentaire": event.comment,
                "base_url": ctx.public_base_url,
                "transmise": event.candidature_transmise,
            },
        )
    ]


@composes(d.LetterGenerated)
def _letter(event: d.LetterGenerated, meta: CloudEvent, ctx: MailContext) -> list[Mail]:
    return [
        Mail(
            f"decision_{event.kind}",
            account_id=event.account_id,
            candidature_id=event.candidature_id,
            context={
                "motif": event.motif,
                "commentaire": event.commentaire,
                "deadline": event.confirmation_deadline,
                "promotion": event.origine == "liste_complementaire",
                "base_url": ctx.public_base_url,
                "signataire_nom": event.signataire_nom,
                "signataire_qualite": event.signataire_qualite,
            },
            attachments=(Attachment(str(event.decision_id), event.filename),),
        )
    ]
