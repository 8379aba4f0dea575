"""Webhooks settings (environment variables).

| variable | default | meaning |
|---|---|---|
| WEBHOOK_ALLOW_PRIVATE | false | allow endpoints on private, loopback, link-local or otherwise non-public addresses (SSRF guard off: tests, a closed network) |
| WEBHOOK_TIMEOUT | 10 | seconds an endpoint has to answer one request |
| WEBHOOK_RETRY_BASE / WEBHOOK_RETRY_MAX | 5 / 3600 | exponential backoff between attempts at one event (seconds) |
| WEBHOOK_GIVE_UP_AFTER | 90000 | seconds an endpoint may keep failing (25 h) before it is disabled |
| WEBHOOK_SECRET_OVERLAP | 86400 | seconds the previous secret keeps signing beside a rotated one |
| WEBHOOK_ACK_WAIT | 30 | seconds before an event held by a crashed replica goes to another one |
| WEBHOOK_RECONCILE_INTERVAL | 5 | seconds between looks at the endpoints (a change made on another replica) |
| WEBHOOK_SEALING_KEY | the development key | Fernet key(s) sealing the endpoints' signing secrets in the database (`python -m ecandidat.runtime.sealing`; first seals, all unseal); the published development key is refused outside ECANDIDAT_ENV=development |
"""

from __future__ import annotations

from pydantic import Field

from ecandidat.runtime.sealing import DEV_SEALING_KEY
from ecandidat.runtime.settings import KitSettings


class WebhooksSettings(KitSettings):
    webhook_allow_private: bool = False
    webhook_timeout: float = Field(default=10.0, gt=0)
    webhook_retry_base: float = Field(default=5.0, gt=0)
    webhook_retry_max: float = Field(default=3600.0, gt=0)
    webhook_give_up_after: float = Field(default=25 * 3600.0, gt=0)
    webhook_secret_overlap: float = Field(default=24 * 3600.0, ge=0)
    webhook_ack_wait: float = Field(default=30.0, gt=0)
    webhook_reconcile_interval: float = Field(default=5.0, gt=0)
    webhook_sealing_key: str = DEV_SEALING_KEY
