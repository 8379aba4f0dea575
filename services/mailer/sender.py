"""Sends queued deliveries over SMTP, each once unless a crash hides the outcome.

A sender claims due deliveries (`FOR UPDATE SKIP LOCKED`, so replicas share the queue), only as
many as it has free sending slots (MAIL_SEND_CONCURRENCY), each with a short lease (MAIL_LEASE)
that it renews while the conversation lasts. It records each outcome as soon as the server has
answered: `sent`; back to `pending` with an exponential backoff when the server is unreachable or
answers 4xx; `failed` on a 5xx answer or once the mail has waited longer than MAIL_GIVE_UP_AFTER.
An outcome that cannot be written (the database restarting) is written again until it is. A slot
whose mail was accepted claims its next one in the statement that records it `sent`, and sends it
on the same SMTP session: while mails are waiting, one database round trip a mail, and a slot
still holds one delivery at a time.

What remains (SMTP has no idempotency, see docs/ARCHITECTURE.md, "Faults"): a sender that dies
after the server accepted a message and before it recorded the answer leaves the delivery to
another sender once the lease expires, which sends it again with the same Message-ID (derived
from the event id, so that the copy is recognisable). At most the deliveries in flight at the
crash, MAIL_SEND_CONCURRENCY per sender, can be sent twice; the others it had claimed wait at
most MAIL_LEASE seconds.

Woken when a mail is queued by this process (`store.enqueue`, after its commit: no NOTIFY in the
commit path), by a freed slot, when the next mail waiting comes due (a retry, a lease's end: the
claim's statement says when) and otherwise every MAIL_POLL_INTERVAL seconds (the mails another
replica queued).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import random
import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from datetime import timedelta
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import aiohttp
import aiosmtplib
import asyncpg

from ecandidat.contracts.documents import DownloadTicket, OpenLetterAttachment

from ecandidat.runtime.aio import WakeableLoop, retry_delay, wait_event
from ecandidat.runtime.db import database_unavailable, woken_by
from ecandidat.runtime.logging import bind
from ecandidat.runtime.rpc import RpcClient

from . import store
from .catalogue import Attachment
from .context import Deps
from .links import open_links
from .settings import MailerSettings

log = logging.getLogger(__name__)


class PermanentSmtpError(Exception):
    pass


@dataclass(frozen=True)
class Outgoing:
    """A message already in its wire form (CRLF lines), with its envelope."""

    sender: str
    recipient: str
    data: bytes


_CRLF = "\r\n"
_HEADER_LINE = 78  # RFC 5322's recommended line length: a longer header is folded by `Header`


def lean_message(headers: list[tuple[str, str]], text: str, html: str) -> bytes:
    """A multipart/alternative (UTF-8, quoted-printable) of ASCII-address headers, written line by
    line: a header goes as it is when it is ASCII and fits on a line, folded by the email package's
    `Header` when it is a longer ASCII one, as RFC 2047 encoded words otherwise; the bodies through `binascii.b2a_qp`. A sixth of the
    CPU of the email package's compat32 message classes (0.08 instead of 0.49 ms for a refusal's
    mail), which cost a quarter of `EmailMessage`'s. A header value holding a line break is refused
    as the default policy refuses it (no header injection)."""
    boundary = f"=_{secrets.token_hex(12)}"  # "=_" never occurs in quoted-printable text
    lines = [f'Content-Type: multipart/alternative; boundary="{boundary}"', "MIME-Version: 1.0"]
    for name, value in headers:
        if "\r" in value or "\n" in value:
            raise ValueError(f"header {name} holds a line break")
        if not value.isascii():
            lines.append(f"{name}: {_encoded_words(name, value)}")
        elif len(name) + 2 + len(value) <= _HEADER_LINE:
            lines.append(f"{name}: {value}")
        else:
            lines.append(f"{name}: {Header(value, header_name=name).encode(linesep=_CRLF)}")
    head = _CRLF.join(lines).encode("ascii")
    parts = [head, b""]
    for subtype, body in (("plain", text), ("html", html)):
        parts.append(f"--{boundary}".encode("ascii"))
        parts.append(f'Content-Type: text/{subtype}; charset="utf-8"'.encode("ascii"))
        parts.append(b"MIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n")
        parts.append(_qp(body))
    parts.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"\r\n".join(parts)


_WORD = 75  # RFC 2047: an encoded word is at most 75 characters long
_WORD_FRAME = len("=?utf-8?b??=")


def _word_bytes(room: int) -> int:
    """How many bytes a base64 encoded word holds in `room` characters."""
    return max(4, (min(room, _WORD) - _WORD_FRAME) // 4 * 3)


def _encoded_words(name: str, value: str) -> str:
    """A non-ASCII header value as RFC 2047 encoded words (UTF-8, base64), folded one word a line
    within 78 characters, each word ending between two characters. The email package's `Header`
    does the same by trying every length of the value, a quarter of the mailer's CPU per mail."""
    words: list[bytes] = []
    chunk, room = b"", _word_bytes(_HEADER_LINE - len(name) - 2)
    for char in value:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > room:
            words.append(chunk)
            chunk, room = b"", _word_bytes(_HEADER_LINE - 1)
        chunk += encoded
    words.append(chunk)
    return (_CRLF + " ").join(f"=?utf-8?b?{base64.b64encode(word).decode('ascii')}?=" for word in words if word)


