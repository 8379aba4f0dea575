"""The AsyncAPI 3.0 document of the events integrators read, generated from the event contracts.

One channel per public event subject (`evt.<producer>.<entity>.<action>`; the mailer-only `prv.…`
events are not published), one `receive` operation per channel, one message per event type. A
message's id (AsyncAPI 3.0 has no `messageId` field: the id is the message's key in
`components.messages`, what the parser's `message.id()` returns) is the CloudEvents type without
its `fr.ecandidat.` prefix, e.g. `accounts.account.created`.

The payload is the CloudEvents 1.0 envelope with the event body in `data`. The schemas published
here are the consumer's view of the contracts: `additionalProperties: false` is left out (a
consumer ignores the fields it does not know, see docs/INTEGRATORS.md), while producers keep
refusing unknown fields. Every nested model is a named schema of `components.schemas`, referenced
from the document's root. Each message has one example, a real envelope: its body is built by
`gateway.examples` and parsed by the event's own model.

NATS bindings: the binding spec (0.1.0) defines only an operation binding (`queue`); the stream an
event is stored in is given by the `x-ecandidat-stream` extension of its channel.
`tests/integration/test_asyncapi.py` runs the official parser (`@asyncapi/parser`) on it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from ecandidat.contracts.base import Event
from ecandidat.contracts.envelope import SCHEMA_BASE, envelope, event_type_name
from ecandidat.contracts.compat import event_key as message_id
from ecandidat.contracts.compat import public_events
from ecandidat.contracts.subjects import event_stream_of, event_subject
from ecandidat.runtime.natsauth import INTEGRATOR_JS_PREFIX
from ecandidat.runtime.nats import EVENT_MAX_AGE

from . import examples
from .openapi import local_times

ASYNCAPI_VERSION = "3.0.0"
NATS_BINDING_VERSION = "0.1.0"
REF_PREFIX = "#/components/schemas/"
EXAMPLE_ID = uuid.UUID("0b6f9a54-3c1e-4d2a-9f7b-8e5c4a3d2b1f")
EXAMPLE_TIME = datetime.fromisoformat(examples.NOW)


def _key(cls: type[Event]) -> str:
    """Channel and operation keys: `accounts_account_created`."""
    return f"{cls.producer}_{cls.entity}_{cls.action}"


def _open(schema: Any) -> Any:
    """The consumer's view of a schema: no `additionalProperties: false`, refs to components, a
    time of day as the events write it (`openapi.local_times`)."""
    return _opened(local_times(schema))


def _opened(schema: Any) -> Any:
    if isinstance(schema, dict):
        out = {}
        for key, value in schema.items():
            if key == "additionalProperties" and value is False:
                continue
            if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
                value = REF_PREFIX + value.removeprefix("#/$defs/")
            out[key] = _opened(value)
        return out
    if isinstance(schema, list):
        return [_opened(v) for v in schema]
    return schema


def data_schemas() -> dict[str, dict[str, Any]]:
    """Every public event's body schema and the models it uses, by name, as published: the body of
    `accounts.account.created` v1 is `accounts.account.created.v1`; a nested model keeps its class
    name (the same name is the same schema across the contracts, checked here)."""
    schemas: dict[str, dict[str, Any]] = {}
    for cls in public_events():
        body = cls.model_json_schema(ref_template="#/$defs/{model}")
        for name, sub in body.pop("$defs", {}).items():
            opened = _open(sub)
            if schemas.setdefault(name, opened) != opened:
                raise ValueError(f"two different schemas named {name!r} in the event contracts")
        schemas[schema_name(cls)] = _open(body)
    return dict(sorted(schemas.items()))


def schema_name(cls: type[Event]) -> str:
    return f"{message_id(cls)}.v{cls.version}"


def _envelope_schema(cls: type[Event]) -> dict[str, Any]:
    return {
        "type": "object",
        "description": "Enveloppe CloudEvents 1.0 (format JSON) ; le corps de l'événement est dans `data`.",
        "required": ["specversion", "id", "source", "type", "time", "dataschema", "data"],
        "properties": {
            "specversion": {"type": "string", "const": "1.0"},
            "id": {
                "type": "string",
                "format": "uuid",
                "description": "Identifiant unique de l'événement : clé d'idempotence (en-tête Nats-Msg-Id, webhook-id).",
            },
            "source": {"type": "string", "const": f"/ecandidat/{cls.producer}"},
            "type": {"type": "string", "const": event_type_name(cls)},
            "subject": {
                "type": ["string", "null"],
                "description": "L'identifiant de l'entité concernée, quand il y en a un.",
            },
            "time": {"type": "string", "format": "date-time"},
            "datacontenttype": {"type": "string", "const": "application/json"},
            "dataschema": {"type": "string", "const": f"{SCHEMA_BASE}:{event_subject(cls)}/v{cls.version}"},
            "requestid": {
                "type": "string",
                "description": "L'identifiant de la requête HTTP à l'origine de l'événement.",
            },
            "data": {"$ref": REF_PREFIX + schema_name(cls)},
        },
    }


def example_envelope(cls: type[Event]) -> dict[str, Any]:
    """A real envelope of this event: its body is parsed by the event's model."""
    schema = cls.model_json_schema()
    data = examples.example(schema, schema.get("$defs", {}), depth=1)
    event = cls.model_validate(data)
    sample = envelope(
        event,
        event_id=EXAMPLE_ID,
        time=EXAMPLE_TIME,
        subject=examples.UUID,
        request_id="9f1c2e7a5b3d4c6e8f0a1b2c3d4e5f6a",
    )
    return sample.model_dump(mode="json")


