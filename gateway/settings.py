"""Gateway settings (environment variables).

| variable | default | meaning |
|---|---|---|
| GATEWAY_HOST / GATEWAY_PORT | 127.0.0.1 / 8080 | where the HTTP server listens |
| GATEWAY_SERVICES | accounts,dossiers,candidatures,documents,mailer,webhooks | services the health routes ask |
| GATEWAY_REQUIRED_SERVICES | accounts,dossiers,candidatures,documents | those without which the platform cannot serve (`/health/ready`); another one missing only degrades it |
| GATEWAY_HEALTH_TIMEOUT | 1.5 | seconds each service has to answer its health check |
| GATEWAY_HEALTH_SHARED_FOR | 1 | seconds one round of health answers serves every request that asks (0: ask at every request) |
| GATEWAY_MAX_BODY | 1048576 | largest JSON body accepted, in bytes |
| GATEWAY_UPLOAD_IDLE_TIMEOUT | 30 | seconds an upload may go without a byte from the client before it is abandoned (408); a slow but steady upload never times out |
| GATEWAY_DOCUMENTS_TIMEOUT | 120 | seconds the documents service may stay silent: to answer once an upload is sent (it inspects the file), between two chunks of a download |
| PUBLIC_BASE_URL | http://localhost:8080 | the address candidates use; `https://` turns on HSTS |
| INTEGRATOR_NATS_HOST | 127.0.0.1:4222 | the `host:port` of the NATS bus as integrators reach it, published as the server of the AsyncAPI document (`/api/v1/asyncapi.json`) |
| TRUSTED_PROXIES | — | comma-separated addresses or CIDRs of the reverse proxies / load balancers in front of the gateway: only a request from one of them has its `X-Forwarded-For` believed (the client address then keys the login throttling and the logs) |
| GATEWAY_SHUTDOWN_TIMEOUT | 60 | seconds a SIGTERM leaves the requests in flight (a slow upload) to finish before the process stops |
| METRICS_PORT / METRICS_HOST | — / 127.0.0.1 | internal `/metrics` listener (see ecandidat.runtime.metrics) |
| GATEWAY_SESSION_CACHE_TTL | 30 | seconds a resolved session (and a candidate's own views, `GET /me` and `GET /dossier`) is kept by this gateway (`gateway/sessions.py`): a logout, a password or email change, a disabled account, a change of the dossier reach every gateway at once by signal; 0: resolve and read by rpc at every request |
| GATEWAY_VIEW_CACHE_SIZE | 20000 | candidates' views (`GET /me`, `GET /dossier`: ~4 KB each) this gateway keeps at most, the least recently kept dropped first; 0: read them by rpc at every request |
| WEB_URL | (empty) | the web process (`python -m web`): every path outside `/api/` and `/health` is proxied to it; empty: API only |
| WEB_TIMEOUT | 60 | seconds the web process may stay silent on a proxied request |
| NATS_URL, RPC_TIMEOUT, LOG_LEVEL, LOG_FORMAT | | as for every service |
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from ecandidat.runtime.settings import KitSettings


class GatewaySettings(KitSettings):
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    gateway_services: Annotated[tuple[str, ...], NoDecode] = (
        "accounts",
        "dossiers",
        "candidatures",
        "documents",
        "mailer",
        "webhooks",
    )
    gateway_required_services: Annotated[tuple[str, ...], NoDecode] = (
        "accounts",
        "dossiers",
        "candidatures",
        "documents",
    )
    gateway_health_timeout: float = Field(default=1.5, gt=0)
    gateway_session_cache_ttl: float = Field(default=30.0, ge=0)
    gateway_view_cache_size: int = Field(default=20_000, ge=0)
    gateway_health_shared_for: float = Field(default=1.0, ge=0)
    gateway_max_body: int = Field(default=1024 * 1024, gt=0)
    gateway_upload_idle_timeout: float = Field(default=30.0, gt=0)
    gateway_documents_timeout: float = Field(default=120.0, gt=0)
    public_base_url: str = "http://localhost:8080"
    integrator_nats_host: str = "127.0.0.1:4222"
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    gateway_shutdown_timeout: float = Field(default=60.0, ge=0)
    web_url: str = ""
    web_timeout: float = Field(default=60.0, gt=0)

    # Not named `_split`: that would replace KitSettings._split, which parses CONSUMER_BACKOFF.
    @field_validator("gateway_services", "gateway_required_services", "trusted_proxies", mode="before")
    @classmethod
    def _split_lists(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            ipaddress.ip_network(item, strict=False)  # ValueError: not an address or a CIDR
        return value
