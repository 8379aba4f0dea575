"""A mailer service running in the test's event loop against the session's servers."""

from __future__ import annotations

import pytest

from ecandidat.runtime.db import connect, migrate
from tests.conftest import quiescent

from services.mailer.service import MIGRATIONS, MailerService
from services.mailer.settings import MailerSettings


@pytest.fixture
def mailer_settings(settings_for):
    return settings_for(MailerSettings)


@pytest.fixture
async def start_mailer(mailer_settings):
    started: list[MailerService] = []

    async def start(**overrides) -> MailerService:
        settings = mailer_settings.model_copy(update=overrides) if overrides else mailer_settings
        service = MailerService(settings)
        await service.start()
        started.append(service)
        return service

    yield start
    for service in started:
        if getattr(service, "_stopped", False):
            continue
        await service.stop()


@pytest.fixture
async def mailer_db(database_url):
    await migrate(database_url, "mailer", MIGRATIONS)
    conn = await connect(database_url, "mailer")
    yield conn
    await conn.close()


async def mailer_quiescent(service: MailerService, *recipients: str) -> bool:
    """Nothing in flight (see `quiescent`), and no mail to these recipients waiting or being sent."""
    if not await quiescent(service) or (service.sender and service.sender.in_flight):
        return False
    async with service.pool.acquire() as conn:
        return not await conn.fetchval(
            "SELECT count(*) FROM deliveries WHERE recipient = ANY($1) AND status IN ('pending', 'sending')",
            list(recipients),
        )


def mails_to(sink, address: str) -> list:
    return [m for m in sink.messages() if m["To"] == address]


async def crash(service: MailerService) -> None:
    """Stop a service the way a killed process stops: no draining, no acks, connections cut."""
    import asyncio

    service._stopped = True
    for task in service.tasks:
        task.cancel()
    await asyncio.gather(*(t.task for t in service.tasks), return_exceptions=True)
    await service.nc.close()
    service.pool.terminate()
