"""Contracts: subjects, the CloudEvents envelope, the catalogue and its JSON Schema export."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from ecandidat.contracts import registry
from ecandidat.contracts.envelope import CloudEvent, envelope
from ecandidat.contracts.mailer import MailCheckRequested, SendMailCheck
from ecandidat.contracts.subjects import durable_name, event_stream, event_subject, rpc_subject


def test_subjects_are_built_from_the_models():
    assert event_subject(MailCheckRequested) == "evt.mailer.mail_check.requested"
    assert event_stream("documents") == "EVT_DOCUMENTS"
    assert rpc_subject(SendMailCheck) == "rpc.mailer.send_mail_check"
    assert durable_name("candidatures", "on-piece-events") == "candidatures_on-piece-events"


@pytest.mark.parametrize("bad", ["", "Upper", "has.dot", "a b", "evt>"])
def test_subject_tokens_are_checked(bad):
    with pytest.raises(ValueError):
        event_stream(bad)


def test_envelope_is_cloudevents_1_0_and_round_trips():
    event_id = uuid.uuid4()
    at = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    body = envelope(MailCheckRequested(to="a@example.org", requested_by="ops"), event_id=event_id, time=at, subject="x")
    raw = json.loads(body.model_dump_json())
    assert raw["specversion"] == "1.0"
    assert raw["id"] == str(event_id)
    assert raw["source"] == "/ecandidat/mailer"
    assert raw["type"] == "fr.ecandidat.mailer.mail_check.requested"
    assert raw["dataschema"] == "urn:ecandidat:schema:evt.mailer.mail_check.requested/v1"
    assert raw["data"] == {"to": "a@example.org", "requested_by": "ops"}
    back = CloudEvent.model_validate_json(body.model_dump_json())
    assert back.parse(MailCheckRequested) == MailCheckRequested(to="a@example.org", requested_by="ops")
    assert back.schema_version == 1


def test_inputs_refuse_unknown_fields_and_are_frozen():
    with pytest.raises(ValidationError):
        SendMailCheck(to="a@example.org", surprise=1)
    req = SendMailCheck(to="a@example.org")
    with pytest.raises(ValidationError):
        req.to = "b@example.org"


def test_catalogue_lists_every_contract_and_exports_schemas(tmp_path):
    assert MailCheckRequested in registry.events()
    assert SendMailCheck in registry.rpc_requests()
    written = registry.export(tmp_path)
    for event in registry.events():
        assert (tmp_path / "events" / f"{event_subject(event)}.v{event.version}.json") in written
    schema = json.loads((tmp_path / "events" / "evt.mailer.mail_check.requested.v1.json").read_text())
    assert schema["required"] == ["to", "requested_by"]


def test_every_event_type_is_unique():
    types = [registry.event_models_by_type()]
    assert len(types[0]) == len(registry.events())


def test_rpc_errors_come_back_as_the_class_of_their_code():
    from ecandidat.contracts.errors import Conflict, NotFound, RpcErrorBody, ServiceError

    err = ServiceError.from_body(RpcErrorBody(code="not_found", message="Introuvable.", extra={"id": "x"}))
    assert isinstance(err, NotFound) and err.message == "Introuvable." and err.extra == {"id": "x"}
    assert isinstance(ServiceError.from_body(RpcErrorBody(code="conflict", message="m")), Conflict)
    other = ServiceError.from_body(RpcErrorBody(code="quota", message="m"))
    assert type(other) is ServiceError and other.code == "quota"
