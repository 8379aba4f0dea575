"""The one place where subjects, stream names and durable names are built."""

from __future__ import annotations

import functools
import re

from .base import Event, RpcRequest

_TOKEN = re.compile(r"^[a-z][a-z0-9_]*$")


def _check(*tokens: str) -> None:
    for token in tokens:
        if not _TOKEN.match(token):
            raise ValueError(f"invalid subject token {token!r}")


def event_subject(event: type[Event] | Event) -> str:
    """`evt.<producer>.<entity>.<action>`; a private event (one that carries a sealed secret for
    the mailer) is `prv.<producer>.<entity>.<action>`, in a stream integrators never see."""
    cls = event if isinstance(event, type) else type(event)
    _check(cls.producer, cls.entity, cls.action)
    return f"{'prv' if cls.private else 'evt'}.{cls.producer}.{cls.entity}.{cls.action}"


def event_stream_of(event: type[Event] | Event) -> str:
    """The stream an event is stored in: `EVT_<PRODUCER>`, or `PRV_<PRODUCER>` for a private one."""
    cls = event if isinstance(event, type) else type(event)
    return private_stream(cls.producer) if cls.private else event_stream(cls.producer)


def producer_events(producer: str) -> str:
    """Wildcard subject for every event of one producer."""
    _check(producer)
    return f"evt.{producer}.>"


def event_stream(producer: str) -> str:
    """One stream per producing service: `EVT_DOCUMENTS` captures `evt.documents.>`."""
    _check(producer)
    return f"EVT_{producer.upper()}"


def private_events(producer: str) -> str:
    _check(producer)
    return f"prv.{producer}.>"


def private_stream(producer: str) -> str:
    """Mailer-only events of one producer (sealed link tokens): `PRV_ACCOUNTS` captures `prv.accounts.>`."""
    _check(producer)
    return f"PRV_{producer.upper()}"


def rpc_subject(request: type[RpcRequest] | RpcRequest) -> str:
    cls = request if isinstance(request, type) else type(request)
    return rpc_operation_subject(cls.service, cls.operation)


@functools.lru_cache(maxsize=1024)
def rpc_operation_subject(service: str, operation: str) -> str:
    """`rpc.<service>.<operation>`, checked once per pair (every rpc call asks)."""
    _check(service, operation)
    return f"rpc.{service}.{operation}"


def durable_name(consumer_service: str, purpose: str) -> str:
    """Durable consumer names read `<consumer-service>.<purpose>`; NATS forbids dots, so `_`."""
    _check(consumer_service)
    if not re.match(r"^[a-z][a-z0-9-]*$", purpose):
        raise ValueError(f"invalid consumer purpose {purpose!r}")
    return f"{consumer_service}_{purpose}"


# The dead letters of the single stream that every service shared before each had its own (any
# service could read and remove the others'): `ecandidat dlq migrate` moves what is left in it.
LEGACY_DEAD_LETTER_STREAM = "DEAD_LETTERS"

# Signals: core NATS messages (`sig.<producer>.<name>`), never stored in a stream nor shown to
# integrators, for what only matters to the processes listening now. The accounts service
# announces here the accounts whose sessions ended or whose principal changed (payload: their ids,
# comma-separated, or `*` for every account), so that each gateway drops what it cached of them.
SESSIONS_REVOKED = "sig.accounts.sessions_revoked"
# The dossiers service announces the accounts whose dossier, as its candidate sees it, changed
# (a section saved, the lock, an imported INE, an erasure; same payload), so that each gateway
# drops the candidate's dossier view it kept.
DOSSIERS_CHANGED = "sig.dossiers.dossiers_changed"


def outbox_committed_signal(service: str) -> str:
    """`sig.<service>.outbox_committed`: a replica of `service` that is not its outbox relay's
    leader committed events; the leader, in whichever process it runs, looks at the outbox at once
    (`ecandidat.runtime.outbox`). No payload: the rows are in the database; or `leader_left`, a
    leader that let go of the relay's lock, which the replicas standing by then try at once."""
    _check(service)
    return f"sig.{service}.outbox_committed"


def dead_letter_stream(service: str) -> str:
    """One dead-letter stream per consuming service, `DEAD_LETTERS_<SERVICE>` on `dead.<service>.>`:
    its NATS user reads and removes the messages of this stream only."""
    _check(service)
    return f"DEAD_LETTERS_{service.upper()}"


def dead_letters_of_service(service: str) -> str:
    _check(service)
    return f"dead.{service}.>"


def dead_letter_subject(service: str, durable: str) -> str:
    """Where a consumer of `service` copies the events it could never handle: `dead.<service>.<durable>`."""
    _check(service)
    if not durable.startswith(f"{service}_"):
        raise ValueError(f"consumer {durable!r} is not one of {service!r}")
    return f"dead.{service}.{durable}"
