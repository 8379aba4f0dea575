"""What an intruder on the bus would try, against the bus the suite runs (the platform's accounts,
keys and permissions, ecandidat.runtime.natsauth): each attempt is refused, and the refusal is
the server's (a permissions violation or no connection at all), not a convention of the code.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone

import nats
import nats.errors
import nats.js.errors
import pytest
from nats.js.api import ConsumerConfig

from ecandidat.contracts.accounts import AccountPurged, ListStaffAccounts
from ecandidat.contracts.auth import Principal
from ecandidat.contracts.envelope import envelope
from ecandidat.contracts.subjects import (
    DOSSIERS_CHANGED,
    SESSIONS_REVOKED,
    dead_letter_stream,
    dead_letter_subject,
    event_subject,
    outbox_committed_signal,
    rpc_subject,
)
from ecandidat.runtime.deadletter import dead_letters_of, forget_dead_letter, get_dead_letter
from ecandidat.runtime.nats import flush
from ecandidat.runtime.natsauth import INTEGRATOR, INTEGRATOR_JS_PREFIX, PLATFORM
from tests.conftest import eventually


class Client:
    """A connection that records the server's asynchronous errors (permission violations)."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.nc: nats.NATS

    async def connect(self, url: str, **options) -> "Client":
        async def on_error(exc: Exception) -> None:
            self.errors.append(str(exc).lower())

        self.nc = await nats.connect(
            url, error_cb=on_error, max_reconnect_attempts=0, allow_reconnect=False, connect_timeout=2, **options
        )
        return self

    def violated(self, subject: str) -> bool:
        return any("permissions violation" in e and subject.lower() in e for e in self.errors)


@pytest.fixture
async def connect(nats_server):
    opened: list[Client] = []

    async def open_as(identity: str | None) -> Client:
        options = nats_server.connect_options(identity) if identity else {}
        client = await Client().connect(nats_server.url, **options)
        opened.append(client)
        return client

    yield open_as
    for client in opened:
        await client.nc.close()


def _purged() -> tuple[bytes, str]:
    event = AccountPurged(account_id=uuid.uuid4(), numero_dossier="26FORGED")
    body = envelope(event, event_id=uuid.uuid4(), time=datetime.now(timezone.utc))
    return body.model_dump_json().encode(), event_subject(event)


async def _stream_last_seq(ops: Client, stream: str) -> int:
    return (await ops.nc.jetstream().stream_info(stream)).state.last_seq


async def test_no_credentials_no_connection(nats_server) -> None:
    with pytest.raises(Exception, match="(?i)authorization"):
        await Client().connect(nats_server.url)
    forged = dict(nats_server.connect_options("integrator"))
    forged["nkeys_seed_str"] = "SUAMLK2ZNL35WSMW37E7UD4VZ7ELPKW7DHC3BWBSD2GCZ7IUQQXZIORRBU"  # a key the bus never saw
    with pytest.raises(Exception, match="(?i)authorization"):
        await Client().connect(nats_server.url, **forged)


