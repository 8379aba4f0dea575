"""`python -m web`: serve the espace candidat until SIGTERM, then close connections gracefully."""

from aiohttp import web

from ecandidat.runtime import logging as kit_logging

from .app import create_app
from .settings import WebSettings


def main() -> None:
    settings = WebSettings()
    kit_logging.configure("web", settings.log_level, settings.log_format)
    web.run_app(create_app(settings), host=settings.web_host, port=settings.web_port, access_log=None,
                shutdown_timeout=10, print=None)


if __name__ == "__main__":
    main()
