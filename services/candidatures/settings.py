"""Candidatures settings: those of the kit (see ecandidat/runtime/settings.py)."""

from __future__ import annotations

from ecandidat.runtime.settings import KitSettings


class CandidaturesSettings(KitSettings):
    pass
