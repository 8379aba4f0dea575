"""Rpc endpoints of the mailer: the table of requests and the handlers that answer them."""

from __future__ import annotations

from ecandidat.contracts import mailer as c
from ecandidat.runtime.rpc import Route, RpcServer, register_routes, route

from . import handlers
from .context import Deps

ROUTES: tuple[Route, ...] = (
    route(c.SendMailCheck, handlers.send_mail_check),
    route(c.ListDeliveries, handlers.list_deliveries),
)


def register(server: RpcServer, deps: Deps) -> None:
    register_routes(server, deps, ROUTES)
