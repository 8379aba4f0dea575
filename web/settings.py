"""Settings of the web front (environment variables).

| variable | default | meaning |
|---|---|---|
| WEB_HOST / WEB_PORT | 127.0.0.1 / 8081 | where the web process listens (the gateway proxies the pages to it: its `WEB_URL`) |
| WEB_API_URL | http://127.0.0.1:8080 | internal base URL of the HTTP API (the gateway); the pages call `<WEB_API_URL>/api/v1/...` |
| WEB_API_TIMEOUT | 30 | seconds an API call may stay silent (read timeout; uploads stream for longer) |
| PUBLIC_BASE_URL | http://localhost:8080 | the address people use; `https://` marks the web's own cookies `Secure` |
| WEB_ETABLISSEMENT | Université Toulouse Jean Jaurès | the university's name in the header, footer and page titles |
| WEB_LOGO_URL | (none) | URL of the university's logo shown in the header beside the Marianne block |
| WEB_CONTACT | formations.diplomantes@univ-tlse2.fr | the assistance address shown in the footer |
| WEB_ENT_URL | (none) | where "Connexion via l'ENT" leads (`/connexion/ent` when the accounts service has ENT_ENABLED, docs/ENT.md); the button is shown only when set |
| WEB_ASSETS_DIR | <checkout>/node_modules | where `npm ci` put `@gouvfr/dsfr` (the Dockerfile copies it to /app/node_modules) |
| METRICS_PORT / METRICS_HOST | — / 127.0.0.1 | internal listener: `/metrics`, `/health/live`, `/health/ready` (web/probes.py) |
| LOG_LEVEL, LOG_FORMAT, EVENT_LOOP | INFO, json, uvloop | as for every process |
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ecandidat.runtime.aio import EventLoopKind

ROOT = Path(__file__).resolve().parents[1]


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    web_host: str = "127.0.0.1"
    web_port: int = 8081
    web_api_url: str = "http://127.0.0.1:8080"
    web_api_timeout: float = Field(default=30.0, gt=0)
    public_base_url: str = "http://localhost:8080"
    web_etablissement: str = "Université Toulouse Jean Jaurès"
    web_logo_url: str | None = None
    web_contact: str = "formations.diplomantes@univ-tlse2.fr"
    web_ent_url: str | None = None
    web_assets_dir: Path = ROOT / "node_modules"
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    log_level: str = "INFO"
    log_format: str = Field(default="json", pattern="^(json|text)$")
    event_loop: EventLoopKind = "uvloop"

    @property
    def secure_cookies(self) -> bool:
        return self.public_base_url.startswith("https://")