def _qp(body: str) -> bytes:
    """The body quoted-printable, its lines ended by CRLF (soft breaks too)."""
    encoded = binascii.b2a_qp(body.encode("utf-8"), istext=True)
    return encoded.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class LetterAttachments:
    """Gets the letters to attach from the documents service: a ticket by rpc (an internal
    operation only the mailer may call), then the file from its HTTP endpoint. Any failure leaves
    the delivery to be tried again later; a mail is never sent without its letter."""

    def __init__(self, rpc: RpcClient, timeout: float) -> None:
        self.rpc = rpc
        self.timeout = timeout
        self.http: aiohttp.ClientSession | None = None  # made at the first letter

    async def read(self, attachment: Attachment) -> bytes:
        ticket = await self.rpc.call(
            OpenLetterAttachment(decision_id=uuid.UUID(attachment.decision_id)), DownloadTicket, timeout=self.timeout
        )
        if self.http is None:
            self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        async with self.http.get(ticket.url) as response:
            if response.status != 200:
                raise RuntimeError(
                    f"the documents service answered {response.status} for the letter "
                    f"of decision {attachment.decision_id}"
                )
            return await response.read()

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()


class Sender(WakeableLoop):
    def __init__(
        self, deps: Deps, attachments: LetterAttachments | None, *, claimer: str, schema: str = "mailer"
    ) -> None:
        super().__init__()
        self.pool = deps.pool
        self.settings = settings = deps.settings
        self.clock = deps.clock
        self.attachments = attachments
        self.claimer = claimer
        self.poll_interval = settings.mail_poll_interval
        self.lease = timedelta(seconds=settings.mail_lease)
        self.slots = settings.mail_send_concurrency
        self.sent = 0
        self.in_flight: dict[uuid.UUID, asyncio.Task] = {}
        self._full = False  # the loop found every slot busy at its last look
        self.schema = schema
        self.smtp = SmtpSessions(settings)
        self.envelope_from = parseaddr(settings.mail_from)[1]  # the same for every mail: parsed once

    async def run(self) -> None:
        renewer = asyncio.create_task(self._keep_leases())
        try:
            with woken_by(self.schema, store.QUEUE_CHANNEL, self.wake):
                while not self._stopping.is_set():
                    self._wake.clear()  # before claiming: a notification during the round is not lost
                    await wait_event(self._wake, await self._claim())
                if self.in_flight:
                    await asyncio.wait(list(self.in_flight.values()))
        finally:
            for task in self.in_flight.values():
                task.cancel()
            await asyncio.gather(*self.in_flight.values(), return_exceptions=True)
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
            self.smtp.close()

    async def _claim(self) -> float:
        """Claim as many due deliveries as there are free slots and start a slot on each; return
        how long to wait unless woken: until the next delivery comes due while a slot is free (a
        slot that frees wakes the loop), MAIL_POLL_INTERVAL at most."""
        free = self.slots - len(self.in_flight)
        self._full = free <= 0  # until a slot frees, which then wakes the loop
        if self._full:
            return self.poll_interval
        try:
            async with self.pool.acquire() as conn:
                rows, due = await store.claim_due(conn, self.clock.now(), self._next_claim(free))
        except Exception as exc:
            log.warning("mail queue unavailable", extra={"error": repr(exc)})
            return self.poll_interval
        for row in rows:
            task = asyncio.create_task(self._slot(row))
            self.in_flight[row["id"]] = task
            task.add_done_callback(self._finished)
        if due is None or len(rows) == free:
            return self.poll_interval
        return max(0.05, min(self.poll_interval, (due - self.clock.now()).total_seconds()))

    def _next_claim(self, limit: int) -> store.Claim:
        return store.Claim(self.clock.now() + self.lease, limit, self.claimer, list(self.in_flight))

    async def _slot(self, row: asyncpg.Record) -> bool:
        """One sending slot: its delivery, then, as long as the server accepts them, the next due
        one, claimed by the statement that records the previous one sent (the slot holds one
        delivery at a time, so a crash still leaves at most one sent twice per slot). True when it
        ends because that statement found no other mail due."""
        task = asyncio.current_task()
        next_row: asyncpg.Record | None = row
        drained = False
        while next_row is not None:
            row, next_row = next_row, None
            with bind(event_id=str(row["event_id"]), delivery_id=str(row["id"]), template=row["template"]):
                try:
                    claimed = await self._attempt(row)
                    next_row, drained = (claimed[0] if claimed else None), claimed == []
                except Exception:  # left to the lease: the delivery is claimed again once it expires
                    log.exception("mail delivery failed unexpectedly")
                finally:
                    self.in_flight.pop(row["id"], None)
            if next_row is not None and task is not None:
                self.in_flight[next_row["id"]] = task
        return drained

    def _finished(self, task: asyncio.Task[bool]) -> None:
        """A slot is free: the loop claims again, unless the slot's last statement found no mail due
        while the loop had a slot free to claim with (it knows when the next one comes due, and a
        mail queued wakes it)."""
        if self._full or task.cancelled() or task.exception() is not None or not task.result():
            self._wake.set()

    async def _keep_leases(self) -> None:
        """Renew the lease of the deliveries in flight, every third of the lease."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            if not self.in_flight:
                continue
            try:
                async with self.pool.acquire() as conn:
                    until = self.clock.now() + self.lease
                    await store.extend_leases(conn, list(self.in_flight), until, claimer=self.claimer)
            except Exception as exc:
                log.warning("leases not renewed", extra={"error": repr(exc)})

    async def _attempt(self, row: asyncpg.Record) -> list[asyncpg.Record] | None:
        """Send one delivery and record its outcome; once sent, the next due delivery for this slot
        in a list (empty when none is due or the sender is stopping); None when not sent."""
        try:
            message = await self._message(row)
            response = await self._smtp_send(message)
        except PermanentSmtpError as exc:
            log.error(
                "mail refused by the SMTP server, giving up", extra={"error": str(exc), "recipient": row["recipient"]}
            )
            await self._record(store.mark_failed, row["id"], self.clock.now(), str(exc))
            return None
        except Exception as exc:  # unreachable server, 4xx, timeout, storage down: try again later
            now = self.clock.now()
            error = f"{type(exc).__name__}: {exc}"
            if (now - row["created_at"]).total_seconds() > self.settings.mail_give_up_after:
                log.error("mail could not be sent in time, giving up", extra={"error": error})
                await self._record(store.mark_failed, row["id"], now, f"gave up: {error}")
                return None
            delay = self._backoff(row["attempts"])
            log.warning("mail not sent, will retry", extra={"error": error, "retry_in": round(delay, 1)})
            await self._record(store.mark_retry, row["id"], now + timedelta(seconds=delay), error)
            return None
        then = None if self._stopping.is_set() else self._next_claim(1)
        claimed = await self._record(store.mark_sent, row["id"], self.clock.now(), response, then)
        self.sent += 1
        log.info("mail sent", extra={"recipient": row["recipient"], "message_id": row["message_id"]})
        return list(claimed or [])

    async def _record(self, fn, *args) -> Any:
        """Write an outcome, again and again while the database is unavailable: a sent mail whose
        outcome is lost would be sent again once its lease expires (the lease is renewed meanwhile)."""
        failures = 0
        while True:
            try:
                async with self.pool.acquire() as conn:
                    return await fn(conn, *args)
            except Exception as exc:
                if not database_unavailable(exc):
                    raise
                failures += 1
                delay = retry_delay(failures)
                log.warning("mail outcome not recorded yet, retrying", extra={"error": repr(exc), "retry_in": delay})
                await asyncio.sleep(delay)

    def _backoff(self, attempts: int) -> float:
        s = self.settings
        delay = min(s.mail_retry_max, s.mail_retry_base * 2 ** max(0, attempts - 1))
        return delay * random.uniform(0.9, 1.1)

    async def _message(self, row: asyncpg.Record) -> EmailMessage | Outgoing:
        """The message to send: most mails (no attachment, ASCII addresses) in the lean wire form,
        the others as an `EmailMessage` (attachments, internationalised addresses)."""
        headers = [
            ("From", self.settings.mail_from),
            ("To", row["recipient"]),
            ("Subject", row["subject"]),
            ("Date", format_datetime(row["created_at"])),
            ("Message-ID", row["message_id"]),
            ("Auto-Submitted", "auto-generated"),
            ("X-Ecandidat-Event-Id", str(row["event_id"])),
            ("X-Ecandidat-Template", row["template"]),
        ]
        text = open_links(row["body_text"], self.settings.link_sealing_key)
        html = open_links(row["body_html"], self.settings.link_sealing_key)
        attachments = store.attachments_of(row)
        if not attachments and self.settings.mail_from.isascii() and row["recipient"].isascii() and self.envelope_from:
            return Outgoing(self.envelope_from, row["recipient"], lean_message(headers, text, html))
        msg = EmailMessage()
        for name, value in headers:
            msg[name] = value
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        for attachment in attachments:
            if self.attachments is None:
                raise RuntimeError("no way to get attachments (a mailer built without them)")
            data = await self.attachments.read(attachment)
            maintype, _, subtype = attachment.content_type.partition("/")
            msg.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=attachment.filename)
        return msg

    async def _smtp_send(self, message: EmailMessage | Outgoing) -> str:
        try:
            return await self.smtp.send(message)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            if all(500 <= c < 600 for c in codes):
                raise PermanentSmtpError(str(exc)) from None
            raise
        except aiosmtplib.SMTPAuthenticationError:
            raise  # a configuration problem: keep the mail until the credentials are fixed
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise PermanentSmtpError(f"{exc.code} {exc.message}") from None
            raise


class SmtpSessions:
    """SMTP sessions kept open between mails, one per sender slot at most: a burst of mails does
    not pay a TCP (and TLS) handshake and a greeting per mail. A session the server closed while
    idle is replaced once, transparently; any other failure closes the session it happened on."""

    def __init__(self, settings: MailerSettings) -> None:
        self.settings = settings
        self._idle: list[aiosmtplib.SMTP] = []

    async def _open(self) -> aiosmtplib.SMTP:
        s = self.settings
        smtp = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            timeout=s.smtp_timeout,
            use_tls=s.smtp_security == "tls",
            start_tls=True if s.smtp_security == "starttls" else False,
        )
        await smtp.connect()
        if s.smtp_username and s.smtp_password:
            await smtp.login(s.smtp_username, s.smtp_password)
        return smtp

    async def send(self, message: EmailMessage | Outgoing) -> str:
        while self._idle:
            smtp = self._idle.pop()
            try:
                return await self._send_on(smtp, message)
            except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
                continue  # closed by the server while idle: try the next one, or a new session
        return await self._send_on(await self._open(), message)

    async def _send_on(self, smtp: aiosmtplib.SMTP, message: EmailMessage | Outgoing) -> str:
        try:
            if isinstance(message, Outgoing):
                _, response = await smtp.sendmail(message.sender, [message.recipient], message.data)
            else:
                _, response = await smtp.send_message(message)
        except BaseException:
            smtp.close()
            raise
        self._idle.append(smtp)
        return response

    def close(self) -> None:
        for smtp in self._idle:
            smtp.close()
        self._idle.clear()
