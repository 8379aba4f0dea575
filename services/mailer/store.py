"""The mailer's SQL: the delivery log, which is also the sending queue, and the directory
(candidates' contacts and what each candidature is for, kept from events)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime

import asyncpg

from ecandidat.runtime.db import wake_after_commit

from .catalogue import Attachment
from .render import Rendered

_COLUMNS = """id, event_id, event_type, template, recipient, subject, message_id, status, attempts,
              last_error, created_at, sent_at, next_attempt_at"""


QUEUE_CHANNEL = "deliveries"  # a mail queued wakes this process's sender (`db.woken_by`)


async def enqueue(
    conn: asyncpg.Connection,
    *,
    event_id: uuid.UUID,
    event_type: str,
    template: str,
    recipient: str,
    rendered: Rendered,
    attachments: tuple[Attachment, ...],
    message_id: str,
    now: datetime,
) -> bool:
    """Record a mail to send; False when this event already produced it. The senders of this process
    are woken once it commits (those of the other replicas find it at their next look)."""
    inserted = await conn.fetchval(
        """INSERT INTO deliveries (id, event_id, event_type, template, recipient, subject, body_text, body_html,
                                   attachments, message_id, next_attempt_at, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
           ON CONFLICT (event_id, template, recipient) DO NOTHING
           RETURNING true""",
        uuid.uuid4(),
        event_id,
        event_type,
        template,
        recipient,
        rendered.subject,
        rendered.text,
        rendered.html,
        [asdict(a) for a in attachments],
        message_id,
        now,
    )
    if inserted:
        wake_after_commit(conn, QUEUE_CHANNEL)
    return bool(inserted)


@dataclass(frozen=True)
class Queued:
    """One mail for `enqueue_many` (the arguments of `enqueue`)."""

    event_id: uuid.UUID
    event_type: str
    template: str
    recipient: str
    rendered: Rendered
    attachments: tuple[Attachment, ...]
    message_id: str


async def enqueue_many(conn: asyncpg.Connection, mails: list[Queued], now: datetime) -> int:
    """`enqueue` for several mails in one statement; how many were new."""
    if not mails:
        return 0
    inserted = await conn.fetchval(
        """WITH added AS (
               INSERT INTO deliveries (id, event_id, event_type, template, recipient, subject, body_text, body_html,
                                       attachments, message_id, next_attempt_at, created_at)
               SELECT i, e, t, tp, r, s, bt, bh, a::jsonb, m, $11, $11
               FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                           $8::text[], $9::text[], $10::text[]) WITH ORDINALITY AS q(i, e, t, tp, r, s, bt, bh, a, m, n)
               ORDER BY n
               ON CONFLICT (event_id, template, recipient) DO NOTHING
               RETURNING 1)
           SELECT count(*) FROM added""",
        [uuid.uuid4() for _ in mails],
        [m.event_id for m in mails],
        [m.event_type for m in mails],
        [m.template for m in mails],
        [m.recipient for m in mails],
        [m.rendered.subject for m in mails],
        [m.rendered.text for m in mails],
        [m.rendered.html for m in mails],
        [json.dumps([asdict(a) for a in m.attachments]) for m in mails],
        [m.message_id for m in mails],
        now,
    )
    if inserted:
        wake_after_commit(conn, QUEUE_CHANNEL)
    return int(inserted)


_CLAIM = """UPDATE deliveries d SET status = 'sending', lease_until = $2, attempts = d.attempts + 1, claimed_by = $5
             FROM (SELECT id FROM deliveries
                   WHERE ((status = 'pending' AND next_attempt_at <= $1)
                          OR (status = 'sending' AND lease_until <= $1))
                     AND NOT (id = ANY($4::uuid[]))
                   ORDER BY next_attempt_at
                   LIMIT $3
                   FOR UPDATE SKIP LOCKED) due
             WHERE d.id = due.id
             RETURNING d.*"""


# When the first of the deliveries waiting or being sent comes due: a retry's time, a lease's end.
_DUE_AT = "min(CASE WHEN status = 'pending' THEN next_attempt_at ELSE lease_until END)"


@dataclass(frozen=True)
class Claim:
    """What a sender claims: at most `limit` due deliveries, leased to `claimer` until `lease_until`,
    except those it is sending already (`exclude`)."""

    lease_until: datetime
    limit: int
    claimer: str
    exclude: Sequence[uuid.UUID] = ()


async def claim_due(
    conn: asyncpg.Connection, now: datetime, claim: Claim
) -> tuple[list[asyncpg.Record], datetime | None]:
    """Reserve due deliveries (pending ones, and 'sending' ones whose sender died) for
    `claim.claimer`; with them, when the first of the others comes due (a retry's time, a lease's
    end; None when there are none), in the same statement: the sender waits until then."""
    rows = await conn.fetch(
        f"""WITH claimed AS ({_CLAIM})
            SELECT (SELECT {_DUE_AT} FROM deliveries WHERE status IN ('pending', 'sending')
                      AND id NOT IN (SELECT id FROM claimed)) AS next_due, claimed.*
              FROM (VALUES (1)) AS one LEFT JOIN claimed ON true""",
        now,
        claim.lease_until,
        claim.limit,
        list(claim.exclude),
        claim.claimer,
    )
    return [r for r in rows if r["id"] is not None], rows[0]["next_due"]


async def extend_leases(
    conn: asyncpg.Connection, delivery_ids: Sequence[uuid.UUID], lease_until: datetime, *, claimer: str
) -> None:
    """Keep the deliveries `claimer` is sending reserved to it."""
    await conn.execute(
        """UPDATE deliveries SET lease_until = $2
           WHERE id = ANY($1::uuid[]) AND status = 'sending' AND claimed_by = $3""",
        list(delivery_ids),
        lease_until,
        claimer,
    )


_SENT = """UPDATE deliveries SET status = 'sent', sent_at = $1, smtp_response = ${response}, lease_until = NULL,
                   last_error = NULL WHERE id = ${id}"""


async def mark_sent(
    conn: asyncpg.Connection, delivery_id: uuid.UUID, now: datetime, response: str, then: Claim | None = None
) -> list[asyncpg.Record]:
    """Record that the server accepted the delivery; with `then`, also claim the next due deliveries
    in the same statement and return them (`then.exclude` holds `delivery_id`): a busy sender pays
    one round trip a mail instead of two."""
    if then is None:
        await conn.execute(_SENT.format(id=2, response=3), now, delivery_id, response[:500])
        return []
    return await conn.fetch(
        f"WITH sent AS ({_SENT.format(id=6, response=7)}) {_CLAIM}",
        now,
        then.lease_until,
        then.limit,
        list(then.exclude),
        then.claimer,
        delivery_id,
        response[:500],
    )


async def mark_retry(conn: asyncpg.Connection, delivery_id: uuid.UUID, at: datetime, error: str) -> None:
    await conn.execute(
        """UPDATE deliveries SET status = 'pending', next_attempt_at = $2, last_error = $3, lease_until = NULL
           WHERE id = $1""",
        delivery_id,
        at,
        error[:1000],
    )


async def mark_failed(conn: asyncpg.Connection, delivery_id: uuid.UUID, now: datetime, error: str) -> None:
    await conn.execute(
        """UPDATE deliveries SET status = 'failed', failed_at = $2, last_error = $3, lease_until = NULL
           WHERE id = $1""",
        delivery_id,
        now,
        error[:1000],
    )


async def list_deliveries(
    conn: asyncpg.Connection, *, status: str | None, recipient: str | None, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {_COLUMNS} FROM deliveries
            WHERE ($1::text IS NULL OR status = $1)
              AND ($2::text IS NULL OR lower(recipient) = lower($2))
            ORDER BY created_at DESC LIMIT $3""",
        status,
        recipient,
        limit,
    )


