"""Rpc endpoints of the webhooks service (called by the gateway's staff admin routes): the table of
requests and the handlers that answer them."""

from __future__ import annotations

from ecandidat.contracts import webhooks as c
from ecandidat.runtime.rpc import Route, RpcServer, register_routes, route

from . import handlers
from .context import Deps

ROUTES: tuple[Route, ...] = (
    route(c.NewEndpoint, handlers.register_endpoint),
    route(c.ListEndpoints, handlers.list_endpoints),
    route(c.RotateSecret, handlers.rotate_secret),
    route(c.SetEndpointStatus, handlers.set_endpoint_status),
    route(c.DeleteEndpoint, handlers.delete_endpoint),
    route(c.ListWebhookDeliveries, handlers.list_deliveries),
    route(c.ReplayRange, handlers.replay),
)


def register(server: RpcServer, deps: Deps) -> None:
    register_routes(server, deps, ROUTES)
