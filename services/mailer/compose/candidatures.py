"""Mails of the candidatures' lifecycle, worded as in the candidates' guide."""

from __future__ import annotations

from ecandidat.contracts import candidatures as c
from ecandidat.contracts.envelope import CloudEvent
from ecandidat.runtime.french import limite_courte

from ..catalogue import Mail, MailContext, composes

STATUTS = {"en_attente": "En attente", "receptionne": "Réceptionné", "complet": "Complet", "incomplet": "Incomplet"}


def to_candidate(template: str, event, **context) -> list[Mail]:
    return [Mail(template, context=context, account_id=event.account_id, candidature_id=event.candidature_id)]


@composes(c.CandidatureCreated)
def _created(event: c.CandidatureCreated, meta: CloudEvent, ctx: MailContext) -> list[Mail]:
    # The directory may not know this candidature yet (its own consumer runs beside this one):
    # everything the mail needs comes from the event itself.
    return [
        Mail(
            "candidature_created",
            account_id=event.account_id,
            context={
                "formation": event.formation_libelle,
                "centre": event.centre_libelle,
                "date_limite_retour": event.date_limite_retour,
                "base_url": ctx.public_base_url,
            },
        )
    ]


@composes(c.CandidatureCancelled)
def _cancelled(event: c.CandidatureCancelled, meta: CloudEvent, ctx: MailContext) -> list[Mail]:
    return to_candidate("candidature_cancelled", event, cancelled_at=event.cancelled_at)


@composes(c.CandidatureTransmitted)
def _transmitted(event: c.CandidatureTransmitted, meta: CloudEvent, ctx: MailContext) -> list[Mail]:
    return to_candidate("candidature_transmitted", event, received_at=event.received_at)


@composes(c.CandidatureStatusChanged)
def _status(event: c.CandidatureStatusChanged, meta: CloudEvent, ctx: MailContext) -> list[Mail]:
    if event.cause == "piece_refusee":
        return []  # the piece's refusal mail already says it, with the comment
    return to_candidate(
        "candidature_status",
        event,
        statut=STATUTS.get(event.new_status, event.new_status),
        commentaire=event.comment,
        changed_at=event.changed_at,
    )


@composes(c.CandidatureDeadlineChanged)
def _deadline(event: c.CandidatureDeadlineChanged, meta: CloudEvent, ctx: MailContext) -> list[Mail]:
    if not event.ouverte:
        return []  # transmitted or cancelled: nothing left to do before the deadline
    return to_candidate(
        "candidature_deadline",
        event,
        limite=limite_courte(event.limite_retour),
        ancienne=limite_courte(event.ancienne_limite_retour),
        prolongee=event.limite_retour > event.ancienne_limite_retour,
        incident=event.cause == "incident",
        motif=event.motif,
        base_url=ctx.public_base_url,
    )


@composes(c.DecisionValidated)
def _decision(event: c.DecisionValidated, meta: CloudEvent, ctx: MailContext) -> list[Mail]:
    if event.kind in ("favorable", "defavorable"):
        return []  # sent with its letter, once the documents service has generated it
    return to_candidate(
        f"decision_{event.kind}",
        event,
        rang=event.rang,
        commentaire=event.commentaire,
        preselection_date=event.preselection_date,
        preselection_heure=event.preselection_heure,
        preselection_lieu=event.preselection_lieu,
        contact_libelle=event.contact_libelle,
        contact_adresse=event.contact_adresse,
    )


@composes(c.CandidatureConfirmed)
def _confirmed(event: c.CandidatureConfirmed, meta: CloudEvent, ctx: MailContext) -> list[Mail]:
    return to_candidate(
        "candidature_confirmed",
        event,
        confirmed_at=event.confirmed_at,
        modalites=event.modalites_inscription,
        base_url=ctx.public_base_url,
        signataire_nom=event.signataire_nom,
        signataire_qualite=event.signataire_qualite,
    )


@composes(c.CandidatureWithdrawn)
def _withdrawn(event: c.CandidatureWithdrawn, meta: CloudEvent, ctx: MailContext) -> list[Mail]:
    return to_candidate("candidature_withdrawn", event, withdrawn_at=event.withdrawn_at, automatic=event.automatic)


@composes(c.ConfirmationReminderDue)
def _reminder(event: c.ConfirmationReminderDue, meta: CloudEvent, ctx: MailContext) -> list[Mail]:
    return to_candidate("confirmation_reminder", event, deadline=event.confirmation_deadline)


# What each alert tells the commission: the subject's words, what happened to the candidature
# (« La candidature n° … a été transmise le … »), and what follows from it.
ALERTES = {
    "transmission": ("candidature transmise", "a été transmise", "le dossier est réceptionné et attend son examen."),
    "annulation": ("candidature annulée", "a été annulée par le candidat", None),
    "desistement": ("désistement", "a fait l'objet d'un désistement", None),
    "promotion": (
        "promotion depuis la liste complémentaire",
        "a reçu un avis favorable depuis la liste complémentaire",
        "une place s'est libérée ; le candidat doit confirmer son inscription.",
    ),
}


@composes(c.CommissionAlerted)
def _commission_alerted(event: c.CommissionAlerted, meta: CloudEvent, ctx: MailContext) -> list[Mail]:
    candidat = " ".join(part for part in (event.prenom, event.nom) if part) or None
    return [
        Mail(
            "commission_alert",
            recipient=event.email,
            summary="commission_summary" if event.frequence == "quotidienne" else None,
            context={
                "commission": event.commission_libelle,
                "formation": event.formation_libelle,
                "numero_dossier": event.numero_dossier,
                "candidat": candidat,
                "objet": ALERTES[event.alerte][0],
                "evenement": ALERTES[event.alerte][1],
                "suite": ALERTES[event.alerte][2],
                "automatique": event.automatic,
                "at": meta.time,
                "lien": f"{ctx.public_base_url}/personnel/candidatures/{event.candidature_id}",
            },
        )
    ]
