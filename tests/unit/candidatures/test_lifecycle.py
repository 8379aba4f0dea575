"""The candidature's lifecycle without servers: every state × action of the transition table,
allowed or refused with its French message, and `change_statut` (the one path that writes a
change) on an in-memory transaction."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from ecandidat.contracts import candidatures as c
from services.candidatures.domain import ETATS, TRANSITIONS, Action, Candidature, Refused, reminder_due
from services.candidatures.lifecycle import change_statut

NOW = datetime(2026, 5, 1, 10, 0, tzinfo=timezone.utc)
DEADLINE = NOW + timedelta(days=3)

ANNULEE_MSG = "Cette candidature est annulée."
TRANSMISE = ("deja_transmise", "Cette candidature a déjà été transmise.")
TROP_TARD = ("annulation_impossible", "Cette candidature ne peut plus être annulée : elle a été transmise ou traitée.")
NON_COMPLET = ("dossier_non_complet", "Une décision ne peut être prise que sur un dossier complet.")
PAS_FAVORABLE = ("pas_d_avis_favorable", "Seul un avis favorable peut être confirmé ou faire l'objet d'un désistement.")
ANNULEE_FIGEE = ("annulee", "Une candidature annulée ne change plus de statut.")

# state → action → the state after it, or (reason, message) of its refusal. Written out in full:
# this is the table a reader checks, and the test fails on any cell added or changed.
EXPECTED: dict[str, dict[Action, str | tuple[str, str]]] = {
    "en_attente": {
        Action.TRANSMIT: "receptionne",
        Action.CANCEL: "annulee",
        Action.PIECE_REFUSED: "en_attente",
        Action.SET_EN_ATTENTE: "en_attente",
        Action.SET_RECEPTIONNE: "receptionne",
        Action.SET_INCOMPLET: "incomplet",
        Action.SET_COMPLET: "complet",
        Action.DECIDE: NON_COMPLET,
        Action.CONFIRM: "en_attente",
        Action.WITHDRAW: "en_attente",
        Action.EXPIRE: "en_attente",
    },
    "receptionne": {
        Action.TRANSMIT: TRANSMISE,
        Action.CANCEL: TROP_TARD,
        Action.PIECE_REFUSED: "incomplet",
        Action.SET_EN_ATTENTE: "en_attente",
        Action.SET_RECEPTIONNE: "receptionne",
        Action.SET_INCOMPLET: "incomplet",
        Action.SET_COMPLET: "complet",
        Action.DECIDE: NON_COMPLET,
        Action.CONFIRM: "receptionne",
        Action.WITHDRAW: "receptionne",
        Action.EXPIRE: "receptionne",
    },
    "incomplet": {
        Action.TRANSMIT: "receptionne",
        Action.CANCEL: TROP_TARD,
        Action.PIECE_REFUSED: "incomplet",
        Action.SET_EN_ATTENTE: "en_attente",
        Action.SET_RECEPTIONNE: "receptionne",
        Action.SET_INCOMPLET: "incomplet",
        Action.SET_COMPLET: "complet",
        Action.DECIDE: NON_COMPLET,
        Action.CONFIRM: "incomplet",
        Action.WITHDRAW: "incomplet",
        Action.EXPIRE: "incomplet",
    },
    "complet": {
        Action.TRANSMIT: TRANSMISE,
        Action.CANCEL: TROP_TARD,
        Action.PIECE_REFUSED: "incomplet",
        Action.SET_EN_ATTENTE: "en_attente",
        Action.SET_RECEPTIONNE: "receptionne",
        Action.SET_INCOMPLET: "incomplet",
        Action.SET_COMPLET: "complet",
        Action.DECIDE: "complet",
        Action.CONFIRM: "complet",
        Action.WITHDRAW: "complet",
        Action.EXPIRE: "complet",
    },
    "annulee": {
        Action.TRANSMIT: ("annulee", ANNULEE_MSG),
        Action.CANCEL: ("deja_annulee", "Cette candidature est déjà annulée."),
        Action.PIECE_REFUSED: "annulee",
        Action.SET_EN_ATTENTE: ANNULEE_FIGEE,
        Action.SET_RECEPTIONNE: ANNULEE_FIGEE,
        Action.SET_INCOMPLET: ANNULEE_FIGEE,
        Action.SET_COMPLET: ANNULEE_FIGEE,
        Action.DECIDE: ("annulee", "Cette candidature est annulée : aucune décision ne peut être prise."),
        Action.CONFIRM: PAS_FAVORABLE,
        Action.WITHDRAW: PAS_FAVORABLE,
        Action.EXPIRE: PAS_FAVORABLE,
    },
}


def candidature(etat: str, **kw: Any) -> Candidature:
    values: dict[str, Any] = dict(
        statut="en_attente" if etat == "annulee" else etat,
        cancelled=etat == "annulee",
        decision=None,
        date_retour=date(2026, 6, 30),
    )
    values.update(kw)
    return Candidature(**values)


def passing_guards(etat: str, action: Action) -> Candidature:
    """A candidature in `etat` that the action's guard lets through (when the state allows it)."""
    if etat != "annulee" and action in (Action.CONFIRM, Action.WITHDRAW):
        return candidature(etat, decision="favorable", confirmation_deadline=DEADLINE)
    if etat != "annulee" and action is Action.EXPIRE:
        return candidature(etat, decision="favorable", confirmation_deadline=NOW - timedelta(seconds=1))
    return candidature(etat)


