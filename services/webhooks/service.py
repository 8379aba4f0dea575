"""The webhooks service: delivers the public events to the HTTP endpoints administrators register
(Standard Webhooks), one durable consumer per endpoint and stream (see `delivery`)."""

from __future__ import annotations

from pathlib import Path

from ecandidat.runtime.clock import Clock
from ecandidat.runtime.sealing import Sealer, require_production_key
from ecandidat.runtime.service import Service

from . import rpc
from .context import Deps
from .delivery import Dispatcher
from .settings import WebhooksSettings

MIGRATIONS = Path(__file__).with_name("migrations")


class WebhooksService(Service):
    settings: WebhooksSettings

    def __init__(self, settings: WebhooksSettings | None = None, *, clock: Clock | None = None) -> None:
        super().__init__("webhooks", settings or WebhooksSettings(), migrations=MIGRATIONS, clock=clock)
        self.dispatcher: Dispatcher
        self.sealer: Sealer
        self.deps: Deps

    async def setup(self) -> None:
        self.sealer = Sealer(self.settings.webhook_sealing_key, "WEBHOOK_SEALING_KEY")
        require_production_key(self.sealer, self.settings)
        self.dispatcher = Dispatcher(
            nc=self.nc, pool=self.pool, settings=self.settings, clock=self.clock, sealer=self.sealer
        )
        self.deps = Deps(self.pool, self.nc, self.clock, self.settings, self.sealer, self.dispatcher)
        rpc.register(self.rpc, self.deps)
        self.spawn(self.dispatcher.run, "webhooks-dispatcher", stop=self.dispatcher.stop)


SETTINGS = WebhooksSettings


def create(settings: WebhooksSettings | None = None, clock: Clock | None = None) -> WebhooksService:
    return WebhooksService(settings, clock=clock)
