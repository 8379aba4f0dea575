"""The accounts service's operator command (`ecandidat create-admin`): the first administrator."""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from ecandidat.contracts.accounts import ByEmail
from ecandidat.runtime.clock import SystemClock
from ecandidat.runtime.db import connect, migrate
from ecandidat.runtime.sealing import Sealer
from ecandidat.runtime.settings import KitSettings
from services.accounts.service import MIGRATIONS
from services.accounts.settings import AccountsSettings
from services.accounts.staff import create_first_admin


async def create_admin(args: argparse.Namespace, settings: KitSettings) -> int:
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
            conn,
            email=args.email,
            nom=args.nom,
            prenom=args.prenom,
            sealer=Sealer(accounts.link_sealing_key),
            clock=SystemClock(),
            settings=accounts,
        )
    finally:
        await conn.close()
    base = accounts.public_base_url.rstrip("/")
    if token is None:
        print(
            f"admin {view.email} already exists and is set up: log in with POST {base}/api/v1/staff/sessions "
            '{"email", "password", "code"} (code: TOTP or a recovery code)'
        )
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


def register(sub: argparse._SubParsersAction) -> None:
    a = sub.add_parser("create-admin", help="create the first admin account and print how to log in")
    a.add_argument("--email", required=True)
    a.add_argument("--nom", default="Administrateur")
    a.add_argument("--prenom", default="eCandidat")
    a.set_defaults(run=create_admin)
