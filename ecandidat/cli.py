"""`ecandidat` — the operator's command line.

    ecandidat mail-test --to ADDRESS        commit a test-mail event through the mailer's outbox
    ecandidat deliveries [--status failed]  the mail delivery log (asks the mailer over NATS)
    ecandidat dlq list                      events in the dead-letter stream
    ecandidat dlq replay SEQ                publish a dead-lettered event again
    ecandidat seed-demo                     create or update the demo campaign of the guide (and the demo student records)
    ecandidat schemas DIR                   export JSON Schemas and the AsyncAPI document
    ecandidat create-admin --email ADDRESS  create the first admin; prints how to log in

Connection settings come from DATABASE_URL and NATS_URL; on the bus the CLI is the `ops` identity
(NATS_NKEY_SEED_FILE=<folder>/ops.nk, or NATS_CREDENTIALS_DIR, see ecandidat.runtime.natsauth).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from ecandidat.runtime.settings import KitSettings


async def _mail_test(args: argparse.Namespace, settings: KitSettings) -> int:
    from ecandidat.runtime.clock import SystemClock
    from ecandidat.runtime.db import connect, migrate
    from services.mailer.rpc import request_mail_check
    from services.mailer.service import MIGRATIONS

    await migrate(settings.database_url, "mailer", MIGRATIONS)
    conn = await connect(settings.database_url, "mailer")
    try:
        event_id = await request_mail_check(conn, args.to, args.by, SystemClock())
    finally:
        await conn.close()
    print(f"test mail to {args.to} committed as event {event_id}; the mailer sends it as soon as it runs")
    return 0


async def _nats(settings: KitSettings):
    from ecandidat.runtime.natsauth import OPS
    from ecandidat.runtime.nats import connect_as

    return await connect_as(settings, OPS, name="ecandidat-cli", max_reconnect_attempts=1, allow_reconnect=False)


async def _deliveries(args: argparse.Namespace, settings: KitSettings) -> int:
    from ecandidat.contracts.mailer import Deliveries, ListDeliveries
    from ecandidat.runtime.rpc import RpcClient

    nc = await _nats(settings)
    try:
        reply = await RpcClient(nc).call(
            ListDeliveries(status=args.status, recipient=args.recipient, limit=args.limit), Deliveries
        )
    finally:
        await nc.close()
    for d in reply.items:
        print(json.dumps(d.model_dump(mode="json"), ensure_ascii=False))
    return 0


async def _dlq(args: argparse.Namespace, settings: KitSettings) -> int:
    from ecandidat.runtime.deadletter import list_dead_letters, replay_dead_letter

    nc = await _nats(settings)
    try:
        js = nc.jetstream()
        if args.action == "list":
            for letter in await list_dead_letters(js, args.limit):
                print(json.dumps({
                    "seq": letter.seq, "consumer": letter.consumer, "subject": letter.original_subject,
                    "deliveries": letter.deliveries, "error": letter.error,
                }, ensure_ascii=False))
        else:
            letter = await replay_dead_letter(js, args.seq)
            print(f"replayed dead letter {letter.seq} on {letter.original_subject}")
    finally:
        await nc.close()
    return 0


async def _seed_demo(args: argparse.Namespace, settings: KitSettings) -> int:
    from datetime import date

    from ecandidat.runtime.db import create_pool, migrate
    from services.candidatures.seed import FORMATIONS, seed_demo
    from services.candidatures.service import MIGRATIONS

    await migrate(settings.database_url, "candidatures", MIGRATIONS)
    pool = await create_pool(settings.database_url, "candidatures", max_size=2)
    try:
        today = date.fromisoformat(args.today) if args.today else date.today()
        pieces = await seed_demo(pool, today)
    finally:
        await pool.close()
    print(f"demo campaign seeded: {len(FORMATIONS)} formations, {len(pieces)} pièces justificatives, open from {today}")
    await _seed_registry(settings)
    return 0


async def _seed_registry(settings: KitSettings) -> None:
    """The demo student-records registry: the records of the local ENT's test users."""
    from ecandidat.runtime.db import create_pool, migrate
    from services.dossiers.seed import seed_registry
    from services.dossiers.service import MIGRATIONS

    await migrate(settings.database_url, "dossiers", MIGRATIONS)
    pool = await create_pool(settings.database_url, "dossiers", max_size=2)
    try:
        report = await seed_registry(pool)
    finally:
        await pool.close()
    print(f"demo student records: {report.lignes} (INE of the local ENT's test users)")


