"""`ecandidat` — the operator's command line.

    ecandidat mail-test --to ADDRESS        commit a test-mail event through the mailer's outbox
    ecandidat deliveries [--status failed]  the mail delivery log (asks the mailer over NATS)
    ecandidat dlq list                      events in the dead-letter streams (one per service), newest first
    ecandidat dlq replay SERVICE SEQ        publish a dead-lettered event again
    ecandidat dlq migrate                   move the letters of the former single DEAD_LETTERS stream
    ecandidat seed-demo                     create or update the demo campaign of the guide (and the demo student records)
    ecandidat schemas DIR                   export JSON Schemas and the AsyncAPI document
    ecandidat create-admin --email ADDRESS  create the first admin; prints how to log in

The kit owns the commands that touch only the bus (`dlq`) and the dispatch; a command that runs a
service's migrations or writes its tables lives in that service, `services/<name>/cli.py`, found
through the `ecandidat.cli` entry points of pyproject.toml (so the kit imports no service). Such a
module has `register(subparsers)` for its own commands and, if it holds demo data, an async
`seed_demo(args, settings)` that `ecandidat seed-demo` runs.

Connection settings come from DATABASE_URL and NATS_URL; on the bus the CLI is the `ops` identity
(NATS_NKEY_SEED_FILE=<folder>/ops.nk, or NATS_CREDENTIALS_DIR, see ecandidat.runtime.natsauth).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from importlib.metadata import entry_points
from types import ModuleType

from nats.aio.client import Client as NATS

from ecandidat.runtime.settings import KitSettings

ENTRY_POINTS = "ecandidat.cli"


def command_modules() -> list[ModuleType]:
    """The services' (and the gateway's) command modules, in the order of their names."""
    return [ep.load() for ep in sorted(entry_points(group=ENTRY_POINTS), key=lambda ep: ep.name)]


async def ops_nats(settings: KitSettings) -> NATS:
    """A connection to the bus as the operator (`ops`), failing fast rather than retrying."""
    from ecandidat.runtime.nats import connect_as
    from ecandidat.runtime.natsauth import OPS

    return await connect_as(settings, OPS, name="ecandidat-cli", max_reconnect_attempts=1, allow_reconnect=False)


async def _dlq(args: argparse.Namespace, settings: KitSettings) -> int:
    from ecandidat.runtime.deadletter import list_dead_letters, migrate_legacy_dead_letters, replay_dead_letter

    nc = await ops_nats(settings)
    try:
        js = nc.jetstream()
        if args.action == "list":
            for letter in await list_dead_letters(js, args.limit):
                print(
                    json.dumps(
                        {
                            "service": letter.service,
                            "seq": letter.seq,
                            "consumer": letter.consumer,
                            "subject": letter.original_subject,
                            "deliveries": letter.deliveries,
                            "error": letter.error,
                        },
                        ensure_ascii=False,
                    )
                )
        elif args.action == "migrate":
            moved, left = await migrate_legacy_dead_letters(js)
            print(f"moved {moved} dead letters into their service's stream")
            if left:
                print(f"left in DEAD_LETTERS (a consumer of no service): {' '.join(map(str, left))}", file=sys.stderr)
                return 1
        else:
            letter = await replay_dead_letter(js, args.service, args.seq)
            print(f"replayed dead letter {letter.service} {letter.seq} on {letter.original_subject}")
    finally:
        await nc.close()
    return 0


async def _seed_demo(args: argparse.Namespace, settings: KitSettings) -> int:
    """Every service's demo data: the offer of the guide (candidatures), the student records (dossiers)."""
    seeds = [module.seed_demo for module in command_modules() if hasattr(module, "seed_demo")]
    if not seeds:
        print(
            "no service command is installed (the `ecandidat.cli` entry points of pyproject.toml): "
            "run scripts/bootstrap, which installs the project",
            file=sys.stderr,
        )
        return 1
    for seed in seeds:
        await seed(args, settings)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ecandidat", description="eCandidat operator commands")
    sub = p.add_subparsers(dest="command", required=True)
    q = sub.add_parser("dlq", help="inspect or replay the dead-letter streams (one per service)")
    qs = q.add_subparsers(dest="action", required=True)
    ql = qs.add_parser("list")
    ql.add_argument("--limit", type=int, default=100, help="the newest letters shown per service")
    qr = qs.add_parser("replay")
    qr.add_argument("service", help="the service whose dead letter it is (`service` in `dlq list`)")
    qr.add_argument("seq", type=int)
    qs.add_parser("migrate", help="move the letters of the single DEAD_LETTERS stream of earlier versions")
    q.set_defaults(run=_dlq)
    sd = sub.add_parser("seed-demo", help="create or update the demo campaign of the candidates' guide")
    sd.add_argument("--today", help="date the demo campaign is open around (YYYY-MM-DD, default today)")
    sd.set_defaults(run=_seed_demo)
    for module in command_modules():
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return asyncio.run(args.run(args, KitSettings()))


if __name__ == "__main__":
    sys.exit(main())
