"""The dossiers service's part of `ecandidat seed-demo`: the student records of the local ENT's test users."""

from __future__ import annotations

import argparse

from ecandidat.runtime.db import create_pool, migrate
from ecandidat.runtime.settings import KitSettings
from services.dossiers.seed import seed_registry
from services.dossiers.service import MIGRATIONS


async def seed_demo(args: argparse.Namespace, settings: KitSettings) -> None:
    await migrate(settings.database_url, "dossiers", MIGRATIONS)
    pool = await create_pool(settings.database_url, "dossiers", max_size=2)
    try:
        report = await seed_registry(pool, settings)
    finally:
        await pool.close()
    print(f"demo student records: {report.lignes} (INE of the local ENT's test users)")