def test_the_table_has_one_cell_per_state_and_action():
    assert set(TRANSITIONS) == {(etat, action) for etat in ETATS for action in Action}
    assert set(EXPECTED) == set(ETATS) and all(set(row) == set(Action) for row in EXPECTED.values())


@pytest.mark.parametrize("etat,action", [(e, a) for e in ETATS for a in Action])
def test_every_state_and_action(etat, action):
    expected = EXPECTED[etat][action]
    cand = passing_guards(etat, action)
    if isinstance(expected, str):
        assert cand.next_statut(action, NOW) == expected
    else:
        with pytest.raises(Refused) as info:
            cand.next_statut(action, NOW)
        assert (info.value.extra["reason"], info.value.message) == expected
        assert info.value.code == "conflict"


@pytest.mark.parametrize(
    "cand,action,reason,message",
    [
        (
            candidature("en_attente", date_retour=date(2026, 4, 30)),
            Action.TRANSMIT,
            "date_retour_depassee",
            "La date limite de retour (30/04/2026) est dépassée : la candidature ne peut plus être transmise.",
        ),
        (
            candidature("incomplet", date_retour=date(2026, 4, 30)),
            Action.TRANSMIT,
            "date_retour_depassee",
            "La date limite de retour (30/04/2026) est dépassée : la candidature ne peut plus être transmise.",
        ),
        (candidature("en_attente", decision="defavorable"), Action.CANCEL, *TROP_TARD),
        (
            candidature("complet", withdrawn_at=NOW),
            Action.DECIDE,
            "desiste",
            "Le candidat s'est désisté : aucune décision ne peut plus être prise.",
        ),
        (candidature("complet"), Action.CONFIRM, *PAS_FAVORABLE),
        (
            candidature("complet", decision="favorable", confirmation_deadline=DEADLINE, withdrawn_at=NOW),
            Action.CONFIRM,
            "deja_desiste",
            "Votre désistement de cette formation est déjà enregistré.",
        ),
        (
            candidature("complet", decision="favorable", confirmation_deadline=DEADLINE, confirmed_at=NOW),
            Action.CONFIRM,
            "deja_confirme",
            "Vous avez déjà confirmé votre candidature.",
        ),
        (
            candidature("complet", decision="favorable", confirmation_deadline=NOW),
            Action.CONFIRM,
            "delai_depasse",
            "Le délai de confirmation est dépassé.",
        ),
        (
            candidature("complet", decision="favorable", confirmation_deadline=NOW),
            Action.WITHDRAW,
            "delai_depasse",
            "Le délai de réponse est dépassé.",
        ),
        (
            candidature("complet", decision="favorable", confirmation_deadline=DEADLINE),
            Action.EXPIRE,
            "pas_de_delai_depasse",
            "Cette candidature n'attend pas de réponse dont le délai serait dépassé.",
        ),
        (
            candidature("complet", decision="favorable", confirmation_deadline=NOW, confirmed_at=NOW),
            Action.EXPIRE,
            "pas_de_delai_depasse",
            "Cette candidature n'attend pas de réponse dont le délai serait dépassé.",
        ),
    ],
)
def test_the_guards_refuse_with_their_own_reason(cand, action, reason, message):
    with pytest.raises(Refused) as info:
        cand.next_statut(action, NOW)
    assert (info.value.extra["reason"], info.value.message) == (reason, message)