async def test_an_integrator_reads_events_and_nothing_else(nats_server, connect) -> None:
    ops = await connect("ops")
    integrator = await connect(INTEGRATOR)
    allowed = integrator.nc.jetstream(prefix=INTEGRATOR_JS_PREFIX, timeout=15)
    js = integrator.nc.jetstream(prefix=INTEGRATOR_JS_PREFIX, timeout=2)  # the refused calls

    # It reads the events, with a durable consumer of its own.
    data, subject = _purged()
    await ops.nc.jetstream().publish(subject, data)
    durable = f"crm_{uuid.uuid4().hex[:8]}"
    sub = await allowed.pull_subscribe(
        subject, durable, stream="EVT_ACCOUNTS", config=ConsumerConfig(deliver_policy=nats.js.api.DeliverPolicy.LAST)
    )
    [msg] = await sub.fetch(1, timeout=5)
    assert msg.data == data
    await msg.ack()

    # An rpc call with a made-up principal (list the staff accounts as an admin): refused.
    admin = Principal(realm="staff", account_id=uuid.uuid4(), email="x@example.org", roles=("admin",))
    request = ListStaffAccounts(principal=admin)
    with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
        await integrator.nc.request(rpc_subject(request), request.model_dump_json().encode(), timeout=1)
    await eventually(lambda: integrator.violated(rpc_subject(request)), message="rpc refused by the server")

    # A forged account.purged: refused, and the stream did not get it.
    before = await _stream_last_seq(ops, "EVT_ACCOUNTS")
    await integrator.nc.publish(subject, data)
    await integrator.nc.flush()
    await eventually(lambda: integrator.violated(subject), message="publish on evt.> refused")
    assert await _stream_last_seq(ops, "EVT_ACCOUNTS") == before

    # Listening to the rpc traffic (passwords of rpc.accounts.login): refused.
    await integrator.nc.subscribe("rpc.>")
    await integrator.nc.flush()
    await eventually(lambda: integrator.violated("rpc.>"), message="subscription to rpc.> refused")

    # Deleting a stream, or taking over the mailer's consumer: refused.
    with pytest.raises((nats.errors.TimeoutError, nats.js.errors.Error)):
        await js.delete_stream("EVT_ACCOUNTS")
    await eventually(lambda: integrator.violated("stream.delete.evt_accounts"), message="stream deletion refused")
    with pytest.raises((nats.errors.TimeoutError, nats.js.errors.Error)):
        await js.add_consumer(
            "EVT_ACCOUNTS", ConsumerConfig(durable_name="mailer_notifications", filter_subject="evt.accounts.none")
        )
    await eventually(lambda: integrator.violated("mailer_notifications"), message="platform consumer untouched")
    assert (await ops.nc.jetstream().stream_info("EVT_ACCOUNTS")).config.name == "EVT_ACCOUNTS"

    # The mailer-only stream (sealed link tokens) is not even there for it.
    with pytest.raises((nats.errors.TimeoutError, nats.js.errors.Error)):
        await js.pull_subscribe("prv.accounts.>", f"spy_{uuid.uuid4().hex[:6]}", stream="PRV_ACCOUNTS")
    await eventually(lambda: integrator.violated("prv_accounts"), message="PRV_ACCOUNTS not exported")


@pytest.mark.parametrize("producer", sorted(PLATFORM))
async def test_a_service_cannot_publish_another_services_events(nats_server, connect, producer) -> None:
    ops = await connect("ops")
    intruder = await connect("dossiers" if producer != "dossiers" else "mailer")
    subject = f"evt.{producer}.account.purged"
    stream = f"EVT_{producer.upper()}"
    before = await _stream_last_seq(ops, stream)
    with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
        await intruder.nc.jetstream(timeout=1).publish(subject, _purged()[0])
    assert intruder.violated(subject)
    assert await _stream_last_seq(ops, stream) == before


async def test_a_service_calls_only_what_it_needs_and_reads_only_its_inbox(nats_server, connect) -> None:
    mailer = await connect("mailer")
    admin = Principal(realm="staff", account_id=uuid.uuid4(), email="x@example.org", roles=("admin",))
    request = ListStaffAccounts(principal=admin)
    await mailer.nc.publish(rpc_subject(request), request.model_dump_json().encode())
    await mailer.nc.subscribe("_INBOX.gateway.>")  # the gateway's replies: session tokens
    await mailer.nc.subscribe("rpc.accounts.login")
    await mailer.nc.flush()
    await eventually(
        lambda: (
            mailer.violated(rpc_subject(request))
            and mailer.violated("_inbox.gateway.>")
            and mailer.violated("rpc.accounts.login")
        ),
        message="every attempt refused",
    )
    # Its own consumers on another's stream are allowed; another's consumer name is not.
    js = mailer.nc.jetstream(timeout=1)
    with pytest.raises((nats.errors.TimeoutError, nats.js.errors.Error)):
        await js.add_consumer("EVT_ACCOUNTS", ConsumerConfig(durable_name="dossiers_accounts"))
    assert mailer.violated("dossiers_accounts")
    with pytest.raises((nats.errors.TimeoutError, nats.js.errors.Error)):
        await js.delete_stream("EVT_ACCOUNTS")


