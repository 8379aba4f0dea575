"""The compatibility policy (ecandidat.contracts.compat): the current event contracts against the
committed snapshot of the released ones, and proof that the check fails on each kind of breaking
change that kept its `dataschema` version."""

from __future__ import annotations

import copy
import json

import pytest
from pydantic import Field

from ecandidat.contracts import compat
from ecandidat.contracts.accounts import AccountCreated
from ecandidat.contracts.base import Event


def test_the_current_contracts_break_no_released_version():
    assert compat.check(compat.load(), compat.current()) == []


def test_every_published_event_version_is_in_the_snapshot():
    missing = compat.unreleased(compat.load(), compat.current())
    assert missing == [], "release them: python -m ecandidat.contracts.compat --release"


@pytest.fixture
def released():
    return compat.load()


def changed(released, key: str, mutate) -> dict:
    now = copy.deepcopy({k: {max(v, key=int): v[max(v, key=int)]} for k, v in released.items()})
    mutate(next(iter(now[key].values())))
    return now


KEY = "accounts.account.created"


def test_a_removed_field_fails(released):
    now = changed(released, KEY, lambda s: s["properties"].pop("email"))
    assert compat.check(released, now) == [f"{KEY} v1: data.email: removed"]


def test_a_retyped_field_fails(released):
    now = changed(released, KEY, lambda s: s["properties"].update(numero_dossier={"type": "integer"}))
    (problem,) = compat.check(released, now)
    assert problem.startswith(f"{KEY} v1: data.numero_dossier: type changed")


def test_a_field_made_nullable_or_optional_fails(released):
    def optional(s):
        s["required"].remove("nom")
        s["properties"]["prenom"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}

    problems = compat.check(released, changed(released, KEY, optional))
    assert f"{KEY} v1: data.nom: no longer required" in problems
    assert any(p.startswith(f"{KEY} v1: data.prenom: type changed") for p in problems)


def test_a_newly_required_field_fails(released):
    def required(s):
        s["properties"]["civilite"] = {"type": "string"}
        s["required"].append("civilite")

    assert compat.check(released, changed(released, KEY, required)) == [f"{KEY} v1: data.civilite: newly required"]


def test_an_event_no_longer_published_fails(released):
    now = {k: {max(v, key=int): v[max(v, key=int)]} for k, v in released.items() if k != KEY}
    assert compat.check(released, now) == [f"{KEY}: the event is no longer published"]


def test_an_optional_field_added_within_a_version_passes(released):
    now = changed(released, KEY, lambda s: s["properties"].update(telephone={"type": "string"}))
    assert compat.check(released, now) == []


def test_a_real_model_that_breaks_its_version_is_caught_and_bumping_it_passes(released):
    class Broken(Event):  # AccountCreated with `email` dropped and `ine` required, same version
        producer, entity, action = "accounts", "account", "created"
        account_id: str = Field(json_schema_extra={"format": "uuid"})
        numero_dossier: str
        nom: str
        prenom: str
        ine: str

    now = {**compat.current(), KEY: {"1": compat.normalized(Broken.model_json_schema())}}
    problems = compat.check(released, now)
    assert f"{KEY} v1: data.email: removed" in problems and f"{KEY} v1: data.ine: newly required" in problems

    Broken.version = 2
    now[KEY] = {"2": compat.normalized(Broken.model_json_schema())}
    assert compat.check(released, now) == []
    assert compat.unreleased(released, now) == [f"{KEY} v2"]


def test_release_refuses_a_breaking_change_and_adds_new_versions(tmp_path, monkeypatch, released):
    path = tmp_path / "released.json"
    path.write_text(json.dumps(released))
    broken = changed(released, KEY, lambda s: s["properties"].pop("email"))
    monkeypatch.setattr(compat, "current", lambda: broken)
    assert compat.release(path) == [f"{KEY} v1: data.email: removed"]
    assert json.loads(path.read_text()) == released  # nothing changed
    bumped = {**broken, KEY: {"2": broken[KEY]["1"]}}
    monkeypatch.setattr(compat, "current", lambda: bumped)
    assert compat.release(path) == []
    assert set(json.loads(path.read_text())[KEY]) == {"1", "2"}  # both published for a period


def test_the_model_the_snapshot_names_is_the_real_one():
    assert compat.event_key(AccountCreated) == KEY