def attachments_of(row: asyncpg.Record) -> list[Attachment]:
    raw = row["attachments"]
    if isinstance(raw, str):
        raw = json.loads(raw)
    return [Attachment(**a) for a in raw]


# -- the directory ---------------------------------------------------------------------------------


class NotYetKnown(Exception):
    """The event names someone the directory has not heard of yet: retried later."""


async def add_contact(
    conn: asyncpg.Connection, account_id: uuid.UUID, numero_dossier: str, nom: str, prenom: str, email: str
) -> None:
    await conn.execute(
        """INSERT INTO contacts (account_id, numero_dossier, nom, prenom, email) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (account_id) DO NOTHING""",
        account_id,
        numero_dossier,
        nom,
        prenom,
        email,
    )


async def set_contact_email(
    conn: asyncpg.Connection, account_id: uuid.UUID, numero_dossier: str, nom: str, prenom: str, email: str
) -> None:
    await conn.execute(
        """INSERT INTO contacts (account_id, numero_dossier, nom, prenom, email) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (account_id) DO UPDATE SET email = excluded.email""",
        account_id,
        numero_dossier,
        nom,
        prenom,
        email,
    )


async def forget_mails_to(conn: asyncpg.Connection, account_id: uuid.UUID) -> int:
    """The delivery log's sent and failed mails to a purged account's address (a mail still to
    send, such as the one confirming a deletion, leaves as due and goes with the log's retention)."""
    status = await conn.execute(
        """DELETE FROM deliveries
           WHERE lower(recipient) = (SELECT lower(email) FROM contacts WHERE account_id = $1)
             AND status IN ('sent', 'failed')""",
        account_id,
    )
    return int(status.split()[-1])


async def forget_old_mails(conn: asyncpg.Connection, before: datetime, limit: int) -> int:
    """Up to `limit` sent or failed mails of the delivery log created before `before`."""
    status = await conn.execute(
        """DELETE FROM deliveries WHERE id IN (
               SELECT id FROM deliveries WHERE status IN ('sent', 'failed') AND created_at < $1 LIMIT $2)""",
        before,
        limit,
    )
    return int(status.split()[-1])


