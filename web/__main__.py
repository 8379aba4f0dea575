"""`python -m web`: serve the espace candidat until SIGTERM, then close connections gracefully."""

from aiohttp import web

from ecandidat.runtime import aio
from ecandidat.runtime import logging as kit_logging
from ecandidat.runtime.heap import freeze_startup_objects

from .app import create_app
from .render import ENV
from .settings import WebSettings


async def ready(app: web.Application) -> None:
    """Every template compiled before the first page (not by it), then start-up's objects frozen."""
    for name in app[ENV].list_templates(extensions=["html"]):
        app[ENV].get_template(name)
    freeze_startup_objects()


def main() -> None:
    settings = WebSettings()
    kit_logging.configure("web", settings.log_level, settings.log_format)
    app = create_app(settings)
    app.on_startup.append(ready)
    web.run_app(
        app,
        host=settings.web_host,
        port=settings.web_port,
        access_log=None,
        shutdown_timeout=10,
        print=None,
        loop=aio.new_event_loop(settings.event_loop),
    )


if __name__ == "__main__":
    main()
