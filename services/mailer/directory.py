"""The mailer's directory: candidates' current addresses and names, and what each candidature is
for, kept from the events of the accounts and candidatures services (the mailer calls no one)."""

from __future__ import annotations

import uuid

import asyncpg

from ecandidat.contracts.accounts import AccountCreated, AccountEmailChanged, AccountPurged
from ecandidat.contracts.candidatures import CandidatureCreated, CandidatureDeadlineChanged
from ecandidat.runtime.consumer import Subscription


class NotYetKnown(Exception):
    """The event names someone the directory has not heard of yet: retried later."""


async def on_account_created(conn: asyncpg.Connection, event: AccountCreated, meta) -> None:
    await conn.execute(
        """INSERT INTO contacts (account_id, numero_dossier, nom, prenom, email) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (account_id) DO NOTHING""",
        event.account_id,
        event.numero_dossier,
        event.nom,
        event.prenom,
        event.email,
    )


async def on_email_changed(conn: asyncpg.Connection, event: AccountEmailChanged, meta) -> None:
    await conn.execute(
        """INSERT INTO contacts (account_id, numero_dossier, nom, prenom, email) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (account_id) DO UPDATE SET email = excluded.email""",
        event.account_id,
        event.numero_dossier,
        event.nom,
        event.prenom,
        event.new_email,
    )


async def on_account_purged(conn: asyncpg.Connection, event: AccountPurged, meta) -> None:
    await conn.execute("DELETE FROM contacts WHERE account_id = $1", event.account_id)
    await conn.execute("DELETE FROM candidatures WHERE account_id = $1", event.account_id)


async def on_candidature_created(conn: asyncpg.Connection, event: CandidatureCreated, meta) -> None:
    await conn.execute(
        """INSERT INTO candidatures (candidature_id, account_id, formation_libelle, centre_libelle, date_limite_retour)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (candidature_id) DO NOTHING""",
        event.candidature_id,
        event.account_id,
        event.formation_libelle,
        event.centre_libelle,
        event.date_limite_retour,
    )


async def on_deadline_changed(conn: asyncpg.Connection, event: CandidatureDeadlineChanged, meta) -> None:
    await conn.execute(
        "UPDATE candidatures SET date_limite_retour = $2 WHERE candidature_id = $1",
        event.candidature_id,
        event.date_limite_retour,
    )


def subscriptions() -> list[Subscription]:
    return [
        Subscription(AccountCreated, on_account_created),
        Subscription(AccountEmailChanged, on_email_changed),
        Subscription(AccountPurged, on_account_purged),
        Subscription(CandidatureCreated, on_candidature_created),
        Subscription(CandidatureDeadlineChanged, on_deadline_changed),
    ]


async def contact(conn: asyncpg.Connection, account_id: uuid.UUID) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM contacts WHERE account_id = $1", account_id)
    if row is None:
        raise NotYetKnown(f"no contact yet for account {account_id}")
    return row


async def candidature(conn: asyncpg.Connection, candidature_id: uuid.UUID) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM candidatures WHERE candidature_id = $1", candidature_id)
    if row is None:
        raise NotYetKnown(f"candidature {candidature_id} not known yet")
    return row
