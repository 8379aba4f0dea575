"""Who may change a piece and when: candidature state, date limite de retour (Paris), freeze, review."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

import pytest

from ecandidat.contracts.auth import Principal
from ecandidat.contracts.errors import Forbidden, InvalidInput, NotFound
from services.documents import domain
from services.documents.domain import CandidatureState, PieceLocked, Slot

OWNER = uuid.uuid4()
NOW = datetime(2026, 6, 1, 10, 0, tzinfo=timezone.utc)


def cand(**changes) -> CandidatureState:
    values = dict(
        candidature_id=uuid.uuid4(),
        account_id=OWNER,
        centre_code="DAEU",
        commission_code="C1",
        date_limite_retour=date(2026, 6, 20),
    )
    values.update(changes)
    return CandidatureState(**values)


def slot(**changes) -> Slot:
    values = dict(
        id=uuid.uuid4(),
        candidature_id=uuid.uuid4(),
        piece_id=uuid.uuid4(),
        code="CNI",
        libelle="CNI",
        ordre=1,
        conditionnelle=False,
        statut="en_attente",
    )
    values.update(changes)
    return Slot(**values)


def reason(candidature, piece, now=NOW) -> str | None:
    refusal = domain.why_locked(candidature, piece, now)
    return None if refusal is None else refusal.extra["reason"]


def test_a_new_candidature_may_change_its_pieces():
    assert reason(cand(), slot()) is None


def test_the_date_limite_de_retour_ends_at_midnight_paris_time():
    c = cand()
    last_minute = datetime(2026, 6, 20, 21, 59, tzinfo=timezone.utc)  # 23:59 in Paris (summer time)
    assert reason(c, slot(), last_minute) is None
    assert reason(c, slot(), last_minute + timedelta(minutes=1)) == "date_retour_passee"


def test_cancelled_validated_frozen_and_transmitted():
    assert reason(cand(cancelled=True), slot()) == "annulee"
    assert reason(cand(), slot(statut="validee")) == "piece_validee"
    assert reason(cand(frozen_until=NOW + timedelta(seconds=30)), slot()) == "transmission_en_cours"
    assert reason(cand(frozen_until=NOW - timedelta(seconds=1)), slot()) is None  # a lapsed freeze no longer blocks
    assert reason(cand(transmitted=True), slot(statut="transmise")) == "candidature_transmise"
    assert reason(cand(transmitted=True), slot(statut="refusee", reopened=True)) is None
    assert reason(cand(transmitted=True), slot(statut="en_attente", reopened=True)) is None


def test_only_a_conditional_piece_without_file_can_be_non_concernee():
    with pytest.raises(PieceLocked):
        domain.concerned_statut(slot(), False)
    with pytest.raises(PieceLocked):
        domain.concerned_statut(slot(conditionnelle=True, file_key="k"), False)
    assert domain.concerned_statut(slot(conditionnelle=True), False) == "non_concerne"
    assert domain.concerned_statut(slot(conditionnelle=True, statut="non_concerne"), True) == "en_attente"


def test_transmission_needs_every_piece_deposited_or_non_concernee():
    pieces = [slot(statut="transmise"), slot(statut="non_concerne"), slot(statut="validee")]
    assert domain.missing_for_transmission(pieces) == []
    missing = [slot(statut="en_attente"), slot(statut="refusee")]
    assert domain.missing_for_transmission(pieces + missing) == missing


def test_the_same_review_again_changes_nothing():
    refused = slot(statut="refusee", comment="Illisible")
    assert not domain.review_changes(refused, "refusee", " Illisible ")
    assert domain.review_changes(refused, "refusee", "Illisible : scannez en couleur"), "a new comment is news"
    assert domain.review_changes(refused, "validee", "")
    assert not domain.review_changes(slot(statut="validee"), "validee", "")
    assert domain.review_changes(slot(statut="transmise"), "refusee", "Illisible")


def test_a_refusal_needs_a_comment_and_a_deposited_piece():
    with pytest.raises(InvalidInput):
        domain.review_statut(slot(statut="transmise"), "refusee", "  ")
    with pytest.raises(PieceLocked):
        domain.review_statut(slot(statut="en_attente"), "validee", "")
    assert domain.review_statut(slot(statut="transmise"), "refusee", "Illisible") == "refusee"


def principal(**values) -> Principal:
    return Principal(**{"realm": "staff", "account_id": uuid.uuid4(), "email": "x@example.org", **values})


def test_who_may_read_and_review():
    c = cand()
    domain.check_reader(Principal(realm="candidate", account_id=OWNER, email="c@example.org"), c)
    with pytest.raises(NotFound):
        domain.check_reader(Principal(realm="candidate", account_id=uuid.uuid4(), email="o@example.org"), c)
    domain.check_reader(principal(roles=("scolarite_lecture",)), c)
    domain.check_reader(principal(roles=("gestionnaire",), centres=("DAEU",)), c)
    member = principal(roles=("commission",), commissions=("C1",))
    with pytest.raises(Forbidden):
        domain.check_reader(member, c)  # a commission examines complete dossiers only
    domain.check_reader(member, cand(statut="complet"))
    with pytest.raises(Forbidden):
        domain.check_reader(principal(roles=("gestionnaire",), centres=("MASTER",)), c)
    with pytest.raises(Forbidden):
        domain.check_reviewer(principal(roles=("gestionnaire_lecture",), centres=("DAEU",)), c)
    with pytest.raises(Forbidden):
        domain.check_template_editor(principal(roles=("gestionnaire",)))
    with pytest.raises(NotFound):
        domain.check_owner(principal(roles=("admin",)), c)
