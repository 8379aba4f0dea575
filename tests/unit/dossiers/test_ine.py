"""INE/BEA and UAI check characters (sources in services/dossiers/ine.py)."""

from __future__ import annotations

import pytest

from services.dossiers.ine import ALPHABET_23, base36_key, bea_key, check_ine, uai_valide


@pytest.mark.parametrize("uai", ["0750654D", "0752524L", "0920131T", "0951099D"])
def test_real_uai_codes_have_the_modulo_23_letter(uai):
    # Lycée Henri-IV, collège Victor-Hugo (Paris), lycée Auguste-Renoir (Asnières), a Val-d'Oise
    # school: codes published in the national directory of establishments.
    assert uai_valide(uai)
    wrong = uai[:7] + next(c for c in ALPHABET_23 if c != uai[7])
    assert not uai_valide(wrong)


def test_bea_letter_is_the_number_modulo_23_in_the_alphabet_without_i_o_q():
    # 1234567890 = 23 × 53676864 + 18, and the 19th letter of ABCDEFGHJKLMNPRSTUVWXYZ is V.
    assert bea_key("1234567890") == "V"
    assert ALPHABET_23 == "ABCDEFGHJKLMNPRSTUVWXYZ" and len(ALPHABET_23) == 23
    check = check_ine(" 12345 67890v ")
    assert (check.ine, check.kind, check.valid) == ("1234567890V", "bea", True)


def test_bea_with_a_wrong_letter_is_refused_in_french():
    check = check_ine("1234567890W")
    assert not check.valid and check.kind == "bea"
    assert "clé" in check.message


def test_every_single_digit_error_in_a_bea_is_detected():
    body = "0612345678"
    key = bea_key(body)
    for position in range(10):
        for digit in "0123456789":
            if digit != body[position]:
                typo = body[:position] + digit + body[position + 1 :]
                assert not check_ine(typo + key).valid, typo


def test_base36_ine_check_digit():
    # values 1,10,2,11,3,12,4,13,5 → 61 × 6 = 366, + E (14) = 380 → check digit 0
    assert base36_key("1A2B3C4D5E") == "0"
    assert check_ine("1A2B3C4D5E0").valid
    assert not check_ine("1A2B3C4D5E1").valid
    assert check_ine("1A2B3C4D5E1").kind == "base36"


@pytest.mark.parametrize("ine,kind", [("123456789AB", "rnie"), ("1234A12345B", "sifa")])
def test_rnie_and_sifa_are_accepted_on_their_shape(ine, kind):
    check = check_ine(ine)
    assert check.valid and check.kind == kind


@pytest.mark.parametrize("ine", ["12345", "1234567890VV", "ABCDEFGHIJK", "123456789IO", "12345678-0V"])
def test_other_shapes_are_refused_with_a_message(ine):
    check = check_ine(ine)
    assert not check.valid and check.message
