"""Rules of the candidature, without servers: windows, Paris deadlines, transitions, pieces."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from services.candidatures.domain import (
    Action,
    Campagne,
    Candidature,
    Formation,
    Refused,
    check_can_apply,
    end_of_day,
    required_pieces,
)

CAMPAGNE = Campagne("C2026", "Campagne 2026", date(2026, 3, 1), date(2026, 9, 30))
FORMATION = Formation(
    "DAEU-A", "DAEU option A", "DAEU", "acces_controle", date(2026, 4, 1), date(2026, 6, 20), date(2026, 6, 30)
)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def apply_at(now, **kw):
    args = dict(
        campagne=CAMPAGNE, formation=FORMATION, now=now, already_applied=False, count_in_centre=0, max_in_centre=3
    )
    args.update(kw)
    check_can_apply(**args)


def reason(exc_info) -> str:
    return exc_info.value.extra["reason"]


def test_deposit_window_is_in_paris_time():
    apply_at(utc(2026, 3, 31, 22, 0))  # 1 April 00:00 in Paris (UTC+2)
    with pytest.raises(Refused) as info:
        apply_at(utc(2026, 3, 31, 21, 59, 59))
    assert reason(info) == "depot_ferme"
    apply_at(utc(2026, 6, 20, 21, 59, 59))  # 20 June 23:59:59 in Paris
    with pytest.raises(Refused) as info:
        apply_at(utc(2026, 6, 20, 22, 0))
    assert "du 01/04/2026 au 20/06/2026" in info.value.message


def test_outside_the_campaign_nothing_is_open():
    with pytest.raises(Refused) as info:
        apply_at(utc(2026, 4, 2), campagne=None)
    assert reason(info) == "campagne_fermee"


@pytest.mark.parametrize(
    "kw,why",
    [
        (dict(already_applied=True), "deja_candidat"),
        (dict(count_in_centre=3), "maximum_atteint"),
        (
            dict(
                formation=Formation(
                    "X",
                    "X",
                    "DAEU",
                    "acces_controle",
                    date(2026, 4, 1),
                    date(2026, 6, 20),
                    date(2026, 6, 30),
                    ouverte=False,
                )
            ),
            "depot_ferme",
        ),
    ],
)
def test_apply_refusals(kw, why):
    with pytest.raises(Refused) as info:
        apply_at(utc(2026, 5, 1), **kw)
    assert reason(info) == why


def test_date_limite_de_retour_ends_at_midnight_paris():
    assert end_of_day(date(2026, 1, 15)) == utc(2026, 1, 15, 23, 0)  # winter: UTC+1
    c = Candidature(statut="en_attente", cancelled=False, decision=None, date_retour=date(2026, 6, 30))
    c.check_transmit(utc(2026, 6, 30, 21, 59))
    with pytest.raises(Refused) as info:
        c.check_transmit(utc(2026, 6, 30, 22, 0))
    assert reason(info) == "date_retour_depassee"


def test_transmission_and_cancellation_follow_the_states():
    now = utc(2026, 5, 1)
    for statut, transmit_ok, cancel_ok in [
        ("en_attente", True, True),
        ("incomplet", True, False),
        ("receptionne", False, False),
        ("complet", False, False),
    ]:
        c = Candidature(statut=statut, cancelled=False, decision=None, date_retour=date(2026, 6, 30))
        assert c.can_transmit(now, missing=[]) is transmit_ok
        assert c.can_cancel(now) is cancel_ok
    decided = Candidature(statut="en_attente", cancelled=False, decision="favorable", date_retour=date(2026, 6, 30))
    with pytest.raises(Refused):
        decided.next_statut(Action.CANCEL, now)
    cancelled = Candidature(statut="en_attente", cancelled=True, decision=None, date_retour=date(2026, 6, 30))
    with pytest.raises(Refused) as info:
        cancelled.check_transmit(now)
    assert reason(info) == "annulee"


def test_can_transmit_is_exactly_the_transmissions_own_rule():
    """A fresh candidature with pieces to deposit is not transmittable: `can_transmit` asks the
    very question the transmission asks, pieces included."""
    now = utc(2026, 5, 1)
    fresh = Candidature(statut="en_attente", cancelled=False, decision=None, date_retour=date(2026, 6, 30))
    assert not fresh.can_transmit(now, missing=["Curriculum vitae détaillé"])
    refusal = fresh.transmission_refusal(now, ["Curriculum vitae détaillé"])
    assert refusal.extra["reason"] == "pieces_manquantes" and refusal.message.endswith("1 pièce manquante.")
    assert not fresh.can_transmit(now, missing=None), "pieces not opened yet: the transmission would wait too"
    assert fresh.transmission_refusal(now, None).code == "unavailable"
    assert fresh.can_transmit(now, missing=[])
    late = utc(2026, 7, 1)
    assert fresh.transmission_refusal(late, []).extra["reason"] == "date_retour_depassee"
    for statut in ("receptionne", "complet"):
        done = Candidature(statut=statut, cancelled=False, decision=None, date_retour=date(2026, 6, 30))
        assert not done.can_transmit(now, missing=[])


def test_required_pieces_come_from_three_levels_filtered_by_type_de_traitement():
    def piece(code, niveau, ordre, centre=None, formation=None, types=()):
        return dict(
            code=code,
            libelle=code,
            niveau=niveau,
            ordre=ordre,
            centre_code=centre,
            formation_code=formation,
            types_traitement=list(types),
        )

    pieces = [
        piece("ID", "etablissement", 1),
        piece("CV", "etablissement", 3),
        piece("DAEU-ONLY", "centre", 2, centre="DAEU"),
        piece("OTHER-CENTRE", "centre", 2, centre="FC"),
        piece("MOTIV", "formation", 4, formation="DAEU-A"),
        piece("OTHER-FORMATION", "formation", 4, formation="DAEU-B"),
        piece("DIRECT-ONLY", "etablissement", 5, types=["acces_direct"]),
    ]
    chosen = required_pieces(pieces, centre_code="DAEU", formation_code="DAEU-A", type_traitement="acces_controle")
    assert [p["code"] for p in chosen] == ["ID", "DAEU-ONLY", "CV", "MOTIV"]


def test_an_incident_extends_the_deadline_of_those_who_still_had_something_to_do():
    extended = Candidature(
        statut="en_attente", cancelled=False, decision=None, date_retour=date(2026, 6, 30), prolongation_heures=6
    )
    assert extended.retour_deadline() == utc(2026, 7, 1, 4, 0)  # midnight in Paris, plus 6 hours
    assert extended.transmission_refusal(utc(2026, 7, 1, 3, 59), []) is None
    refusal = extended.transmission_refusal(utc(2026, 7, 1, 4, 0), [])
    assert refusal.extra["reason"] == "date_retour_depassee" and "01/07/2026 à 06:00" in refusal.message
    incident = utc(2026, 6, 30, 20, 0)  # 22:00 in Paris, before that deadline's midnight
    for statut, cancelled, due, expected in [
        ("en_attente", False, date(2026, 6, 30), True),  # ended during the incident
        ("incomplet", False, date(2026, 7, 15), True),
        ("en_attente", False, date(2026, 6, 29), False),  # ended before the incident began
        ("receptionne", False, date(2026, 7, 15), False),  # transmitted: nothing left to do
        ("en_attente", True, date(2026, 7, 15), False),  # cancelled
    ]:
        c = Candidature(statut=statut, cancelled=cancelled, decision=None, date_retour=due)
        assert c.may_be_extended(incident) is expected, (statut, cancelled, due)
