"""Who may do what on the NATS bus, and the one generator of the server configuration and the keys.

The description below (`POLICY`) is the only place where the bus's rights are written. From it,
`generate(folder)` writes, once (existing keys are kept):

- `accounts.conf`: the `accounts { … }` block that nats-server includes (`include accounts.conf`
  in `deploy/nats-cluster.conf`, `deploy/compose/nats.conf`, the local stack and the tests);
- `<identity>.nk`: one nkey seed per identity (mode 600), the secret a process connects with
  (`NATS_NKEY_SEED_FILE`, or its content in `NATS_NKEY_SEED`).

Accounts:

- **SERVICES**, JetStream enabled: one user per platform process. A service answers only its own
  `rpc.<service>.>` (queue group `<service>`), calls only the rpc subjects it needs, publishes
  only its own events (`evt.<service>.>`, and `prv.<service>.>` for mailer-only events) and
  signals (`sig.<service>.>`, core NATS: the accounts' session revocations and the dossiers'
  changes, read by the fronts; its replicas' `outbox_committed`, read by its own outbox relay's
  leader), and uses the JetStream API only for its own streams and its own durable consumers, and
  to read and remove the messages of its own dead-letter stream (`DEAD_LETTERS_<SERVICE>`: its
  consumers' letters, listed and replayed over its rpc; never another service's); it replies to the
  requests it received (`allow_responses`) and reads only its own inbox (`_INBOX.<identity>.>`,
  the connection's `inbox_prefix`). Only the gateway and the web front call the public rpc.
  `ops` (the operator's CLI, the provisioning of streams) may do everything in this account.
- **INTEGRATORS**, no JetStream of its own: imports the JetStream API of the event streams
  (`EVT_*`) from SERVICES, read-only: create and read its own durable consumers, acknowledge.
  It cannot publish events, call or see rpc, read the mailer-only streams (`PRV_*`, never
  exported), touch a stream, nor touch the platform's own consumers (denied by name).
- **SYS**: the system account (`nats` CLI server reports), user `admin`.

Two ways to hand the keys over:

- a folder (the local stack, the tests): `python -m ecandidat.runtime.natsauth FOLDER` creates or
  completes it; `--identity NAME --seed` prints one identity's seed;
- the environment (docker-compose, Kubernetes): the committed `deploy/nats/accounts.conf` is the
  same block with each public key as a variable (`nkey: $NATS_PUBLIC_KEY_ACCOUNTS`, resolved by
  nats-server from its environment), and `python -m ecandidat.runtime.natsauth --env` prints fresh
  `NATS_SEED_<NAME>=…` and `NATS_PUBLIC_KEY_<NAME>=…` lines for the secrets file: each process
  gets only its own seed (NATS_NKEY_SEED), the server only the public keys.
  `--template` prints that accounts.conf (a test checks the committed one is up to date).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import secrets
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..contracts.subjects import (
    DOSSIERS_CHANGED,
    SESSIONS_REVOKED,
    dead_letter_stream,
    dead_letter_subject,
    durable_name,
    event_stream,
    outbox_committed_signal,
    private_stream,
)

SERVICES_ACCOUNT = "SERVICES"
INTEGRATORS_ACCOUNT = "INTEGRATORS"
SYSTEM_ACCOUNT = "SYS"

INBOX = "_INBOX"
# Integrators reach the event streams' JetStream API under this prefix (their account has no
# JetStream of its own): `nc.jetstream(prefix=INTEGRATOR_JS_PREFIX)`.
INTEGRATOR_JS_PREFIX = "JS.ecandidat.API"

# The operations only services call on each other; the gateway and the front may not.
INTERNAL_RPC = (
    "rpc.documents.freeze_pieces",
    "rpc.documents.release_pieces",
    "rpc.documents.pieces_readiness",
    "rpc.documents.open_letter_attachment",
    "rpc.candidatures.get_candidature_facts",
)
PLATFORM = ("accounts", "dossiers", "candidatures", "documents", "mailer", "webhooks")


@dataclass(frozen=True)
class Service:
    """A platform service: its streams, the rpc it calls, its durable consumers by purpose."""

    name: str
    calls: tuple[str, ...] = ()
    consumes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # purpose -> streams read
    private_events: bool = False  # publishes mailer-only events (stream PRV_<NAME>)
    # Streams on which it creates consumers named at run time (`<name>_<purpose>`, one per webhook
    # endpoint): any durable of these streams but the other services' own.
    delivers: tuple[str, ...] = ()

    @property
    def streams(self) -> tuple[str, ...]:
        own = (event_stream(self.name),)
        return own + ((private_stream(self.name),) if self.private_events else ())

    def durables(self) -> list[tuple[str, str]]:
        """(stream, durable) of every consumer this service declares."""
        return [
            (stream, durable_name(self.name, purpose))
            for purpose, streams in sorted(self.consumes.items())
            for stream in streams
        ]


EVT = event_stream
POLICY: dict[str, Service] = {
    s.name: s
    for s in (
        # Lost-link requests are committed as private events that accounts itself then handles.
        Service("accounts", private_events=True, consumes={"mail-requests": (private_stream("accounts"),)}),
        Service("dossiers", consumes={"accounts": (EVT("accounts"),), "candidatures": (EVT("candidatures"),)}),
        # The commissions' alerts are private events, for the mailer: they name a mailbox and a candidate.
        Service(
            "candidatures",
            private_events=True,
            calls=(
                "rpc.documents.freeze_pieces",
                "rpc.documents.release_pieces",
                "rpc.documents.pieces_readiness",
                "rpc.dossiers.completeness",
            ),
            consumes={"accounts": (EVT("accounts"),), "on-piece-events": (EVT("documents"),)},
        ),
        Service(
            "documents",
            calls=(
                "rpc.candidatures.get_candidature",
                "rpc.candidatures.get_candidature_facts",
                "rpc.dossiers.get_dossier",
            ),
            consumes={
                "on-candidatures": (EVT("candidatures"),),
                "letters": (EVT("candidatures"),),
                "on-accounts": (EVT("accounts"),),
            },
        ),
        # Disabled endpoints are told to their administrator by mail: private events, for the mailer.
        Service(
            "webhooks",
            private_events=True,
            delivers=tuple(EVT(p) for p in ("accounts", "dossiers", "candidatures", "documents", "mailer")),
        ),
        Service(
            "mailer",
            calls=("rpc.documents.open_letter_attachment",),
            consumes={
                "directory": (EVT("accounts"), EVT("candidatures")),
                "notifications": (
                    EVT("accounts"),
                    private_stream("accounts"),
                    EVT("candidatures"),
                    private_stream("candidatures"),
                    EVT("documents"),
                    EVT("mailer"),
                    private_stream("webhooks"),
                ),
            },
        ),
    )
}
# Processes that call the public rpc on behalf of people: the HTTP gateway and the web front.
FRONTS = ("gateway", "web")
OPS = "ops"
INTEGRATOR = "integrator"  # the example integrator of the local stack and the tests
SYSTEM_ADMIN = "admin"


@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...] = ()
    publish_deny: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()
    subscribe_deny: tuple[str, ...] = ()
    allow_responses: bool = False

    def render(self) -> dict:
        out: dict = {}
        if self.publish or self.publish_deny:
            out["publish"] = _allow_deny(self.publish, self.publish_deny)
        if self.subscribe or self.subscribe_deny:
            out["subscribe"] = _allow_deny(self.subscribe, self.subscribe_deny)
        if self.allow_responses:
            out["allow_responses"] = True
        return out


def _allow_deny(allow: tuple[str, ...], deny: tuple[str, ...]) -> dict:
    return {k: list(v) for k, v in (("allow", allow), ("deny", deny)) if v}


@dataclass(frozen=True)
class Identity:
    name: str
    account: str
    permissions: Permissions | None  # None: everything in its account

    @property
    def inbox_prefix(self) -> str:
        return f"{INBOX}.{self.name}"


def _consumer_api(stream: str, durable: str, api: str = "$JS.API") -> list[str]:
    # <api>.CONSUMER.{CREATE,INFO,DELETE}.<stream>.<durable>[.<filter>],
    # <api>.CONSUMER.{DURABLE.CREATE,MSG.NEXT}.<stream>.<durable>, and the acks of its messages.
    return [
        f"{api}.CONSUMER.*.{stream}.{durable}",
        f"{api}.CONSUMER.*.{stream}.{durable}.>",
        f"{api}.CONSUMER.*.*.{stream}.{durable}",
        f"$JS.ACK.{stream}.{durable}.>",
    ]


def _stream_api(stream: str) -> list[str]:
    return [f"$JS.API.STREAM.{verb}.{stream}" for verb in ("CREATE", "UPDATE", "INFO")]


def service_permissions(service: Service) -> Permissions:
    publish = ["$JS.API.INFO", f"evt.{service.name}.>", f"sig.{service.name}.>"]
    if service.private_events:
        publish.append(f"prv.{service.name}.>")
    dead_letters = dead_letter_stream(service.name)
    for stream in (*service.streams, dead_letters):
        publish += _stream_api(stream)
    durables = service.durables()
    for stream, durable in durables:
        publish += _consumer_api(stream, durable)
    publish += sorted({dead_letter_subject(service.name, d) for _, d in durables})
    # Its dead letters: read and removed once replayed. A message get or delete names a stream, not
    # a subject (the request's body chooses the message), so each service has a stream of its own
    # and these rights name only that one: another service's letters are out of its reach.
    publish += [f"$JS.API.STREAM.MSG.{verb}.{dead_letters}" for verb in ("GET", "DELETE")]
    for stream in service.delivers:
        publish += [f"$JS.API.STREAM.INFO.{stream}", *_consumer_api(stream, "*")]
    publish += service.calls
    # Its own rpc (its health for `python -m ecandidat.runtime.healthcheck`, and the tests that
    # drive a service through its own connection): nothing its key does not already reach.
    publish.append(f"rpc.{service.name}.>")
    deny: list[str] = []
    if service.delivers:  # the other services' consumers are not its to read or change
        for other in POLICY.values():
            if other.name != service.name:
                deny += [
                    p
                    for stream, durable in other.durables()
                    if stream in service.delivers
                    for p in _consumer_api(stream, durable)
                ]
    return Permissions(
        publish=tuple(publish),
        publish_deny=tuple(deny),
        # Its own events too (it wrote them): a test watching what a service publishes uses its
        # connection. Its replicas' signal to its outbox relay's leader.
        subscribe=(
            f"rpc.{service.name}.>",
            f"{INBOX}.{service.name}.>",
            f"evt.{service.name}.>",
            outbox_committed_signal(service.name),
        )
        + ((f"prv.{service.name}.>",) if service.private_events else ()),
        allow_responses=True,
    )


def front_permissions(name: str) -> Permissions:
    return Permissions(
        publish=tuple(f"rpc.{s}.>" for s in PLATFORM),
        publish_deny=INTERNAL_RPC,
        subscribe=(f"{INBOX}.{name}.>", SESSIONS_REVOKED, DOSSIERS_CHANGED),
    )


def exported_streams() -> list[str]:
    """The event streams integrators read (never the mailer-only PRV_* streams, nor the dead letters)."""
    return [event_stream(p) for p in PLATFORM]


def _integrator_api(stream: str) -> list[tuple[str, str]]:
    """(subject exported by SERVICES, subject the integrators use) of one event stream."""
    api = [
        f"STREAM.INFO.{stream}",
        f"CONSUMER.CREATE.{stream}.>",
        f"CONSUMER.DURABLE.CREATE.{stream}.*",
        f"CONSUMER.INFO.{stream}.*",
        f"CONSUMER.DELETE.{stream}.*",
        f"CONSUMER.MSG.NEXT.{stream}.*",
    ]
    return [(f"$JS.API.{a}", f"{INTEGRATOR_JS_PREFIX}.{a}") for a in api] + [(f"$JS.ACK.{stream}.>",) * 2]


def integrator_permissions() -> Permissions:
    allow: list[str] = []
    for stream in exported_streams():
        allow += [local for _, local in _integrator_api(stream)]
    deny: list[str] = []
    for service in POLICY.values():  # the platform's own consumers are not theirs to read or change
        for stream, durable in service.durables():
            deny += _consumer_api(stream, durable, INTEGRATOR_JS_PREFIX)
    return Permissions(publish=tuple(allow), publish_deny=tuple(deny), subscribe=(f"{INBOX}.>",))


def identities() -> list[Identity]:
    out = [Identity(s.name, SERVICES_ACCOUNT, service_permissions(s)) for s in POLICY.values()]
    out += [Identity(name, SERVICES_ACCOUNT, front_permissions(name)) for name in FRONTS]
    out.append(Identity(OPS, SERVICES_ACCOUNT, None))
    out.append(Identity(INTEGRATOR, INTEGRATORS_ACCOUNT, integrator_permissions()))
    out.append(Identity(SYSTEM_ADMIN, SYSTEM_ACCOUNT, None))
    return out


def identity(name: str) -> Identity:
    for ident in identities():
        if ident.name == name:
            return ident
    raise KeyError(f"no NATS identity {name!r}: one of {', '.join(i.name for i in identities())}")


# -- nkeys ----------------------------------------------------------------------------------------

_PREFIX_SEED = 18 << 3
_PREFIX_USER = 20 << 3


def _crc16(data: bytes) -> int:
    return binascii.crc_hqx(data, 0)  # CRC-16/XMODEM, as nkeys uses


def new_user_seed() -> str:
    """A fresh user nkey seed (`SU…`), encoded as nkeys does."""
    raw = bytes([_PREFIX_SEED | (_PREFIX_USER >> 5), (_PREFIX_USER & 31) << 3]) + secrets.token_bytes(32)
    raw += _crc16(raw).to_bytes(2, "little")
    return base64.b32encode(raw).decode().rstrip("=")


def public_key(seed: str) -> str:
    import nkeys

    return nkeys.from_seed(seed.encode()).public_key.decode()


# -- files ----------------------------------------------------------------------------------------


def _q(value: str) -> str:
    return json.dumps(value)


class Var(str):
    """A nats-server configuration variable, written unquoted (`$NAME`) so the server resolves it."""


def public_key_variable(name: str) -> Var:
    return Var(f"$NATS_PUBLIC_KEY_{name.upper()}")


def _render_value(value: object, indent: str) -> str:
    if isinstance(value, dict):
        inner = indent + "  "
        lines = [f"{inner}{k}: {_render_value(v, inner)}" for k, v in value.items()]
        return "{\n" + "\n".join(lines) + f"\n{indent}}}"
    if isinstance(value, list):
        inner = indent + "  "
        return "[\n" + "\n".join(f"{inner}{_render_value(v, inner)}" for v in value) + f"\n{indent}]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Var):
        return str(value)
    return _q(str(value))


def accounts_template() -> str:
    """accounts.conf with every public key as a variable (deploy/nats/accounts.conf)."""
    return accounts_config({ident.name: public_key_variable(ident.name) for ident in identities()})


def env_lines() -> list[str]:
    """Fresh keys as environment lines: NATS_SEED_<NAME> (for the process) and NATS_PUBLIC_KEY_<NAME>
    (for nats-server), for every identity."""
    lines = []
    for ident in identities():
        seed = new_user_seed()
        lines += [f"NATS_SEED_{ident.name.upper()}={seed}", f"NATS_PUBLIC_KEY_{ident.name.upper()}={public_key(seed)}"]
    return lines


def accounts_config(public_keys: Mapping[str, str]) -> str:
    """The `accounts { … }` and `system_account` blocks for these identities' public keys."""
    users: dict[str, list[dict]] = {SERVICES_ACCOUNT: [], INTEGRATORS_ACCOUNT: [], SYSTEM_ACCOUNT: []}
    for ident in identities():
        user: dict = {"nkey": public_keys[ident.name]}
        if ident.permissions is not None:
            user["permissions"] = ident.permissions.render()
        users[ident.account].append(user)
    exports: list[dict] = []
    imports: list[dict] = []
    for stream in exported_streams():
        for subject, local in _integrator_api(stream):
            export: dict = {"service": subject}
            if ".MSG.NEXT." in subject:
                export["response_type"] = "stream"  # one fetch, many messages
            exports.append(export)
            imports.append({"service": {"account": SERVICES_ACCOUNT, "subject": subject}, "to": local})
    accounts = {
        SERVICES_ACCOUNT: {"jetstream": "enabled", "users": users[SERVICES_ACCOUNT], "exports": exports},
        INTEGRATORS_ACCOUNT: {"users": users[INTEGRATORS_ACCOUNT], "imports": imports},
        SYSTEM_ACCOUNT: {"users": users[SYSTEM_ACCOUNT]},
    }
    body = "\n".join(f"  {name}: {_render_value(spec, '  ')}" for name, spec in accounts.items())
    return (
        "# Generated by `python -m ecandidat.runtime.natsauth` from its POLICY: do not edit by hand.\n"
        f"accounts: {{\n{body}\n}}\nsystem_account: {SYSTEM_ACCOUNT}\n"
    )