async def hold(
    conn: asyncpg.Connection,
    event_id: uuid.UUID,
    index: int,
    recipient: str,
    summary: str,
    context: dict,
    now: datetime,
) -> None:
    """A mail kept for `recipient`'s daily summary (template `summary`); once per event and index."""
    await conn.execute(
        """INSERT INTO held_mails (event_id, idx, recipient, template, context, held_at)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING""",
        event_id,
        index,
        recipient,
        summary,
        {key: _iso(value) for key, value in context.items()},
        now,
    )


def _iso(value: object) -> object:
    """Dates and times as ISO 8601 (which the templates' `date_fr` reads back), for the JSON column."""
    return value.isoformat() if isinstance(value, (date, datetime)) else value


async def take_held(conn: asyncpg.Connection, before: datetime, limit: int) -> list[asyncpg.Record]:
    """The mails held before `before`, oldest first, deleted (the caller queues their summaries in
    the same transaction); locked rows are another replica's run."""
    return await conn.fetch(
        """DELETE FROM held_mails WHERE (event_id, idx) IN (
               SELECT event_id, idx FROM held_mails WHERE held_at < $1 ORDER BY held_at LIMIT $2
               FOR UPDATE SKIP LOCKED)
           RETURNING event_id, idx, recipient, template, context, held_at""",
        before,
        limit,
    )


async def forget_candidature(conn: asyncpg.Connection, candidature_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM candidatures WHERE candidature_id = $1", candidature_id)


async def forget_account(conn: asyncpg.Connection, account_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM contacts WHERE account_id = $1", account_id)
    await conn.execute("DELETE FROM candidatures WHERE account_id = $1", account_id)


async def add_candidature(
    conn: asyncpg.Connection,
    candidature_id: uuid.UUID,
    account_id: uuid.UUID,
    formation_libelle: str,
    centre_libelle: str,
    date_limite_retour: date | datetime | None,
) -> None:
    await conn.execute(
        """INSERT INTO candidatures (candidature_id, account_id, formation_libelle, centre_libelle, date_limite_retour)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (candidature_id) DO NOTHING""",
        candidature_id,
        account_id,
        formation_libelle,
        centre_libelle,
        date_limite_retour,
    )


async def set_deadline(
    conn: asyncpg.Connection, candidature_id: uuid.UUID, date_limite_retour: date | datetime | None
) -> None:
    await conn.execute(
        "UPDATE candidatures SET date_limite_retour = $2 WHERE candidature_id = $1",
        candidature_id,
        date_limite_retour,
    )


async def directory_entry(
    conn: asyncpg.Connection, account_id: uuid.UUID | None, candidature_id: uuid.UUID | None
) -> asyncpg.Record:
    """The contact of `account_id` and what `candidature_id` is for, in one query (either may be
    None: its columns are then NULL); NotYetKnown when the directory has not heard of one of them."""
    row = await conn.fetchrow(
        """SELECT c.account_id, c.email, c.nom, c.prenom, c.numero_dossier,
                  k.candidature_id, k.formation_libelle, k.centre_libelle, k.date_limite_retour
           FROM (SELECT 1) one
           LEFT JOIN contacts c ON c.account_id = $1
           LEFT JOIN candidatures k ON k.candidature_id = $2""",
        account_id,
        candidature_id,
    )
    assert row is not None
    _known(row, account_id, candidature_id)
    return row


async def directory_entries(
    conn: asyncpg.Connection, keys: list[tuple[uuid.UUID | None, uuid.UUID | None]]
) -> list[asyncpg.Record]:
    """`directory_entry` of each `(account_id, candidature_id)`, in order, in one query."""
    rows = await conn.fetch(
        """SELECT c.account_id, c.email, c.nom, c.prenom, c.numero_dossier,
                  k.candidature_id, k.formation_libelle, k.centre_libelle, k.date_limite_retour
           FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS q(wanted_account, wanted_candidature, n)
           LEFT JOIN contacts c ON c.account_id = q.wanted_account
           LEFT JOIN candidatures k ON k.candidature_id = q.wanted_candidature
           ORDER BY q.n""",
        [a for a, _ in keys],
        [k for _, k in keys],
    )
    for (account_id, candidature_id), row in zip(keys, rows, strict=True):
        _known(row, account_id, candidature_id)
    return rows


def _known(row: asyncpg.Record, account_id: uuid.UUID | None, candidature_id: uuid.UUID | None) -> None:
    if account_id is not None and row["account_id"] is None:
        raise NotYetKnown(f"no contact yet for account {account_id}")
    if candidature_id is not None and row["candidature_id"] is None:
        raise NotYetKnown(f"candidature {candidature_id} not known yet")
