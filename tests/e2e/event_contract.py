"""Events as integrators receive them, checked against the published AsyncAPI document.

`collect_events(nats_server)` listens to every public event (`evt.>`) while a journey runs;
`violations(document, messages)` says which of them do not match their message in the document:
an event whose subject is no channel, whose envelope or body does not match the payload schema
(JSON Schema draft 7, the AsyncAPI schema's base), whose `Nats-Msg-Id` is not its id.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import jsonschema
import nats
from nats.aio.msg import Msg
from ecandidat.runtime.nats import flush


@asynccontextmanager
async def collect_events(nats_server) -> AsyncIterator[list[Msg]]:
    nc = await nats.connect(nats_server.url, **nats_server.connect_options())
    seen: list[Msg] = []

    async def on_event(msg: Msg) -> None:
        seen.append(msg)

    await nc.subscribe("evt.>", cb=on_event)
    await flush(nc)  # the server holds the subscription before any event is published
    try:
        yield seen
    finally:
        await nc.drain()


def payload_validator(document: dict[str, Any], message_id: str) -> jsonschema.Draft7Validator:
    """A validator of one message's payload, its references resolved in the whole document."""
    root = {**document, "$ref": f"#/components/messages/{message_id}/payload"}
    return jsonschema.Draft7Validator(root, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def violations(document: dict[str, Any], messages: list[Msg]) -> list[str]:
    by_address = {c["address"]: c for c in document["channels"].values()}
    out: list[str] = []
    for msg in messages:
        channel = by_address.get(msg.subject)
        if channel is None:
            out.append(f"{msg.subject}: no channel in the AsyncAPI document")
            continue
        event = json.loads(msg.data)
        (message_id,) = channel["messages"]
        for error in payload_validator(document, message_id).iter_errors(event):
            out.append(f"{msg.subject} {event.get('id')}: {'/'.join(map(str, error.absolute_path))}: {error.message}")
        if (msg.headers or {}).get("Nats-Msg-Id") != event.get("id"):
            out.append(f"{msg.subject} {event.get('id')}: Nats-Msg-Id {msg.headers} is not the event id")
    return out
