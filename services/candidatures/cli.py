"""The candidatures service's part of `ecandidat seed-demo`: the offer of the candidates' guide."""

from __future__ import annotations

import argparse
from datetime import date

from ecandidat.runtime.db import create_pool, migrate
from ecandidat.runtime.settings import KitSettings
from services.candidatures.seed import FORMATIONS
from services.candidatures.seed import seed_demo as seed_offer
from services.candidatures.service import MIGRATIONS


async def seed_demo(args: argparse.Namespace, settings: KitSettings) -> None:
    await migrate(settings.database_url, "candidatures", MIGRATIONS)
    pool = await create_pool(settings.database_url, "candidatures", max_size=2)
    try:
        today = date.fromisoformat(args.today) if args.today else date.today()
        pieces = await seed_offer(pool, today)
    finally:
        await pool.close()
    print(f"demo campaign seeded: {len(FORMATIONS)} formations, {len(pieces)} pièces justificatives, open from {today}")
