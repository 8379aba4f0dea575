"""The local projection of the candidatures a service follows, as candidatures' events report them.

A service that applies the staff scope rules (`ecandidat/contracts/access.py`) keeps, in a
`candidatures` table of its own schema, each candidature's statut du dossier and the `version`
(the event's `revision`) it was last changed at; documents and dossiers do.
"""

from __future__ import annotations

import uuid

import asyncpg


async def set_candidature_statut(
    conn: asyncpg.Connection, candidature_id: uuid.UUID, statut: str, version: int
) -> bool:
    """The statut du dossier as candidatures reports it; an older event than the state held changes
    nothing (False)."""
    done = await conn.execute(
        "UPDATE candidatures SET statut = $2, version = $3 WHERE candidature_id = $1 AND version < $3",
        candidature_id,
        statut,
        version,
    )
    return done == "UPDATE 1"