async def _schemas(args: argparse.Namespace, settings: KitSettings) -> int:
    from ecandidat.contracts.registry import export
    from gateway.asyncapi import build

    for path in export(Path(args.dir)):
        print(path)
    path = Path(args.dir) / "asyncapi.json"
    path.write_text(json.dumps(build(), indent=2, ensure_ascii=False))
    print(path)
    return 0


async def _create_admin(args: argparse.Namespace, settings: KitSettings) -> int:
    from ecandidat.runtime.clock import SystemClock
    from ecandidat.runtime.db import connect, migrate
    from ecandidat.runtime.sealing import Sealer
    from services.accounts.service import MIGRATIONS
    from services.accounts.settings import AccountsSettings
    from services.accounts.staff import create_first_admin

    from pydantic import ValidationError

    from ecandidat.contracts.accounts import ByEmail

    try:
        args.email = ByEmail(email=args.email).email
    except ValidationError:
        print(f"not a valid email address: {args.email!r}", file=sys.stderr)
        return 2
    accounts = AccountsSettings()
    await migrate(accounts.database_url, "accounts", MIGRATIONS)
    conn = await connect(accounts.database_url, "accounts")
    try:
        view, token = await create_first_admin(
            conn, email=args.email, nom=args.nom, prenom=args.prenom, sealer=Sealer(accounts.link_sealing_key),
            clock=SystemClock(), settings=accounts,
        )
    finally:
        await conn.close()
    base = accounts.public_base_url.rstrip("/")
    if token is None:
        print(f"admin {view.email} already exists and is set up: log in with POST {base}/api/v1/staff/sessions "
              '{"email", "password", "code"} (code: TOTP or a recovery code)')
        return 0
    print(f"""admin {view.email} ({view.account_id}) is ready to be set up; the link is also mailed to that address.
1. choose the password (answer: the TOTP key, as otpauth URI for an authenticator app):
   curl -s -X POST {base}/api/v1/staff/setup -H 'Content-Type: application/json' \\
        -d '{{"token": "{token}", "password": "<12+ characters>", "password_confirmation": "<same>"}}'
2. confirm with the 6-digit code the app shows (answer: one-time recovery codes, keep them):
   curl -s -X POST {base}/api/v1/staff/setup/confirmation -H 'Content-Type: application/json' \\
        -d '{{"token": "{token}", "code": "<6 digits>"}}'
3. log in: POST {base}/api/v1/staff/sessions {{"email": "{view.email}", "password": "...", "code": "<6 digits>"}}
Web page for the same link: {base}/personnel/installation?jeton={token} (valid {accounts.accounts_staff_setup_hours:g} h)""")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ecandidat", description="eCandidat operator commands")
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("mail-test", help="send a test mail through the outbox and the mailer")
    m.add_argument("--to", required=True)
    m.add_argument("--by", default="operator", help="who asks (shown in the mail)")
    m.set_defaults(run=_mail_test)
    d = sub.add_parser("deliveries", help="list the mail delivery log")
    d.add_argument("--status", choices=["pending", "sent", "failed"])
    d.add_argument("--recipient")
    d.add_argument("--limit", type=int, default=50)
    d.set_defaults(run=_deliveries)
    q = sub.add_parser("dlq", help="inspect or replay the dead-letter stream")
    qs = q.add_subparsers(dest="action", required=True)
    ql = qs.add_parser("list")
    ql.add_argument("--limit", type=int, default=100)
    qr = qs.add_parser("replay")
    qr.add_argument("seq", type=int)
    q.set_defaults(run=_dlq)
    sd = sub.add_parser("seed-demo", help="create or update the demo campaign of the candidates' guide")
    sd.add_argument("--today", help="date the demo campaign is open around (YYYY-MM-DD, default today)")
    sd.set_defaults(run=_seed_demo)
    s = sub.add_parser("schemas", help="export event and rpc JSON Schemas and the AsyncAPI document")
    s.add_argument("dir")
    s.set_defaults(run=_schemas)
    a = sub.add_parser("create-admin", help="create the first admin account and print how to log in")
    a.add_argument("--email", required=True)
    a.add_argument("--nom", default="Administrateur")
    a.add_argument("--prenom", default="eCandidat")
    a.set_defaults(run=_create_admin)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return asyncio.run(args.run(args, KitSettings()))


if __name__ == "__main__":
    sys.exit(main())
