"""French validation messages and settings from environment variables."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ecandidat.runtime.settings import KitSettings
from ecandidat.runtime.validation import french_details


class Sample(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nom: str = Field(max_length=5)
    age: int


def test_validation_errors_are_french_and_name_the_field():
    try:
        Sample.model_validate({"nom": "beaucoup trop long", "age": "x", "zzz": 1})
    except ValidationError as exc:
        details = {d.field: d.message for d in french_details(exc)}
    assert details == {
        "nom": "Ce champ est trop long (au plus 5 caractères).",
        "age": "Ce champ doit être un nombre entier.",
        "zzz": "Ce champ n'est pas attendu.",
    }


def test_missing_field():
    try:
        Sample.model_validate({"age": 3})
    except ValidationError as exc:
        [detail] = french_details(exc)
    assert detail.field == "nom" and detail.message == "Ce champ est obligatoire."


def test_settings_come_from_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db:5432/x")
    monkeypatch.setenv("NATS_URL", "nats://a:4222, nats://b:4222")
    monkeypatch.setenv("CONSUMER_BACKOFF", "1,2.5,10")
    s = KitSettings()
    assert s.database_url == "postgresql://u@db:5432/x"
    assert s.nats_servers == ["nats://a:4222", "nats://b:4222"]
    assert s.consumer_backoff == (1.0, 2.5, 10.0)
