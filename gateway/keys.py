"""Typed application keys shared by the gateway's modules."""

from __future__ import annotations

from aiohttp import web
from nats.aio.client import Client as NATS

from .api import RPC as RPC  # the rpc client's key lives beside call(), the one way to use it
from .api import Api
from .sessions import SessionCache
from .settings import GatewaySettings

SETTINGS = web.AppKey("settings", GatewaySettings)
NATS_CONN = web.AppKey("nats", NATS)
API = web.AppKey("api", Api)
OPENAPI = web.AppKey("openapi", dict)
SESSIONS = web.AppKey("sessions", SessionCache)
ASYNCAPI = web.AppKey("asyncapi", dict)
