"""Typed application keys shared by the gateway's modules."""

from __future__ import annotations

from aiohttp import web
from nats.aio.client import Client as NATS

from ecandidat.runtime.rpc import RpcClient

from .api import Api
from .sessions import SessionCache
from .settings import GatewaySettings

SETTINGS = web.AppKey("settings", GatewaySettings)
NATS_CONN = web.AppKey("nats", NATS)
RPC = web.AppKey("rpc", RpcClient)
API = web.AppKey("api", Api)
OPENAPI = web.AppKey("openapi", dict)
SESSIONS = web.AppKey("sessions", SessionCache)
ASYNCAPI = web.AppKey("asyncapi", dict)
