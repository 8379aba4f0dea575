"""`python -m gateway`: serve the HTTP API until SIGTERM, then stop gracefully.

On SIGTERM (or SIGINT) the gateway stops listening at once, lets the requests in flight finish —
a slow upload included, for up to GATEWAY_SHUTDOWN_TIMEOUT seconds — answering them with
`Connection: close`, and only then closes the connections that remain and its NATS connection.
(aiohttp's own shutdown stops reading request bodies as soon as it starts, which would cut an
upload in flight: hence the draining here, before it.)
"""

import asyncio
import signal
import time

from aiohttp import web

from ecandidat.runtime import aio
from ecandidat.runtime import logging as kit_logging
from ecandidat.runtime.heap import freeze_startup_objects

from .app import GatewayRunner, create_app
from .metrics import IN_FLIGHT, InFlight
from .settings import GatewaySettings

DRAIN_POLL = 0.05  # seconds between looks at the requests still in flight


async def serve(settings: GatewaySettings) -> None:
    app = create_app(settings)
    runner = GatewayRunner(
        app,
        access_log=None,  # gateway.metrics logs each request, as JSON with its request id
        shutdown_timeout=1.0,
        handle_signals=False,
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.gateway_host, settings.gateway_port)
    await site.start()
    freeze_startup_objects()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        await site.stop()  # no new connection from here on
        await drain(app[IN_FLIGHT], settings.gateway_shutdown_timeout)
    finally:
        await runner.cleanup()


async def drain(in_flight: InFlight, timeout: float) -> None:
    """Wait until no request is in flight (each answered with Connection: close), at most `timeout` s."""
    in_flight.draining = True
    deadline = time.monotonic() + timeout
    while in_flight.count and time.monotonic() < deadline:
        await asyncio.sleep(DRAIN_POLL)


def main() -> None:
    settings = GatewaySettings()
    kit_logging.configure("gateway", settings.log_level, settings.log_format)
    aio.run(serve(settings), settings.event_loop)


if __name__ == "__main__":
    main()