def _message(cls: type[Event]) -> dict[str, Any]:
    doc = " ".join((cls.__doc__ or "").split())
    return {
        "name": event_type_name(cls),
        "title": event_type_name(cls),
        "summary": doc.split(". ")[0] if doc else event_type_name(cls),
        "description": doc,
        "contentType": "application/cloudevents+json",
        "headers": {
            "type": "object",
            "properties": {
                "Nats-Msg-Id": {
                    "type": "string",
                    "format": "uuid",
                    "description": "L'identifiant de l'événement (déduplication JetStream).",
                }
            },
        },
        "payload": _envelope_schema(cls),
        "examples": [
            {
                "name": message_id(cls).replace(".", "_"),
                "summary": f"Un {event_type_name(cls)}",
                "headers": {"Nats-Msg-Id": str(EXAMPLE_ID)},
                "payload": example_envelope(cls),
            }
        ],
    }


def build(*, servers: dict[str, str] | None = None) -> dict[str, Any]:
    """The document; `servers` maps a server name to its `host:port` (default: the local stack)."""
    servers = servers or {"bus": "127.0.0.1:4222"}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for cls in public_events():
        key, mid = _key(cls), message_id(cls)
        messages[mid] = _message(cls)
        channels[key] = {
            "address": event_subject(cls),
            "title": event_type_name(cls),
            "description": f"Flux JetStream `{event_stream_of(cls)}`.",
            "messages": {mid: {"$ref": f"#/components/messages/{mid}"}},
            "x-ecandidat-stream": event_stream_of(cls),
        }
        operations[f"receive_{key}"] = {
            "action": "receive",
            "title": f"Recevoir {event_type_name(cls)}",
            "channel": {"$ref": f"#/channels/{key}"},
            "messages": [{"$ref": f"#/channels/{key}/messages/{mid}"}],
            "bindings": {"nats": {"bindingVersion": NATS_BINDING_VERSION}},
        }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:ecandidat:events",
        "info": {
            "title": "Événements eCandidat",
            "version": "1",
            "description": (
                "Les faits publiés par eCandidat (enveloppes CloudEvents 1.0 sur NATS JetStream), pour les "
                "systèmes de l'université qui s'y abonnent. Compte NATS INTEGRATORS, API JetStream sous le "
                f"préfixe `{INTEGRATOR_JS_PREFIX}`, un flux par service (`EVT_<SERVICE>`), conservation "
                f"{EVENT_MAX_AGE // 86400} jours. Guide : docs/INTEGRATORS.md."
            ),
        },
        "defaultContentType": "application/cloudevents+json",
        "servers": {
            name: {
                "host": host,
                "protocol": "nats",
                "description": "Le bus NATS d'eCandidat ; compte INTEGRATORS, authentification par nkey.",
                "security": [{"$ref": "#/components/securitySchemes/nkey"}],
            }
            for name, host in servers.items()
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": data_schemas(),
            "messages": messages,
            "securitySchemes": {
                "nkey": {
                    "type": "asymmetricEncryption",
                    "description": "Une nkey NATS (Ed25519) par organisation intégratrice, remise par l'exploitation.",
                }
            },
        },
    }