def test_a_confirmed_candidate_may_still_withdraw_after_the_deadline():
    confirmed = candidature("complet", decision="favorable", confirmation_deadline=NOW, confirmed_at=NOW)
    assert confirmed.next_statut(Action.WITHDRAW, NOW + timedelta(days=30)) == "complet"


def test_the_reminder_is_due_in_the_days_before_the_deadline():
    assert not reminder_due(DEADLINE, DEADLINE - timedelta(days=2, seconds=1), 2)
    assert reminder_due(DEADLINE, DEADLINE - timedelta(days=2), 2)
    assert reminder_due(DEADLINE, DEADLINE - timedelta(seconds=1), 2)
    assert not reminder_due(DEADLINE, DEADLINE, 2), "at the deadline it is too late to remind"


# -- change_statut on an in-memory transaction ---------------------------------------------------------


class MemoryTx:
    """The transaction `change_statut` writes through, kept in memory."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.rows = {row["id"]: row}
        self.history: list[tuple[str, str, dict[str, Any]]] = []
        self.events: list[Any] = []

    async def set_statut(self, candidature_id, statut, at, *, received=False):
        row = self.rows[candidature_id]
        row.update(statut=statut, statut_date=at, version=row["version"] + 1)
        if received:
            row["date_reception"] = at

    async def mark_cancelled(self, candidature_id, at):
        self.rows[candidature_id].update(cancelled_at=at, version=self.rows[candidature_id]["version"] + 1)

    async def mark_confirmed(self, candidature_id, at):
        self.rows[candidature_id].update(confirmed_at=at, version=self.rows[candidature_id]["version"] + 1)

    async def mark_withdrawn(self, candidature_id, at, automatic):
        self.rows[candidature_id].update(
            withdrawn_at=at, withdrawn_automatically=automatic, version=self.rows[candidature_id]["version"] + 1
        )

    async def add_history(self, candidature_id, at, actor, action, **details):
        self.history.append((actor, action, details))

    async def view(self, candidature_id):
        return dict(self.rows[candidature_id])

    async def publish(self, event, subject):
        assert subject == event.candidature_id
        self.events.append(event)


def row(statut: str = "en_attente", **kw: Any) -> dict[str, Any]:
    values = dict(
        id=uuid.uuid4(),
        account_id=uuid.uuid4(),
        numero_dossier="26ABC123",
        formation_code="DAEU-A",
        formation_libelle="DAEU option A",
        centre_code="DAEU",
        centre_libelle="DAEU",
        version=1,
        statut=statut,
        statut_date=NOW - timedelta(days=1),
        date_reception=None,
        cancelled_at=None,
        decision=None,
        date_retour=date(2026, 6, 30),
        prolongation_heures=0,
        confirmation_deadline=None,
        confirmed_at=None,
        withdrawn_at=None,
        modalites_inscription=None,
        contact_libelle="Scolarité DAEU",
        contact_adresse="1 rue X",
        contact_mail=None,
        signataire_nom="A. Martin",
        signataire_qualite="Directrice",
    )
    values.update(kw)
    return values


async def test_a_transmission_is_received_recorded_and_announced():
    tx = MemoryTx(row("incomplet"))
    [cid] = tx.rows
    after = await change_statut(tx, tx.rows[cid], Action.TRANSMIT, by="26ABC123", now=NOW)
    assert after["statut"] == "receptionne" and after["date_reception"] == NOW and after["version"] == 2
    assert tx.history == [("26ABC123", "transmitted", {"previous": "incomplet"})]
    [event] = tx.events
    assert isinstance(event, c.CandidatureTransmitted) and event.received_at == NOW and event.revision == 2


async def test_a_refused_piece_sends_a_complete_dossier_back_and_says_why():
    tx = MemoryTx(row("complet"))
    [cid] = tx.rows
    await change_statut(
        tx,
        tx.rows[cid],
        Action.PIECE_REFUSED,
        by="gest@univ.fr",
        now=NOW,
        comment="Illisible",
        cause="piece_refusee",
        piece="CV",
    )
    assert tx.rows[cid]["statut"] == "incomplet" and tx.rows[cid]["date_reception"] is None
    assert tx.history == [
        ("gest@univ.fr", "statut", {"old": "complet", "new": "incomplet", "cause": "piece_refusee", "piece": "CV"})
    ]
    [event] = tx.events
    assert isinstance(event, c.CandidatureStatusChanged)
    assert (event.old_status, event.new_status, event.cause, event.comment) == (
        "complet",
        "incomplet",
        "piece_refusee",
        "Illisible",
    )


@pytest.mark.parametrize("statut", ["en_attente", "incomplet"])
async def test_a_refused_piece_before_transmission_changes_nothing(statut):
    tx = MemoryTx(row(statut))
    [cid] = tx.rows
    assert await change_statut(tx, tx.rows[cid], Action.PIECE_REFUSED, by="x", now=NOW, cause="piece_refusee") is None
    assert tx.rows[cid]["version"] == 1 and tx.history == [] and tx.events == []


async def test_staff_set_a_statut_with_its_own_date_and_the_same_statut_again_changes_nothing():
    tx = MemoryTx(row("receptionne"))
    [cid] = tx.rows
    dated = NOW - timedelta(hours=5)
    await change_statut(tx, tx.rows[cid], Action.SET_COMPLET, by="gest@univ.fr", now=NOW, at=dated, comment="OK")
    assert tx.rows[cid]["statut"] == "complet" and tx.rows[cid]["statut_date"] == dated
    [event] = tx.events
    assert (event.new_status, event.changed_at, event.cause, event.comment) == ("complet", dated, "staff", "OK")
    assert await change_statut(tx, tx.rows[cid], Action.SET_COMPLET, by="gest@univ.fr", now=NOW) is None
    assert len(tx.events) == 1


async def test_a_refused_action_writes_nothing():
    tx = MemoryTx(row("receptionne"))
    [cid] = tx.rows
    with pytest.raises(Refused):
        await change_statut(tx, tx.rows[cid], Action.CANCEL, by="26ABC123", now=NOW)
    assert tx.rows[cid]["version"] == 1 and tx.history == [] and tx.events == []


async def test_cancellation_confirmation_and_withdrawals_are_recorded_with_their_events():
    tx = MemoryTx(row())
    [cid] = tx.rows
    after = await change_statut(tx, tx.rows[cid], Action.CANCEL, by="26ABC123", now=NOW)
    assert after["cancelled_at"] == NOW and after["statut"] == "en_attente"
    assert isinstance(tx.events[-1], c.CandidatureCancelled)

    admitted = row("complet", decision="favorable", confirmation_deadline=DEADLINE)
    tx = MemoryTx(admitted)
    await change_statut(tx, admitted, Action.CONFIRM, by="26ABC123", now=NOW)
    confirmed = tx.events[-1]
    assert isinstance(confirmed, c.CandidatureConfirmed) and confirmed.signataire_nom == "A. Martin"
    await change_statut(tx, dict(tx.rows[admitted["id"]]), Action.WITHDRAW, by="26ABC123", now=NOW)
    assert tx.history[-1] == ("26ABC123", "desistement", {"automatic": False})
    assert isinstance(tx.events[-1], c.CandidatureWithdrawn) and not tx.events[-1].automatic

    late = row("complet", decision="favorable", confirmation_deadline=NOW)
    tx = MemoryTx(late)
    await change_statut(tx, late, Action.EXPIRE, by="système", now=NOW)
    assert tx.rows[late["id"]]["withdrawn_automatically"] is True
    assert tx.history == [("système", "desistement", {"automatic": True})] and tx.events[-1].automatic
