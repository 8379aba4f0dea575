"""The whole platform in the test's event loop: services and the gateway on a real HTTP port.

`start_platform("accounts", "mailer", ...)` starts the named services (each package's
`service.create(settings, clock)`), all sharing one `OffsetClock` that tests can move forward,
then the gateway (on `gateway_port`, default any free port); it returns a `Platform` with an HTTP
client bound to the gateway.

Every gateway these fixtures start checks each response against its own OpenAPI document
(`tests/e2e/contract.py`): a test that meets an undocumented status fails at teardown.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from ecandidat.runtime.clock import OffsetClock
from ecandidat.runtime.service import Service
from gateway.app import GatewayRunner, create_app
from gateway.settings import GatewaySettings
from tests.e2e import contract


@dataclass
class Platform:
    base_url: str
    http: aiohttp.ClientSession
    clock: OffsetClock
    services: dict[str, Service] = field(default_factory=dict)
    app: web.Application | None = None

    def url(self, path: str) -> str:
        return self.base_url + path


@pytest.fixture
async def start_platform(settings_for: Callable[..., Any]) -> AsyncIterator[Callable[..., Any]]:
    started: list[tuple[Service | None, web.AppRunner | None, aiohttp.ClientSession | None]] = []

    async def start(
        *names: str, gateway: dict[str, Any] | None = None, gateway_port: int = 0, **service_overrides: dict[str, Any]
    ) -> Platform:
        clock = OffsetClock()
        services: dict[str, Service] = {}
        for name in names:
            module = importlib.import_module(f"services.{name}.service")
            settings = settings_for(module.SETTINGS, **service_overrides.get(name, {}))
            service = module.create(settings, clock=clock)
            await service.start()
            started.append((service, None, None))
            services[name] = service
        gw_settings = settings_for(GatewaySettings, **{"gateway_services": tuple(names), **(gateway or {})})
        app = create_app(gw_settings)
        contract.watch(app)
        runner = GatewayRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", gateway_port)
        await site.start()
        port = runner.addresses[0][1]
        http = aiohttp.ClientSession()
        started.append((None, runner, http))
        return Platform(f"http://127.0.0.1:{port}", http, clock, services, app)

    yield start
    broken: list[str] = []
    for service, runner, http in reversed(started):
        if http is not None:
            await http.close()
        if runner is not None:
            broken += contract.violations(runner.app)
            await runner.cleanup()
        if service is not None and not getattr(service, "_stopped", False):
            await service.stop()
    if broken:
        pytest.fail("responses outside the OpenAPI document:\n" + "\n".join(broken), pytrace=False)


@pytest.fixture
async def start_token_gateway(settings_for: Callable[..., Any]) -> AsyncIterator[Callable[..., Any]]:
    """A gateway whose authenticator maps bearer tokens to principals the test made itself, for
    tests of a service's routes that need no real accounts service: `tokens[token] = Principal(...)`."""
    from ecandidat.contracts.errors import Forbidden, Unauthenticated
    from gateway.api import AUTHENTICATOR, Operation

    opened: list[tuple[web.AppRunner, aiohttp.ClientSession]] = []

    async def start(tokens: dict[str, Any], services: tuple[str, ...], **settings: Any) -> aiohttp.ClientSession:
        app = create_app(settings_for(GatewaySettings, gateway_services=services, **settings))

        async def authenticate(request: web.Request, op: Operation) -> Any:
            principal = tokens.get(request.headers.get("Authorization", "").removeprefix("Bearer "))
            if principal is None:
                raise Unauthenticated("Vous devez être connecté pour accéder à cette ressource.")
            if principal.realm != op.realm or (op.roles and not principal.has_role(*op.roles)):
                raise Forbidden("Vous n'avez pas accès à cette ressource.")
            return principal

        app[AUTHENTICATOR] = authenticate
        contract.watch(app)
        runner = GatewayRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        http = aiohttp.ClientSession(f"http://127.0.0.1:{runner.addresses[0][1]}")
        opened.append((runner, http))
        return http

    yield start
    broken: list[str] = []
    for runner, http in reversed(opened):
        await http.close()
        broken += contract.violations(runner.app)
        await runner.cleanup()
    if broken:
        pytest.fail("responses outside the OpenAPI document:\n" + "\n".join(broken), pytrace=False)
