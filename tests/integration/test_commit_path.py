"""No NOTIFY in the platform's commits but the one that must reach other processes.

A NOTIFY takes a lock of the whole PostgreSQL server at commit: every notifying commit of every
database waits for the previous one to be flushed. The outbox relay, the mailer's sender and the
documents' eraser are woken in their own process after the commit (`db.wake_after_commit`), the
other replicas polling. The one channel left announces to every gateway the accounts whose
session or kept account view ended (accounts, `accounts_sessions_revoked`): a revocation must reach
the other processes at once, and it comes with a logout, an administrator's change, a change of
the account's names or INE or a requested change of address — not with each candidate's action
on a dossier or a candidature. (`link_tokens`' trigger runs at every insert of a link, and
notifies only for a change of address: the others, activations and password resets, announce
nothing.)
"""

from __future__ import annotations

import importlib
from pathlib import Path

import asyncpg

from ecandidat.runtime.db import migrate

SERVICES = sorted(
    p.name for p in (Path(__file__).resolve().parents[2] / "services").iterdir() if (p / "service.py").exists()
)


async def test_only_the_session_revocations_notify_at_commit(database_url):
    for name in SERVICES:
        await migrate(database_url, name, importlib.import_module(f"services.{name}.service").MIGRATIONS)
    conn = await asyncpg.connect(database_url)
    try:
        functions = {
            (r["schema"], r["name"]): r["source"]
            for r in await conn.fetch(
                """SELECT n.nspname AS schema, p.proname AS name, p.prosrc AS source
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ANY($1::text[])""",
                SERVICES,
            )
        }
        triggers = await conn.fetch(
            """SELECT n.nspname AS schema, c.relname AS "table", t.tgname AS trigger, p.proname AS function
                 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_proc p ON p.oid = t.tgfoid
                WHERE NOT t.tgisinternal AND n.nspname = ANY($1::text[])""",
            SERVICES,
        )
    finally:
        await conn.close()
    notifiers = {key for key, source in functions.items() if "notify" in source.lower()}
    # A function that notifies, directly or through one that does.
    calling = {
        key
        for key, source in functions.items()
        if key in notifiers or any(name in source for (schema, name) in notifiers if schema == key[0])
    }
    notifying = sorted(
        (t["schema"], t["table"], t["trigger"]) for t in triggers if (t["schema"], t["function"]) in calling
    )
    assert notifying, "the session revocations are announced by triggers"
    assert {schema for schema, _, _ in notifying} == {"accounts"}, notifying
    assert {table for _, table, _ in notifying} == {"sessions", "candidates", "staff_accounts", "link_tokens"}, (
        notifying
    )
