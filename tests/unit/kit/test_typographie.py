"""French typography's no-break spaces: where they go, and where nothing changes."""

from __future__ import annotations

import pytest

from ecandidat.runtime.french import NBSP, typographie


@pytest.mark.parametrize(
    ("written", "typeset"),
    [
        ("Statut : complet", f"Statut{NBSP}: complet"),
        ("Formation : ", f"Formation{NBSP}: "),  # a template's text before a value
        (" : suite", f"{NBSP}: suite"),  # a template's text after a value
        ("Vraiment ? Oui ! Et ; puis", f"Vraiment{NBSP}? Oui{NBSP}! Et{NBSP}; puis"),
        ("la pièce « CV » refusée", f"la pièce «{NBSP}CV{NBSP}» refusée"),
        ("« ; » ou « , »", f"«{NBSP};{NBSP}» ou «{NBSP},{NBSP}»"),
        ("8 Mo au plus, 12 Ko, 1 Go", f"8{NBSP}Mo au plus, 12{NBSP}Ko, 1{NBSP}Go"),
        ("le 1er mars à 14 h 30", f"le 1er{NBSP}mars à 14{NBSP}h{NBSP}30"),
        ("déposé le 3 décembre 2026", f"déposé le 3{NBSP}décembre 2026"),
        ("%(n)s pièce(s) : %(liste)s.", f"%(n)s pièce(s){NBSP}: %(liste)s."),
    ],
)
def test_the_spaces_that_must_not_break_a_line_are_no_break_spaces(written: str, typeset: str) -> None:
    assert typographie(written) == typeset
    assert typographie(typeset) == typeset  # twice is once


@pytest.mark.parametrize(
    "text",
    [
        "Time: 14:30",  # English: no space before its colons
        "https://ecandidat.univ.fr/compte?jeton=abc:def",
        "a?b",
        "x :y",  # a colon glued to what follows is not punctuation (a code, a ratio)
        "les 5 mois, 10 heures",  # a number before a word that is not a unit
        "",
    ],
)
def test_text_without_such_spaces_is_left_as_it_is(text: str) -> None:
    assert typographie(text) == text
