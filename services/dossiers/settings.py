"""Dossiers settings (environment variables): only the kit's (see `ecandidat.runtime.settings`).

| variable | default | meaning |
|---|---|---|
| DATABASE_URL, NATS_URL, RPC_CONCURRENCY, … | | as for every service |
"""

from __future__ import annotations

from ecandidat.runtime.settings import KitSettings


class DossiersSettings(KitSettings):
    pass
