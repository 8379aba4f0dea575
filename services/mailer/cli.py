"""The mailer's operator commands (`ecandidat mail-test`, `ecandidat deliveries`)."""

from __future__ import annotations

import argparse
import json

from ecandidat.cli import ops_nats
from ecandidat.contracts.mailer import Deliveries, ListDeliveries
from ecandidat.runtime.clock import SystemClock
from ecandidat.runtime.db import connect, migrate
from ecandidat.runtime.rpc import RpcClient
from ecandidat.runtime.settings import KitSettings
from services.mailer.handlers import request_mail_check
from services.mailer.service import MIGRATIONS


async def mail_test(args: argparse.Namespace, settings: KitSettings) -> int:
    await migrate(settings.database_url, "mailer", MIGRATIONS)
    conn = await connect(settings.database_url, "mailer")
    try:
        event_id = await request_mail_check(conn, args.to, args.by, SystemClock())
    finally:
        await conn.close()
    print(f"test mail to {args.to} committed as event {event_id}; the mailer sends it as soon as it runs")
    return 0


async def deliveries(args: argparse.Namespace, settings: KitSettings) -> int:
    nc = await ops_nats(settings)
    try:
        reply = await RpcClient(nc).call(
            ListDeliveries(status=args.status, recipient=args.recipient, limit=args.limit), Deliveries
        )
    finally:
        await nc.close()
    for d in reply.items:
        print(json.dumps(d.model_dump(mode="json"), ensure_ascii=False))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    m = sub.add_parser("mail-test", help="send a test mail through the outbox and the mailer")
    m.add_argument("--to", required=True)
    m.add_argument("--by", default="operator", help="who asks (shown in the mail)")
    m.set_defaults(run=mail_test)
    d = sub.add_parser("deliveries", help="list the mail delivery log")
    d.add_argument("--status", choices=["pending", "sent", "failed"])
    d.add_argument("--recipient")
    d.add_argument("--limit", type=int, default=50)
    d.set_defaults(run=deliveries)
