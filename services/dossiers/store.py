"""The SQL of the dossiers service (asyncpg); returns domain objects."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from ecandidat.runtime import forgotten
from ecandidat.contracts.access import CandidatureScope
from ecandidat.runtime.projections import set_candidature_statut as set_candidature_statut
from ecandidat.runtime.projections import set_candidature_statuts as set_candidature_statuts

from .domain import Dossier, StoredSection


async def load_dossier(
    conn: asyncpg.Connection, account_id: uuid.UUID, *, for_update: bool = False, contents: bool = True
) -> Dossier | None:
    """The dossier with its sections and scope, in one round trip (after taking its row lock);
    without `contents`, its sections without their data (what `domain.dossier_state` needs)."""
    if for_update and not await conn.fetchval("SELECT true FROM dossiers WHERE account_id = $1 FOR UPDATE", account_id):
        return None
    row = await conn.fetchrow(_LOAD if contents else _LOAD_OUTLINE, account_id)
    if row is None:
        return None
    return Dossier(
        account_id=account_id,
        locked=row["locked"],
        ine_importe=row["ine_importe"],
        sections={
            s["section"]: StoredSection(
                s["section"], s["version"], s.get("data"), tuple(s["imported"]), datetime.fromisoformat(s["updated_at"])
            )
            for s in row["sections"]
        },
        scopes=tuple(CandidatureScope(c["centre"], c["commission"], c["statut"]) for c in row["scopes"]),
    )


_LOAD_SQL = """SELECT d.locked, d.ine_importe,
          (SELECT coalesce(jsonb_agg(jsonb_build_object(
                'section', s.section, 'version', s.version,{data}
                'imported', to_jsonb(s.imported), 'updated_at', s.updated_at)), '[]'::jsonb)
             FROM sections s WHERE s.account_id = d.account_id) AS sections,
          (SELECT coalesce(jsonb_agg(jsonb_build_object(
                'centre', c.centre_code, 'commission', c.commission_code, 'statut', c.statut)), '[]'::jsonb)
             FROM candidatures c WHERE c.account_id = d.account_id) AS scopes
   FROM dossiers d WHERE d.account_id = $1"""
_LOAD = _LOAD_SQL.format(data=" 'data', s.data,")
_LOAD_OUTLINE = _LOAD_SQL.format(data="")


async def ensure_dossier(conn: asyncpg.Connection, account_id: uuid.UUID, now: datetime) -> bool:
    """Create the dossier row if missing, unless the account was erased (then False).

    Takes the account's transaction-scoped advisory lock, as `erase` does: an erasure and a
    creation (a save, a late `candidature.created`) of the same account run one after the other,
    so a dossier can never come back after its account was purged.
    """
    await forgotten.hold_account(conn, account_id)
    if await forgotten.is_forgotten(conn, account_id):
        return False
    await conn.execute(
        "INSERT INTO dossiers (account_id, created_at, updated_at) VALUES ($1, $2, $2) ON CONFLICT DO NOTHING",
        account_id,
        now,
    )
    return True


async def write_section(
    conn: asyncpg.Connection, account_id: uuid.UUID, stored: StoredSection, expected: int, by: str, now: datetime
) -> bool:
    """Write `stored` if the section is still at version `expected`; False if someone was faster."""
    values = (account_id, stored.section, stored.version, stored.data, list(stored.imported), now, by)
    if expected == 0:
        status = await conn.execute(
            """INSERT INTO sections (account_id, section, version, data, imported, updated_at, updated_by)
               VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING""",
            *values,
        )
    else:
        status = await conn.execute(
            """UPDATE sections SET version = $3, data = $4, imported = $5, updated_at = $6, updated_by = $7
               WHERE account_id = $1 AND section = $2 AND version = $8""",
            *values,
            expected,
        )
    if status.endswith(" 1"):
        await conn.execute("UPDATE dossiers SET updated_at = $2 WHERE account_id = $1", account_id, now)
        return True
    return False


async def set_ine_importe(conn: asyncpg.Connection, account_id: uuid.UUID, ine: str) -> None:
    await conn.execute("UPDATE dossiers SET ine_importe = $2 WHERE account_id = $1", account_id, ine)


async def delete_candidature(
    conn: asyncpg.Connection, candidature_id: uuid.UUID, account_id: uuid.UUID, now: datetime
) -> None:
    """A destroyed candidature: gone from the staff scope, and the dossier unlocked if it was the last."""
    await forgotten.forget(conn, "candidature", [candidature_id], now)
    await conn.execute("DELETE FROM candidatures WHERE candidature_id = $1", candidature_id)
    await conn.execute(
        """UPDATE dossiers SET locked = false, updated_at = $2
           WHERE account_id = $1 AND locked AND NOT EXISTS (SELECT 1 FROM candidatures WHERE account_id = $1)""",
        account_id,
        now,
    )


async def add_candidature(
    conn: asyncpg.Connection,
    candidature_id: uuid.UUID,
    account_id: uuid.UUID,
    centre: str,
    commission: str | None,
    version: int,
    now: datetime,
) -> None:
    if not await ensure_dossier(conn, account_id, now) or await forgotten.is_forgotten(conn, candidature_id):
        return  # erased account or destroyed candidature: a late event brings nothing back
    await conn.execute(
        """INSERT INTO candidatures (candidature_id, account_id, centre_code, commission_code, created_at, version)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING""",
        candidature_id,
        account_id,
        centre,
        commission,
        now,
        version,
    )
    await conn.execute("UPDATE dossiers SET locked = true, updated_at = $2 WHERE account_id = $1", account_id, now)


async def erase(conn: asyncpg.Connection, account_id: uuid.UUID, now: datetime) -> int:
    await forgotten.hold_account(conn, account_id)
    await forgotten.forget(conn, "account", [account_id], now)
    await conn.execute("DELETE FROM candidatures WHERE account_id = $1", account_id)
    status = await conn.execute("DELETE FROM dossiers WHERE account_id = $1", account_id)
    return int(status.split()[-1])


# -- registry --------------------------------------------------------------------------------------


def digest(record: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


async def registry_record(conn: asyncpg.Connection, ine: str) -> dict[str, Any] | None:
    return await conn.fetchval("SELECT record FROM registre WHERE ine = $1", ine)


async def upsert_registry(
    conn: asyncpg.Connection, records: list[dict[str, Any]], now: datetime
) -> tuple[int, int, int]:
    """Store the records; return how many were created, updated and unchanged."""
    known = {
        r["ine"]: r["digest"]
        for r in await conn.fetch(
            "SELECT ine, digest FROM registre WHERE ine = ANY($1::text[])", [r["ine"] for r in records]
        )
    }
    created = updated = unchanged = 0
    rows = []
    for record in records:
        d = digest(record)
        if known.get(record["ine"]) == d:
            unchanged += 1
            continue
        created += record["ine"] not in known
        updated += record["ine"] in known
        rows.append((record["ine"], record, d, now))
    await conn.executemany(
        """INSERT INTO registre (ine, record, digest, loaded_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (ine) DO UPDATE SET record = EXCLUDED.record, digest = EXCLUDED.digest, loaded_at = EXCLUDED.loaded_at""",
        rows,
    )
    return created, updated, unchanged


async def dossiers_declaring(conn: asyncpg.Connection, ines: list[str]) -> list[uuid.UUID]:
    """Dossiers whose informations personnelles name one of `ines` and have not imported it yet."""
    rows = await conn.fetch(
        """SELECT s.account_id FROM sections s JOIN dossiers d USING (account_id)
           WHERE s.section = 'informations_personnelles' AND s.data ->> 'ine' = ANY($1::text[])
             AND d.ine_importe IS DISTINCT FROM s.data ->> 'ine'""",
        ines,
    )
    return [r["account_id"] for r in rows]
