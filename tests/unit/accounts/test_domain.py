"""The rules of accounts, without servers."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone

import pyotp
import pytest

from ecandidat.contracts.auth import Principal
from ecandidat.contracts.errors import InvalidInput
from services.accounts import domain

NOW = datetime(2026, 6, 19, 14, 30, tzinfo=timezone.utc)


def test_numero_de_dossier_is_prefix_and_six_base36_characters():
    numeros = {domain.new_numero("26") for _ in range(2000)}
    assert all(re.fullmatch(r"26[0-9A-Z]{6}", n) for n in numeros)
    assert len(numeros) == 2000


def test_tokens_are_256_bits_and_stored_hashed():
    token = domain.new_token()
    assert len(token) >= 43 and domain.new_token() != token
    assert domain.token_hash(token) != token.encode() and len(domain.token_hash(token)) == 32


@pytest.fixture(scope="module")
def common():
    return domain.load_common_passwords()


def test_the_shipped_list_only_holds_passwords_the_length_rule_lets_through(common):
    assert len(common) > 1000
    assert all(12 <= len(p) <= 128 for p in common)


@pytest.mark.parametrize("password", ["azertyuiop123", "MotDePasse123", "1Q2W3E4R5T6Y", "qwerty123456"])
def test_common_passwords_are_refused_in_any_case(common, password):
    with pytest.raises(InvalidInput) as refused:
        domain.check_password(password, common)
    assert refused.value.details[0].field == "password" and "courants" in refused.value.message


def test_password_equal_to_an_identifier_is_refused(common):
    with pytest.raises(InvalidInput):
        domain.check_password("Camille.Dupont@example.org", common, context=("camille.dupont@example.org",))
    domain.check_password("cheval agrafe pile correcte", common, context=("camille.dupont@example.org",))


def test_throttle_delays_grow_then_stay_capped():
    delays = [domain.throttle_delay(n, free=5, base=1, cap=60) for n in range(1, 15)]
    assert delays[:5] == [0, 0, 0, 0, 0]
    assert delays[5:9] == [1, 2, 4, 8]
    assert max(delays) == 60 and delays[-1] == 60
    assert domain.throttle_delay(100_000, free=5, base=1, cap=60) == 60  # no overflow, however many


def test_scoped_roles_need_their_scope():
    domain.check_staff_scopes(("admin",), (), ())
    domain.check_staff_scopes(("gestionnaire",), ("CENTRE_A",), ())
    with pytest.raises(InvalidInput) as refused:
        domain.check_staff_scopes(("gestionnaire", "commission_lecture"), (), ())
    assert {d.field for d in refused.value.details} == {"centres", "commissions"}


def test_totp_accepts_one_step_of_drift_and_never_the_same_step_twice():
    secret = domain.new_totp_secret()
    totp = pyotp.TOTP(secret)
    step = int(NOW.timestamp()) // 30
    assert domain.totp_step(secret, totp.at(NOW), NOW, None) == step
    assert domain.totp_step(secret, totp.at(NOW - timedelta(seconds=30)), NOW, None) == step - 1
    assert domain.totp_step(secret, totp.at(NOW - timedelta(seconds=90)), NOW, None) is None
    assert domain.totp_step(secret, totp.at(NOW), NOW, step) is None  # replay
    assert domain.totp_step(secret, totp.at(NOW), NOW, step - 1) == step
    assert domain.totp_step(secret, "12345", NOW, None) is None


def test_recovery_codes_are_long_unique_and_matched_loosely():
    codes = domain.new_recovery_codes()
    assert len(set(codes)) == 10 and all(re.fullmatch(r"([a-z2-9]{6}-){3}[a-z2-9]{6}", c) for c in codes)
    assert domain.recovery_hash(codes[0].upper().replace("-", " ")) == domain.recovery_hash(codes[0])
    assert domain.looks_like_recovery_code(codes[0]) and not domain.looks_like_recovery_code("123456")


def test_sessions_end_after_idle_time_or_lifetime():
    times = domain.SessionTimes(idle=1800, lifetime=43200)
    assert times.alive(created_at=NOW, last_seen_at=NOW, now=NOW + timedelta(minutes=29))
    assert not times.alive(created_at=NOW, last_seen_at=NOW, now=NOW + timedelta(minutes=31))
    later = NOW + timedelta(hours=12, seconds=1)
    assert not times.alive(created_at=NOW, last_seen_at=later - timedelta(minutes=1), now=later)


def staff(*roles: str, centres=(), commissions=()) -> Principal:
    return Principal(
        realm="staff",
        account_id=uuid.uuid4(),
        email="x@example.org",
        roles=roles,
        centres=centres,
        commissions=commissions,
    )


def test_scope_rules_every_service_applies_to_staff():
    gestionnaire = staff("gestionnaire", centres=("A",))
    assert gestionnaire.sees_centre("A") and gestionnaire.manages_centre("A")
    assert not gestionnaire.sees_centre("B") and not gestionnaire.manages_centre("B")
    reader = staff("gestionnaire_lecture", centres=("A",))
    assert reader.sees_centre("A") and not reader.manages_centre("A")
    assert staff("scolarite").manages_centre("B") and not staff("scolarite_lecture").manages_centre("B")
    assert staff("scolarite_lecture").sees_centre("B")
    member = staff("commission", commissions=("M1",))
    assert member.sits_on_commission("M1") and not member.sits_on_commission("M2") and not member.sees_centre("A")
    candidate = Principal(realm="candidate", account_id=uuid.uuid4(), email="c@example.org", roles=("admin",))
    assert not candidate.sees_centre("A") and not candidate.manages_centre("A")
