"""Mailer settings (environment variables).

| variable | default | meaning |
|---|---|---|
| SMTP_HOST / SMTP_PORT | 127.0.0.1 / 1025 | SMTP server |
| SMTP_SECURITY | none | `none`, `starttls` or `tls` (implicit TLS) |
| SMTP_USERNAME / SMTP_PASSWORD | — | authentication, when both are set |
| SMTP_TIMEOUT | 20 | seconds for one SMTP conversation |
| MAIL_FROM | eCandidat <ne-pas-repondre@ecandidat.localhost> | sender of every mail |
| MAIL_MESSAGE_ID_DOMAIN | ecandidat.localhost | right part of the Message-ID |
| MAIL_RETRY_BASE / MAIL_RETRY_MAX | 5 / 3600 | exponential backoff between attempts (seconds) |
| MAIL_GIVE_UP_AFTER | 259200 | seconds after which a mail that still cannot be sent is marked failed |
| MAIL_SEND_CONCURRENCY | 8 | SMTP conversations at once per process (and deliveries claimed at once: also the most mails a crash of the process can have sent twice) |
| MAIL_LEASE | 5 | seconds a claimed delivery stays reserved to its sender, renewed every third of it while the conversation lasts: a crashed sender's deliveries wait that long |
| MAIL_POLL_INTERVAL | 5 | seconds between looks at the queue when no notification arrives |
| MAIL_ATTACHMENT_TIMEOUT | 30 | seconds to get a letter to attach from the documents service (rpc, then its HTTP endpoint); past it the attempt is retried later |
| MAIL_SUMMARY_HOUR | 7 | hour (Paris time) of the daily summaries: a commission whose alerts are `quotidienne` receives then what happened since the day before's |
| MAIL_LOG_RETENTION_DAYS | 365 | days a sent or failed mail stays in the delivery log (what it said, to whom); then it is deleted |
| PUBLIC_BASE_URL | http://localhost:8080 | base of the links put in mails |
| LINK_SEALING_KEY | the development key | Fernet key(s) opening the link tokens sealed in events; the same as the accounts service's |
"""

from __future__ import annotations

from pydantic import Field

from ecandidat.runtime.sealing import DEV_SEALING_KEY
from ecandidat.runtime.settings import KitSettings


class MailerSettings(KitSettings):
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_security: str = Field(default="none", pattern="^(none|starttls|tls)$")
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout: float = 20.0
    mail_from: str = "eCandidat <ne-pas-repondre@ecandidat.localhost>"
    mail_message_id_domain: str = "ecandidat.localhost"
    mail_retry_base: float = Field(default=5.0, gt=0)
    mail_retry_max: float = Field(default=3600.0, gt=0)
    mail_give_up_after: float = Field(default=3 * 24 * 3600.0, gt=0)
    mail_send_concurrency: int = Field(default=8, ge=1)
    mail_lease: float = Field(default=5.0, gt=0)
    mail_poll_interval: float = Field(default=5.0, gt=0)
    mail_log_retention_days: int = Field(default=365, ge=1)
    mail_summary_hour: int = Field(default=7, ge=0, le=23)
    mail_attachment_timeout: float = Field(default=30.0, gt=0)
    public_base_url: str = "http://localhost:8080"
    link_sealing_key: str = DEV_SEALING_KEY
