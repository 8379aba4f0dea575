"""`python -m gateway`: serve the HTTP API until SIGTERM, then close connections gracefully."""

from aiohttp import web

from ecandidat.runtime import logging as kit_logging

from .app import create_app
from .settings import GatewaySettings


def main() -> None:
    settings = GatewaySettings()
    kit_logging.configure("gateway", settings.log_level, settings.log_format)
    web.run_app(
        create_app(settings),
        host=settings.gateway_host,
        port=settings.gateway_port,
        access_log=None,  # gateway.metrics logs each request, as JSON with its request id
        shutdown_timeout=settings.gateway_shutdown_timeout,
        print=None,
    )


if __name__ == "__main__":
    main()
