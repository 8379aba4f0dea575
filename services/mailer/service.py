"""The mailer service: consumes mail-worthy events, queues deliveries, sends them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from ecandidat.runtime.clock import Clock
from ecandidat.runtime.rpc import RpcClient
from ecandidat.runtime.sealing import Sealer, require_production_key
from ecandidat.runtime.service import Service, cached

from . import consumers, rpc
from .jobs import LOG_RETENTION_JOB, SUMMARIES_JOB, forget_old_mails, send_summaries
from .catalogue import MailContext
from .context import Deps
from .render import Renderer
from .sender import LetterAttachments, Sender
from .settings import MailerSettings

MIGRATIONS = Path(__file__).with_name("migrations")


class MailerService(Service):
    settings: MailerSettings

    def __init__(
        self, settings: MailerSettings | None = None, *, clock: Clock | None = None, send: bool = True
    ) -> None:
        super().__init__("mailer", settings or MailerSettings(), migrations=MIGRATIONS, clock=clock)
        self.send = send
        self.sender: Sender | None = None
        self.deps: Deps

    async def setup(self) -> None:
        s = self.settings
        sealer = Sealer(s.link_sealing_key)
        require_production_key(sealer, s)
        mail = MailContext(public_base_url=s.public_base_url.rstrip("/"), unseal=sealer.unseal)
        self.deps = Deps(self.pool, self.clock, s, Renderer(), mail)
        self.subscribe("directory", consumers.directory(self.deps))
        self.subscribe("notifications", consumers.notifications(self.deps), batch=50)
        self.add_job(LOG_RETENTION_JOB, timedelta(hours=1), forget_old_mails(self.deps))
        self.log_retention_job = self.jobs[-1]
        self.add_job(SUMMARIES_JOB, timedelta(minutes=5), send_summaries(self.deps))
        self.summaries_job = self.jobs[-1]
        rpc.register(self.rpc, self.deps)
        attachments = LetterAttachments(RpcClient(self.nc, timeout=s.rpc_timeout), s.mail_attachment_timeout)
        self.on_cleanup(attachments.close)
        self.checks["smtp"] = cached(self._check_smtp)
        self.sender = Sender(self.deps, attachments, claimer=self.instance)
        if self.send:
            self.spawn(self.sender.run, "mailer-sender", stop=self.sender.stop)

    async def _check_smtp(self) -> str:
        import aiosmtplib

        s = self.settings
        smtp = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            use_tls=s.smtp_security == "tls",
            timeout=2,
            start_tls=True if s.smtp_security == "starttls" else False,
        )
        await smtp.connect()
        try:
            code, _ = await smtp.noop()
        finally:
            smtp.close()
        return f"{s.smtp_host}:{s.smtp_port} answers {code}"


SETTINGS = MailerSettings


def create(settings: MailerSettings | None = None, clock: Clock | None = None) -> MailerService:
    return MailerService(settings, clock=clock)
