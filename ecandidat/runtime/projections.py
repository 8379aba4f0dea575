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


async def set_candidature_statuts(conn: asyncpg.Connection, changes: list[tuple[uuid.UUID, str, int]]) -> None:
    """`set_candidature_statut` for several events at once, in one statement: each candidature takes
    the statut of its highest version among `changes` when that is newer than the state held, as
    applying them one after the other would leave it."""
    if not changes:
        return
    ids, statuts, versions = zip(*changes)
    await conn.execute(
        """UPDATE candidatures c SET statut = x.statut, version = x.version
           FROM (SELECT DISTINCT ON (id) id, statut, version
                   FROM unnest($1::uuid[], $2::text[], $3::int[]) AS u(id, statut, version)
                  ORDER BY id, version DESC) x
           WHERE c.candidature_id = x.id AND c.version < x.version""",
        list(ids),
        list(statuts),
        list(versions),
    )
