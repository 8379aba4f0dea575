"""Settings read from environment variables, one documented name per setting.

| variable | default | meaning |
|---|---|---|
| DATABASE_URL | postgresql://postgres@127.0.0.1:5432/ecandidat | PostgreSQL; each service keeps its tables in its own schema |
| DATABASE_POOL_MAX | 10 | connections per process |
| NATS_URL | nats://127.0.0.1:4222 | NATS with JetStream (comma-separated list for a cluster) |
| NATS_STREAM_REPLICAS | 1 | replicas of each JetStream stream (3 in a cluster) |
| NATS_NKEY_SEED_FILE | — | file holding this process's nkey seed (`SU…`), made by `python -m ecandidat.runtime.natsauth` |
| NATS_NKEY_SEED | — | the seed itself, when a file is not practical (a Kubernetes Secret as environment) |
| NATS_CREDS | — | a `.creds` file (JWT + seed), for a bus run in operator mode |
| NATS_USER / NATS_PASSWORD | — | user and password, for a bus configured with passwords instead of nkeys |
| NATS_CREDENTIALS_DIR | — | development and tests: a folder made by the generator; the process uses `<its name>.nk` |
| NATS_TLS_CA_FILE / NATS_TLS_CERT_FILE / NATS_TLS_KEY_FILE | — | TLS to NATS (`tls://` URLs): the CA that signed the servers, and a client certificate when the servers ask for one |
| ECANDIDAT_ENV | production | `development` allows the published development keys (LINK_SEALING_KEY); anything else refuses them |
| RPC_CONCURRENCY | 64 | rpc handlers running at once per process |
| RPC_TIMEOUT | 5 | seconds a caller waits for an rpc reply |
| CONSUMER_MAX_DELIVER | 6 | deliveries of one event before it goes to the dead-letter stream |
| CONSUMER_ACK_WAIT | 5 | seconds before an unacknowledged event is delivered again (a long batch extends it while it runs) |
| CONSUMER_BACKOFF | 1,5,30,120,600 | seconds to wait before each new delivery after a failure |
| CONSUMER_FETCH_WAIT | 5 | seconds a consumer with nothing to do waits on one pull request before asking again (an event is handed to it as soon as it arrives; a stop or a NATS reconnection ends the wait); each wait costs CPU at rest: waiting 1 s at a time was a third of an idle platform's (bench/idle.py) |
| OUTBOX_POLL_INTERVAL | 2 | seconds between outbox polls; a commit wakes the relay at once (in its own process, or the leader in another replica by a NATS signal): the poll finds what a lost signal or a process without a relay (the CLI) committed. |
| OUTBOX_LOCK_RETRY | 0.5 | seconds between the tries of the relay's lock by a replica standing by: how long a leader whose process died may leave the events waiting (a leader that stops hands the lock over at once) |
| OUTBOX_RETENTION_DAYS | 7 | days sent outbox rows are kept before being purged |
| METRICS_PORT | — | port of the internal listener: `/metrics` (Prometheus), and for a service `/health/live`, `/health/ready`; unset: no listener, 0: any free port |
| METRICS_HOST | 127.0.0.1 | its address (`0.0.0.0` in a container, for the scraper and the probes) |
| LOG_LEVEL | INFO | |
| LOG_FORMAT | json | `json` or `text` |
| EVENT_LOOP | uvloop | the event loop: `uvloop` (libuv) or `asyncio` (the standard library's) |
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .aio import EventLoopKind


class KitSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: str = "postgresql://postgres@127.0.0.1:5432/ecandidat"
    database_pool_max: int = Field(default=10, ge=1)
    nats_url: str = "nats://127.0.0.1:4222"
    nats_stream_replicas: int = Field(default=1, ge=1, le=5)
    nats_nkey_seed_file: str | None = None
    nats_nkey_seed: str | None = Field(default=None, repr=False)
    nats_creds: str | None = None
    nats_user: str | None = None
    nats_password: str | None = Field(default=None, repr=False)
    nats_credentials_dir: str | None = None
    nats_tls_ca_file: str | None = None
    nats_tls_cert_file: str | None = None
    nats_tls_key_file: str | None = None
    ecandidat_env: str = "production"
    rpc_concurrency: int = Field(default=64, ge=1)
    rpc_timeout: float = Field(default=5.0, gt=0)
    consumer_max_deliver: int = Field(default=6, ge=1)
    consumer_ack_wait: float = Field(default=5.0, gt=0)
    consumer_backoff: Annotated[tuple[float, ...], NoDecode] = (1.0, 5.0, 30.0, 120.0, 600.0)
    consumer_fetch_wait: float = Field(default=5.0, gt=0, le=60)
    outbox_poll_interval: float = Field(default=2.0, gt=0)
    outbox_lock_retry: float = Field(default=0.5, gt=0)
    outbox_retention_days: int = Field(default=7, ge=0)
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    log_level: str = "INFO"
    log_format: str = Field(default="json", pattern="^(json|text)$")
    event_loop: EventLoopKind = "uvloop"

    @field_validator("consumer_backoff", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(float(v) for v in value.split(",") if v.strip())
        return value

    @property
    def nats_servers(self) -> list[str]:
        return [u.strip() for u in self.nats_url.split(",") if u.strip()]

    @property
    def development(self) -> bool:
        return self.ecandidat_env.strip().lower() == "development"

    def nats_options(self, identity: str) -> dict[str, Any]:
        """nats.connect() keyword arguments: the credentials of `identity` (its seed, creds file or
        password), its private inbox prefix (`_INBOX.<identity>`, the only inbox its NATS user may
        read) and TLS when configured."""
        options: dict[str, Any] = {"inbox_prefix": f"_INBOX.{identity}"}
        if self.nats_nkey_seed:
            options["nkeys_seed_str"] = self.nats_nkey_seed.strip()
        elif self.nats_nkey_seed_file:
            options["nkeys_seed_str"] = Path(self.nats_nkey_seed_file).read_text().strip()
        elif self.nats_creds:
            options["user_credentials"] = self.nats_creds
        elif self.nats_user:
            options.update(user=self.nats_user, password=self.nats_password or "")
        elif self.nats_credentials_dir:
            options["nkeys_seed_str"] = (Path(self.nats_credentials_dir) / f"{identity}.nk").read_text().strip()
        if self.nats_tls_ca_file or self.nats_tls_cert_file:
            context = ssl.create_default_context(cafile=self.nats_tls_ca_file)
            if self.nats_tls_cert_file:
                context.load_cert_chain(self.nats_tls_cert_file, self.nats_tls_key_file)
            options["tls"] = context
        return options
