"""Rpc endpoints of the dossiers service: the table of requests and the handlers that answer them."""

from __future__ import annotations

from ecandidat.contracts import dossiers as c
from ecandidat.runtime.rpc import Route, RpcServer, register_routes, route

from . import handlers
from .context import Deps

ROUTES: tuple[Route, ...] = (
    route(c.GetDossier, handlers.get_dossier),
    route(c.GetSection, handlers.get_section),
    route(c.SaveSection, handlers.save_section),
    route(c.GetCompleteness, handlers.completeness),
    route(c.GetReferentiels, handlers.referentiels),
    route(c.SearchCommunes, handlers.search_communes),
    route(c.ImportRegistry, handlers.import_registry),
)


def register(server: RpcServer, deps: Deps) -> None:
    register_routes(server, deps, ROUTES)