async def test_webhooks_create_their_endpoints_consumers_but_touch_no_other(nats_server, connect) -> None:
    webhooks = await connect("webhooks")
    allowed, js = webhooks.nc.jetstream(timeout=15), webhooks.nc.jetstream(timeout=1)  # js: the refused calls
    durable = f"webhooks_ep-{uuid.uuid4().hex}-accounts"
    await allowed.add_consumer(
        "EVT_ACCOUNTS", ConsumerConfig(durable_name=durable, filter_subject="evt.accounts.account.activated")
    )
    assert (await allowed.consumer_info("EVT_ACCOUNTS", durable)).name == durable
    await allowed.delete_consumer("EVT_ACCOUNTS", durable)
    with pytest.raises((nats.errors.TimeoutError, nats.js.errors.Error)):
        await js.delete_consumer("EVT_ACCOUNTS", "dossiers_accounts")
    assert webhooks.violated("dossiers_accounts")
    with pytest.raises((nats.errors.TimeoutError, nats.js.errors.Error)):
        await js.add_consumer("PRV_ACCOUNTS", ConsumerConfig(durable_name="webhooks_spy"))
    with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
        await js.publish("evt.accounts.account.purged", _purged()[0])


async def test_the_gateway_calls_public_rpc_but_not_internal_operations(nats_server, connect) -> None:
    gateway = await connect("gateway")
    await gateway.nc.publish("rpc.documents.freeze_pieces", b"{}")
    await gateway.nc.publish("evt.accounts.account.purged", b"{}")
    await gateway.nc.flush()
    await eventually(
        lambda: gateway.violated("rpc.documents.freeze_pieces") and gateway.violated("evt.accounts.account.purged"),
        message="refused",
    )
    assert not gateway.violated("rpc.accounts")
    await gateway.nc.publish("rpc.accounts.health", b"{}")
    await gateway.nc.flush()
    await asyncio.sleep(0)
    assert not gateway.violated("rpc.accounts.health")


async def test_only_the_mailer_gets_a_decision_s_letter(nats_server, connect) -> None:
    """A letter ticket needs no person's rights (the mailer asks for it): the bus alone keeps it to
    the mailer; the gateway, the web front and another service are refused."""
    subject = "rpc.documents.open_letter_attachment"
    callers = {name: await connect(name) for name in ("gateway", "web", "candidatures", "mailer")}
    for caller in callers.values():
        await caller.nc.publish(subject, b"{}")
        await caller.nc.flush()
    await eventually(
        lambda: all(callers[n].violated(subject) for n in ("gateway", "web", "candidatures")),
        message="refused to all but the mailer",
    )
    # The mailer's request reaches the subject: no documents service runs here, so the server itself
    # answers "no responders" (a refused publication gets a violation and no answer at all).
    with pytest.raises(nats.errors.NoRespondersError):
        await callers["mailer"].nc.request(subject, b"{}", timeout=5)
    assert not callers["mailer"].violated(subject)


@pytest.mark.parametrize(("sender", "signal"), [("accounts", SESSIONS_REVOKED), ("dossiers", DOSSIERS_CHANGED)])
async def test_only_its_service_signals_which_accounts_changed_and_only_the_fronts_hear_it(
    nats_server, connect, sender: str, signal: str
) -> None:
    """A forged revocation would only cost an rpc, but a spy on the signal would learn who logs
    out or edits a dossier: its service alone may send it, the gateway and the web front alone
    may hear it."""
    service, gateway, web = await connect(sender), await connect("gateway"), await connect("web")
    heard: list[bytes] = []

    async def hear(msg) -> None:
        heard.append(msg.data)

    await gateway.nc.subscribe(signal, cb=hear)
    await web.nc.subscribe(signal, cb=hear)
    await flush(gateway.nc)
    await flush(web.nc)
    await service.nc.publish(signal, b"*")
    await service.nc.flush()
    await eventually(lambda: heard == [b"*", b"*"], message="both fronts hear the service's signal")
    mailer, integrator = await connect("mailer"), await connect(INTEGRATOR)
    other = await connect("accounts" if sender == "dossiers" else "dossiers")
    for forger in (mailer, gateway, other):
        await forger.nc.publish(signal, b"forged")
    await integrator.nc.subscribe(signal)
    await mailer.nc.subscribe(signal)
    for client in (mailer, gateway, other, integrator):
        await client.nc.flush()
    subject = signal.lower()
    await eventually(
        lambda: all(c.violated(subject) for c in (mailer, gateway, other, integrator)),
        message="every other sender and listener refused",
    )
    await asyncio.sleep(0.2)
    assert heard == [b"*", b"*"]


