"""The one path of every change of a candidature's state: the transition table of `domain.py`
decides, the store writes, the history and the event follow in the same transaction.

The candidate's transmission and cancellation, a piece the documents service refused, the staff's
statut du dossier, the candidate's confirmation and désistement (or the system's, when the deadline
passed) all go through `change_statut`; nothing else writes `statut`, `cancelled_at`,
`confirmed_at` or `withdrawn_at`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from ecandidat.contracts import candidatures as c
from ecandidat.contracts.base import Event

from . import domain, store
from .domain import ANNULEE, Action


class Tx(Protocol):
    """What `change_statut` needs of a transaction (`store.Tx`, or an in-memory stand-in)."""

    async def set_statut(
        self, candidature_id: uuid.UUID, statut: str, at: datetime, *, received: bool = False
    ) -> None: ...
    async def mark_cancelled(self, candidature_id: uuid.UUID, at: datetime) -> None: ...
    async def mark_confirmed(self, candidature_id: uuid.UUID, at: datetime) -> None: ...
    async def mark_withdrawn(self, candidature_id: uuid.UUID, at: datetime, automatic: bool) -> None: ...
    async def add_history(
        self, candidature_id: uuid.UUID, at: datetime, actor: str, action: str, **details: Any
    ) -> None: ...
    async def view(self, candidature_id: uuid.UUID) -> Mapping[str, Any]: ...
    async def publish(self, event: Event, subject: uuid.UUID) -> None: ...


# Actions that do something even when the statut du dossier stays (the others then change nothing).
_ALWAYS_RECORDED = {Action.CONFIRM, Action.WITHDRAW, Action.EXPIRE}


async def change_statut(
    tx: Tx,
    row: Mapping[str, Any],
    action: Action,
    *,
    by: str,
    now: datetime,
    at: datetime | None = None,
    comment: str | None = None,
    cause: str | None = None,
    piece: str | None = None,
) -> Mapping[str, Any] | None:
    """Apply `action` to the candidature of `row` (locked by the caller): refused with the table's
    French error, or written with its history and its event. `at` is the statut's date when staff
    give one (now otherwise). Returns the candidature as it is after, or None when the action
    changed nothing (the statut it already has, a refused piece before transmission)."""
    cand = store.candidature_of(row)
    old, new = cand.etat, cand.next_statut(action, now)
    if new == old and action not in _ALWAYS_RECORDED:
        return None
    cid = row["id"]
    at = at or now
    automatic = action is Action.EXPIRE
    if action is Action.CANCEL:
        await tx.mark_cancelled(cid, now)
    elif action is Action.CONFIRM:
        await tx.mark_confirmed(cid, now)
    elif action in (Action.WITHDRAW, Action.EXPIRE):
        await tx.mark_withdrawn(cid, now, automatic)
    else:
        await tx.set_statut(cid, new, at, received=action is Action.TRANSMIT)
    entry, details = history_entry(action, old, new, at, comment, cause, piece, automatic)
    await tx.add_history(cid, now, by, entry, **details)
    view = await tx.view(cid)
    event = event_of(action, view, old, new, now, at, comment, cause, automatic)
    await tx.publish(event, cid)
    alert = commission_alert(event, view)
    if alert is not None:
        await tx.publish(alert, cid)
    return view


def history_entry(
    action: Action,
    old: str,
    new: str,
    at: datetime,
    comment: str | None,
    cause: str | None,
    piece: str | None,
    automatic: bool,
) -> tuple[str, dict[str, Any]]:
    """The history entry's action and details (what `suivi.etape` reads back)."""
    match action:
        case Action.TRANSMIT:
            return "transmitted", {"previous": old}
        case Action.CANCEL:
            return "cancelled", {}
        case Action.CONFIRM:
            return "confirmation", {}
        case Action.WITHDRAW | Action.EXPIRE:
            return "desistement", {"automatic": automatic}
        case Action.PIECE_REFUSED:
            return "statut", {"old": old, "new": new, "cause": cause, "piece": piece}
    return "statut", {"old": old, "new": new, "date": at, "commentaire": comment}


def event_of(
    action: Action,
    view: Mapping[str, Any],
    old: str,
    new: str,
    now: datetime,
    at: datetime,
    comment: str | None,
    cause: str | None,
    automatic: bool,
) -> Event:
    facts = event_facts(view)
    match action:
        case Action.TRANSMIT:
            return c.CandidatureTransmitted(**facts, received_at=now, centre_libelle=view["centre_libelle"])
        case Action.CANCEL:
            return c.CandidatureCancelled(**facts, cancelled_at=now)
        case Action.CONFIRM:
            return c.CandidatureConfirmed(**facts, confirmed_at=now, **letter_facts(view))
        case Action.WITHDRAW | Action.EXPIRE:
            return c.CandidatureWithdrawn(**facts, withdrawn_at=now, automatic=automatic)
    assert new != ANNULEE
    return c.CandidatureStatusChanged(
        **facts, old_status=old, new_status=new, changed_at=at, comment=comment, **({"cause": cause} if cause else {})
    )


# The candidature events a commission may ask to be told of, and the alert each one is.
ALERTES: dict[type[Event], str] = {
    c.CandidatureTransmitted: "transmission",
    c.CandidatureCancelled: "annulation",
    c.CandidatureWithdrawn: "desistement",
    c.CandidaturePromoted: "promotion",
}


def commission_alert(event: Event, view: Mapping[str, Any]) -> c.CommissionAlerted | None:
    """The mail to the formation's commission that `event` calls for (a candidature view row), when
    the commission has a mailbox and asked for this alert; sent with the event, in its transaction."""
    alerte = ALERTES.get(type(event))
    if alerte is None or not view.get("commission_email") or alerte not in (view.get("commission_alertes") or ()):
        return None
    return c.CommissionAlerted(
        **event_facts(view),
        commission_code=view["commission_code"],
        commission_libelle=view["commission_libelle"],
        email=view["commission_email"],
        alerte=alerte,
        frequence=view["commission_alertes_frequence"],
        nom=view["nom"],
        prenom=view["prenom"],
        automatic=getattr(event, "automatic", False),
    )


def event_facts(row: Mapping[str, Any]) -> dict:
    """What every candidature event says of it (from a candidature view row)."""
    return dict(
        candidature_id=row["id"],
        account_id=row["account_id"],
        numero_dossier=row["numero_dossier"],
        formation_code=row["formation_code"],
        formation_libelle=row["formation_libelle"],
        centre_code=row["centre_code"],
        revision=row["version"],
    )


def letter_facts(row: Mapping[str, Any]) -> dict:
    """What the admission letter, and the mails that refer to it, name (from a candidature view row)."""
    return dict(
        modalites_inscription=domain.modalites_inscription(
            row["modalites_inscription"], row["contact_libelle"], row["contact_adresse"], row["contact_mail"]
        ),
        signataire_nom=row["signataire_nom"],
        signataire_qualite=row["signataire_qualite"],
    )
