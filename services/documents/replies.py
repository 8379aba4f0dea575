"""Rows as the replies the gateway shows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel

from ecandidat.contracts.documents import CandidaturePieces, PieceView, TemplateView

from . import store
from .domain import STATUTS, why_locked


def _columns(row: asyncpg.Record, model: type[BaseModel], *but: str) -> dict[str, Any]:
    """The row's columns that the reply shows as they are."""
    return {name: row[name] for name in model.model_fields if name in row.keys() and name not in but}


def piece_view(row: asyncpg.Record, candidature: asyncpg.Record, has_template: bool, now: datetime) -> PieceView:
    can_change = why_locked(store.candidature_state(candidature), store.slot(row), now) is None
    return PieceView(
        **_columns(row, PieceView, "deposited_at"),
        slot_id=row["id"],
        statut_libelle=STATUTS[row["statut"]],
        deposited_at=row["deposited_at"] if row["file_key"] else None,
        has_template=has_template,
        can_change=can_change,
        can_declare_non_concerne=can_change and row["conditionnelle"] and row["file_key"] is None,
    )


async def candidature_pieces(conn: asyncpg.Connection, candidature: asyncpg.Record, now: datetime) -> CandidaturePieces:
    rows = await store.slots(conn, candidature["candidature_id"])
    templates = await store.template_piece_ids(conn, [r["piece_id"] for r in rows])
    state = store.candidature_state(candidature)
    return CandidaturePieces(
        candidature_id=candidature["candidature_id"],
        numero_dossier=candidature["numero_dossier"],
        formation_libelle=candidature["formation_libelle"],
        date_limite_retour=candidature["date_limite_retour"],
        can_change=state.open_for_changes(now) and not (state.transmitted and not any(r["reopened"] for r in rows)),
        items=[piece_view(r, candidature, r["piece_id"] in templates, now) for r in rows],
    )


def template_view(row: asyncpg.Record) -> TemplateView:
    return TemplateView(**_columns(row, TemplateView))
