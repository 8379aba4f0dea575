"""Sends queued deliveries over SMTP, each at most once unless a crash hides the outcome.

A sender claims due deliveries (`FOR UPDATE SKIP LOCKED`, so replicas share the queue) with a
lease, sends each, and records the outcome at once: `sent`; back to `pending` with an exponential
backoff when the server is unreachable or answers 4xx; `failed` on a 5xx answer or once the mail
has waited longer than MAIL_GIVE_UP_AFTER. If the sender dies between the server's acceptance and
that record, the lease expires and the mail is sent again with the same Message-ID (derived from
the event id), which makes the copy recognisable as a duplicate.
"""

from __future__ import annotations

import asyncio
import logging
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib
import asyncpg

from ecandidat.runtime.aio import wait_event
from ecandidat.runtime.clock import Clock
from ecandidat.runtime.logging import bind

from . import store
from .catalogue import Attachment
from .links import open_links
from .settings import MailerSettings

log = logging.getLogger(__name__)


class PermanentSmtpError(Exception):
    pass


class AttachmentStore:
    """Reads attachments from object storage; the minio client is synchronous, so it runs in threads."""

    def __init__(self, settings: MailerSettings) -> None:
        from minio import Minio
        from urllib.parse import urlparse

        url = urlparse(settings.s3_endpoint or "")
        self.client = Minio(
            url.netloc,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            secure=url.scheme == "https",
            region=settings.s3_region,
        )
        self.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="mailer-s3")

    async def read(self, attachment: Attachment) -> bytes:
        def fetch() -> bytes:
            response = self.client.get_object(attachment.bucket, attachment.key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        return await asyncio.get_running_loop().run_in_executor(self.executor, fetch)

    async def check(self) -> str:
        await asyncio.get_running_loop().run_in_executor(self.executor, self.client.list_buckets)
        return "reachable"

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


class Sender:
    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: MailerSettings,
        clock: Clock,
        attachments: AttachmentStore | None,
        *,
        poll_interval: float = 5.0,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.clock = clock
        self.attachments = attachments
        self.poll_interval = poll_interval
        self.sent = 0
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(settings.mail_send_concurrency)
        self.smtp = SmtpSessions(settings)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        listener = await self._listen()
        try:
            while True:
                self._wake.clear()  # before claiming: a notification during the round is not lost
                try:
                    claimed = await self.send_due()
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    log.warning("mail queue unavailable", extra={"error": repr(exc)})
                    claimed = 0
                if claimed:
                    continue
                await wait_event(self._wake, await self._idle_time())
        finally:
            self.smtp.close()
            if listener is not None:
                listener.terminate()

    async def _listen(self) -> asyncpg.Connection | None:
        try:
            conn = await asyncpg.connect(self.settings.database_url)
            await conn.add_listener("mailer_deliveries", lambda *_: self._wake.set())
            return conn
        except (OSError, asyncpg.PostgresError):
            return None  # polling alone still delivers

    async def _idle_time(self) -> float:
        try:
            async with self.pool.acquire() as conn:
                due = await store.next_due(conn)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return self.poll_interval
        if due is None:
            return self.poll_interval
        return max(0.05, min(self.poll_interval, (due - self.clock.now()).total_seconds()))

    async def send_due(self) -> int:
        """Claim and send what is due now; return how many deliveries were claimed."""
        now = self.clock.now()
        async with self.pool.acquire() as conn:
            rows = await store.claim_due(
                conn,
                now,
                now + timedelta(seconds=self.settings.mail_lease),
                self.settings.mail_send_concurrency * 4,
            )
        if rows:
            await asyncio.gather(*(self._send_one(row) for row in rows))
        return len(rows)

    async def _send_one(self, row: asyncpg.Record) -> None:
        async with self._slots:
            with bind(event_id=str(row["event_id"]), delivery_id=str(row["id"]), template=row["template"]):
                await self._attempt(row)

    async def _attempt(self, row: asyncpg.Record) -> None:
        try:
            message = await self._message(row)
            response = await self._smtp_send(message)
        except PermanentSmtpError as exc:
            log.error("mail refused by the SMTP server, giving up", extra={"error": str(exc), "recipient": row["recipient"]})
            await self._record(store.mark_failed, row["id"], self.clock.now(), str(exc))
            return
        except Exception as exc:  # unreachable server, 4xx, timeout, storage down: try again later
            now = self.clock.now()
            error = f"{type(exc).__name__}: {exc}"
            if (now - row["created_at"]).total_seconds() > self.settings.mail_give_up_after:
                log.error("mail could not be sent in time, giving up", extra={"error": error})
                await self._record(store.mark_failed, row["id"], now, f"gave up: {error}")
                return
            delay = self._backoff(row["attempts"])
            log.warning("mail not sent, will retry", extra={"error": error, "retry_in": round(delay, 1)})
            await self._record(store.mark_retry, row["id"], now + timedelta(seconds=delay), error)
            return
        await self._record(store.mark_sent, row["id"], self.clock.now(), response)
        self.sent += 1
        log.info("mail sent", extra={"recipient": row["recipient"], "message_id": row["message_id"]})

    async def _record(self, fn, *args) -> None:
        # The outcome must be written even if the pool is momentarily exhausted; a failure here
        # leaves the lease to expire, and the mail is retried with the same Message-ID.
        async with self.pool.acquire() as conn:
            await fn(conn, *args)

    def _backoff(self, attempts: int) -> float:
        s = self.settings
        delay = min(s.mail_retry_max, s.mail_retry_base * 2 ** max(0, attempts - 1))
        return delay * random.uniform(0.9, 1.1)

    async def _message(self, row: asyncpg.Record) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.settings.mail_from
        msg["To"] = row["recipient"]
        msg["Subject"] = row["subject"]
        msg["Date"] = format_datetime(row["created_at"])
        msg["Message-ID"] = row["message_id"]
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Ecandidat-Event-Id"] = str(row["event_id"])
        msg["X-Ecandidat-Template"] = row["template"]
        msg.set_content(open_links(row["body_text"], self.settings.link_sealing_key))
        msg.add_alternative(open_links(row["body_html"], self.settings.link_sealing_key), subtype="html")
        for attachment in store.attachments_of(row):
            if self.attachments is None:
                raise RuntimeError("object storage is not configured; cannot attach files")
            data = await self.attachments.read(attachment)
            maintype, _, subtype = attachment.content_type.partition("/")
            msg.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=attachment.filename)
        return msg

    async def _smtp_send(self, message: EmailMessage) -> str:
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
            hostname=s.smtp_host, port=s.smtp_port, timeout=s.smtp_timeout,
            use_tls=s.smtp_security == "tls", start_tls=True if s.smtp_security == "starttls" else False,
        )
        await smtp.connect()
        if s.smtp_username and s.smtp_password:
            await smtp.login(s.smtp_username, s.smtp_password)
        return smtp

    async def send(self, message: EmailMessage) -> str:
        while self._idle:
            smtp = self._idle.pop()
            try:
                return await self._send_on(smtp, message)
            except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
                continue  # closed by the server while idle: try the next one, or a new session
        return await self._send_on(await self._open(), message)

    async def _send_on(self, smtp: aiosmtplib.SMTP, message: EmailMessage) -> str:
        try:
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
