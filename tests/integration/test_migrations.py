"""The migration runner: applied once, recorded, safe when replicas start together."""

from __future__ import annotations

import asyncio
import hashlib
import uuid

import asyncpg
import pytest

from ecandidat.runtime.db import MigrationError, migrate
from tests.conftest import eventually


def write(folder, name: str, sql: str) -> None:
    (folder / name).write_text(sql)


async def test_migrations_apply_once_and_are_recorded(database_url, tmp_path):
    schema = f"mig_{uuid.uuid4().hex[:8]}"
    write(tmp_path, "0001_people.sql", "CREATE TABLE people (id int PRIMARY KEY);")
    write(tmp_path, "0002_more.sql", "ALTER TABLE people ADD COLUMN name text;")
    applied = await migrate(database_url, schema, tmp_path)
    assert applied == [
        "kit/0001_outbox_inbox",
        "kit/0002_outbox_writers",
        f"{schema}/0001_people",
        f"{schema}/0002_more",
    ]
    assert await migrate(database_url, schema, tmp_path) == []
    write(tmp_path, "0003_index.sql", "CREATE INDEX people_name ON people (name);")
    assert await migrate(database_url, schema, tmp_path) == [f"{schema}/0003_index"]
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(f'SELECT source, version FROM "{schema}".schema_migrations ORDER BY source, version')
        assert [(r["source"], r["version"]) for r in rows] == [
            ("kit", 1),
            ("kit", 2),
            (schema, 1),
            (schema, 2),
            (schema, 3),
        ]
    finally:
        await conn.close()


async def test_two_replicas_starting_together_apply_each_migration_once(database_url, tmp_path):
    schema = f"mig_{uuid.uuid4().hex[:8]}"
    # Not idempotent on purpose: applying it twice would fail.
    write(tmp_path, "0001_t.sql", "CREATE TABLE t (id int);")
    key = int.from_bytes(hashlib.sha256(f"migrate:{schema}".encode()).digest()[:8], "big", signed=True)
    holder = await asyncpg.connect(database_url)
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", key)  # as a replica that started first
        replicas = [asyncio.create_task(migrate(database_url, schema, tmp_path)) for _ in range(3)]

        async def all_waiting() -> bool:
            return (
                await holder.fetchval(
                    """SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                   WHERE l.locktype = 'advisory' AND NOT l.granted AND a.datname = current_database()"""
                )
                == 3
            )

        await eventually(all_waiting, message="the three replicas wait for the lock together")
        await holder.execute("SELECT pg_advisory_unlock($1)", key)
        results = await asyncio.gather(*replicas)
    finally:
        await holder.close()
    assert sorted(len(r) for r in results) == [0, 0, 3]  # the kit's two and the service's one


async def test_a_failing_migration_leaves_nothing_half_applied(database_url, tmp_path):
    schema = f"mig_{uuid.uuid4().hex[:8]}"
    write(tmp_path, "0001_ok.sql", "CREATE TABLE ok (id int);")
    write(tmp_path, "0002_bad.sql", "CREATE TABLE half (id int); SELECT * FROM no_such_table;")
    with pytest.raises(asyncpg.UndefinedTableError):
        await migrate(database_url, schema, tmp_path)
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT to_regclass($1)", f"{schema}.ok") is not None
        assert await conn.fetchval("SELECT to_regclass($1)", f"{schema}.half") is None
    finally:
        await conn.close()


async def test_a_changed_migration_is_refused(database_url, tmp_path):
    schema = f"mig_{uuid.uuid4().hex[:8]}"
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (id int);")
    await migrate(database_url, schema, tmp_path)
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (id bigint);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(database_url, schema, tmp_path)


async def test_badly_named_migration_is_refused(database_url, tmp_path):
    write(tmp_path, "add_table.sql", "SELECT 1;")
    with pytest.raises(ValueError, match="NNNN_name.sql"):
        await migrate(database_url, f"mig_{uuid.uuid4().hex[:8]}", tmp_path)
