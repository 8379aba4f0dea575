"""Documents settings (environment variables).

| variable | default | meaning |
|---|---|---|
| S3_ENDPOINT / S3_ACCESS_KEY / S3_SECRET_KEY / S3_REGION | http://127.0.0.1:9000 / — / — / us-east-1 | object storage (MinIO, or any S3) |
| S3_BUCKET | ecandidat-pieces | bucket of the files, templates and generated PDFs; created at start |
| S3_THREADS | 8 | threads running the (synchronous) minio client |
| DOCUMENTS_HTTP_HOST / DOCUMENTS_HTTP_PORT | 127.0.0.1 / 0 | internal upload/download endpoint (never exposed; 0 = any free port) |
| DOCUMENTS_HTTP_ADVERTISE | — | base URL the gateway uses to reach that endpoint (default `http://<host or hostname>:<bound port>`) |
| DOCUMENTS_MAX_FILE_SIZE | 5242880 | largest file accepted, in bytes (5 Mo) |
| DOCUMENTS_TICKET_TTL | 60 | seconds an upload or download ticket stays valid (single use) |
| DOCUMENTS_SPOOL_DIR | system temp dir | where an upload waits on disk while it is checked |
| DOCUMENTS_INSPECT_THREADS | 2 | files checked (pypdf, Pillow) at once per process |
| CLAMD_HOST / CLAMD_PORT or CLAMD_SOCKET | — | ClamAV daemon; when set, every file is scanned before it is stored |
| CLAMD_TIMEOUT | 30 | seconds for one scan |
| NATS_URL, DATABASE_URL, … | | as for every service |
"""

from __future__ import annotations

from pydantic import Field

from ecandidat.runtime.settings import KitSettings


class DocumentsSettings(KitSettings):
    s3_endpoint: str = "http://127.0.0.1:9000"
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str = "us-east-1"
    s3_bucket: str = "ecandidat-pieces"
    s3_threads: int = Field(default=8, ge=1)
    documents_http_host: str = "127.0.0.1"
    documents_http_port: int = Field(default=0, ge=0, le=65535)
    documents_http_advertise: str | None = None
    documents_max_file_size: int = Field(default=5 * 1024 * 1024, gt=0)
    documents_ticket_ttl: float = Field(default=60.0, gt=0)
    documents_spool_dir: str | None = None
    documents_inspect_threads: int = Field(default=2, ge=1)
    clamd_host: str | None = None
    clamd_port: int | None = None
    clamd_socket: str | None = None
    clamd_timeout: float = Field(default=30.0, gt=0)