async def test_only_a_service_s_replicas_signal_its_outbox_relay(nats_server, connect) -> None:
    """A replica of dossiers tells the leader of dossiers' outbox relay that it committed events;
    nobody else may send that signal (a flood of them would make the leader read its outbox again
    and again), nor listen to it (it tells when a service writes)."""
    leader, replica = await connect("dossiers"), await connect("dossiers")
    signal = outbox_committed_signal("dossiers")
    heard: list[bytes] = []

    async def hear(msg) -> None:
        heard.append(msg.data)

    await leader.nc.subscribe(signal, cb=hear)
    await flush(leader.nc)
    await replica.nc.publish(signal)
    await replica.nc.flush()
    await eventually(lambda: heard == [b""], message="the leader hears its replica")
    mailer, gateway, integrator = await connect("mailer"), await connect("gateway"), await connect(INTEGRATOR)
    for client in (mailer, gateway, integrator):
        await client.nc.publish(signal, b"forged")
        await client.nc.subscribe(signal)
        await client.nc.flush()
    await eventually(
        lambda: all(c.violated(signal) for c in (mailer, gateway, integrator)),
        message="every other sender and listener refused",
    )
    await asyncio.sleep(0.2)
    assert heard == [b""]


async def test_a_service_reads_and_removes_its_own_dead_letters_and_no_other_s(nats_server, connect) -> None:
    """A dead letter is a failed event (a candidature, a piece, a sealed link token): the mailer's
    identity reads and removes its own consumers' letters, and the server refuses it those of
    candidatures and documents (a get by number or by subject, a delete, a forged letter)."""
    ops = await connect("ops")
    ops_js = ops.nc.jetstream()
    marker = uuid.uuid4().hex
    durables = {
        "mailer": "mailer_notifications",
        "candidatures": "candidatures_accounts",
        "documents": "documents_letters",
    }
    seqs = {}
    for service, durable in durables.items():
        ack = await ops_js.publish(
            dead_letter_subject(service, durable),
            f"{service}:{marker}".encode(),
            headers={"Ecandidat-Consumer": durable, "Ecandidat-Error": "RuntimeError: probe"},
        )
        assert ack.stream == dead_letter_stream(service)
        seqs[service] = ack.seq

    mailer = await connect("mailer")
    allowed, js = mailer.nc.jetstream(timeout=15), mailer.nc.jetstream(timeout=1)  # js: the refused calls
    own = await get_dead_letter(allowed, "mailer", seqs["mailer"])
    assert own.data == f"mailer:{marker}".encode() and own.consumer == "mailer_notifications"
    listed, _ = await dead_letters_of(allowed, "mailer", ["mailer_notifications"], 500)
    assert seqs["mailer"] in {letter.seq for letter in listed}

    for victim in ("candidatures", "documents"):
        stream = dead_letter_stream(victim)
        with pytest.raises((nats.errors.TimeoutError, nats.js.errors.Error)):
            await js.get_msg(stream, seqs[victim])
        with pytest.raises((nats.errors.TimeoutError, nats.js.errors.Error)):
            await js.get_msg(stream, seq=1, subject=dead_letter_subject(victim, durables[victim]), next=True)
        with pytest.raises((nats.errors.TimeoutError, nats.js.errors.Error)):
            await js.delete_msg(stream, seqs[victim])
        with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
            await js.publish(dead_letter_subject(victim, durables[victim]), b"forged")
        await eventually(
            lambda: (
                mailer.violated(f"$js.api.stream.msg.get.{stream}")
                and mailer.violated(f"$js.api.stream.msg.delete.{stream}")
                and mailer.violated(dead_letter_subject(victim, durables[victim]))
            ),
            message=f"{victim}'s dead letters refused to the mailer",
        )
        kept = await ops_js.get_msg(stream, seqs[victim])  # still there, untouched
        assert kept.data == f"{victim}:{marker}".encode()

    # Nor does an integrator reach any: the dead-letter streams are not exported.
    integrator = await connect(INTEGRATOR)
    subject = f"{INTEGRATOR_JS_PREFIX}.STREAM.MSG.GET.{dead_letter_stream('candidatures')}"
    with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
        await integrator.nc.request(subject, b'{"seq": 1}', timeout=1)
    await eventually(lambda: integrator.violated(subject), message="dead letters refused to an integrator")

    # Its own letter, once handled, it removes.
    await forget_dead_letter(allowed, "mailer", seqs["mailer"])
    with pytest.raises(nats.js.errors.NotFoundError):
        await ops_js.get_msg(dead_letter_stream("mailer"), seqs["mailer"])
