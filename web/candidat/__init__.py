"""The espace candidat: every screen of the candidates' guide."""

from aiohttp import web

from . import candidatures, compte, dossier, ent, offre


def register(app: web.Application) -> None:
    for module in (offre, compte, ent, dossier, candidatures):
        app.router.add_routes(module.routes)
