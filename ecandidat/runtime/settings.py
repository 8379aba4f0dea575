"""Settings read from environment variables, one documented name per setting.

| variable | default | meaning |
|---|---|---|
| DATABASE_URL | postgresql://postgres@127.0.0.1:5432/ecandidat | PostgreSQL; each service keeps its tables in its own schema |
| DATABASE_POOL_MAX | 10 | connections per process |
| NATS_URL | nats://127.0.0.1:4222 | NATS with JetStream (comma-separated list for a cluster) |
| NATS_STREAM_REPLICAS | 1 | replicas of each JetStream stream (3 in a cluster) |
| RPC_CONCURRENCY | 64 | rpc handlers running at once per process |
| RPC_TIMEOUT | 5 | seconds a caller waits for an rpc reply |
| CONSUMER_MAX_DELIVER | 6 | deliveries of one event before it goes to the dead-letter stream |
| CONSUMER_ACK_WAIT | 30 | seconds before an unacknowledged event is delivered again |
| CONSUMER_BACKOFF | 1,5,30,120,600 | seconds to wait before each new delivery after a failure |
| OUTBOX_POLL_INTERVAL | 2 | seconds between outbox polls when no notification arrives |
| OUTBOX_RETENTION_DAYS | 7 | days sent outbox rows are kept before being purged |
| LOG_LEVEL | INFO | |
| LOG_FORMAT | json | `json` or `text` |
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class KitSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: str = "postgresql://postgres@127.0.0.1:5432/ecandidat"
    database_pool_max: int = Field(default=10, ge=1)
    nats_url: str = "nats://127.0.0.1:4222"
    nats_stream_replicas: int = Field(default=1, ge=1, le=5)
    rpc_concurrency: int = Field(default=64, ge=1)
    rpc_timeout: float = Field(default=5.0, gt=0)
    consumer_max_deliver: int = Field(default=6, ge=1)
    consumer_ack_wait: float = Field(default=30.0, gt=0)
    consumer_backoff: Annotated[tuple[float, ...], NoDecode] = (1.0, 5.0, 30.0, 120.0, 600.0)
    outbox_poll_interval: float = Field(default=2.0, gt=0)
    outbox_retention_days: int = Field(default=7, ge=0)
    log_level: str = "INFO"
    log_format: str = Field(default="json", pattern="^(json|text)$")

    @field_validator("consumer_backoff", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(float(v) for v in value.split(",") if v.strip())
        return value

    @property
    def nats_servers(self) -> list[str]:
        return [u.strip() for u in self.nats_url.split(",") if u.strip()]
