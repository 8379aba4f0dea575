"""Candidatures settings (environment variables), besides those of the kit.

| variable | default | meaning |
|---|---|---|
| CONFIRMATION_REMINDER_DAYS | 3 | days before the confirmation deadline when the reminder mail goes |
| CANDIDATURES_JOBS_INTERVAL | 30 | seconds between runs of the timed jobs (reminders, automatic désistements, destruction of archived campaigns' candidatures) |
| CANDIDATURES_RETENTION_DAYS | 365 | days a campaign's candidatures are kept once it is archived (out of service); then they are destroyed, with their pieces and letters |
"""

from __future__ import annotations

from pydantic import Field

from ecandidat.runtime.settings import KitSettings


class CandidaturesSettings(KitSettings):
    confirmation_reminder_days: int = Field(default=3, ge=1, le=60)
    candidatures_jobs_interval: float = Field(default=30.0, gt=0)
    candidatures_retention_days: int = Field(default=365, ge=1)