@dataclass(frozen=True)
class BusCredentials:
    """A generated folder: the accounts block and one seed file per identity."""

    folder: Path

    @property
    def accounts_file(self) -> Path:
        return self.folder / "accounts.conf"

    def seed_file(self, name: str) -> Path:
        identity(name)
        return self.folder / f"{name}.nk"

    def seed(self, name: str) -> str:
        return self.seed_file(name).read_text().strip()

    def connect_options(self, name: str) -> dict[str, object]:
        """nats.connect() keyword arguments to connect as `name`."""
        return {"nkeys_seed_str": self.seed(name), "inbox_prefix": identity(name).inbox_prefix}


def generate(folder: Path) -> BusCredentials:
    """Create the seeds that are missing, then (re)write accounts.conf from POLICY."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    creds = BusCredentials(folder)
    keys: dict[str, str] = {}
    for ident in identities():
        path = creds.seed_file(ident.name)
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(new_user_seed() + "\n")
        keys[ident.name] = public_key(path.read_text().strip())
    text = accounts_config(keys)
    if not creds.accounts_file.exists() or creds.accounts_file.read_text() != text:
        creds.accounts_file.write_text(text)
    return creds


def server_config(creds: BusCredentials, *, extra: Iterable[str] = ()) -> str:
    """A minimal nats-server configuration (listen, store, monitoring come from the command line)."""
    return "\n".join([*extra, f"include {_q(creds.accounts_file.name)}", ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecandidat.runtime.natsauth", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, nargs="?", help="where accounts.conf and the <identity>.nk seeds are kept")
    parser.add_argument("--identity", help="print this identity's seed (with --seed) or public key")
    parser.add_argument("--seed", action="store_true")
    parser.add_argument("--env", action="store_true", help="print fresh keys as NATS_SEED_*/NATS_PUBLIC_KEY_* lines")
    parser.add_argument("--template", action="store_true", help="print accounts.conf with the keys as variables")
    args = parser.parse_args(argv)
    if args.env or args.template:
        print("\n".join(env_lines()) if args.env else accounts_template(), end="\n" if args.env else "")
        return 0
    if args.folder is None:
        parser.error("a FOLDER, --env or --template")
    creds = generate(args.folder)
    if args.identity:
        seed = creds.seed(args.identity)
        print(seed if args.seed else public_key(seed))
        return 0
    print(creds.accounts_file)
    for ident in identities():
        print(f"{creds.seed_file(ident.name)}  ({ident.account})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
