"""The espace gestion: the back-office pages of gestionnaires, commissions and administrators,
under `/personnel`, over the staff API (`/api/v1/staff/…`) only."""

from aiohttp import web

from .common import LOGIN, PREFIX

__all__ = ["LOGIN", "PREFIX", "register"]


def register(app: web.Application) -> None:
    from . import acces, administration, candidatures, offre

    for module in (acces, candidatures, administration, offre):
        app.router.add_routes(module.routes)
