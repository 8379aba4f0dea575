"""Rpc endpoints of the accounts service: parse the contract, call the handler, reply.

A handler that cannot reach PostgreSQL committed nothing: the caller gets `unavailable` (503 with
Retry-After at the gateway), never an answer that claims the work is done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from ecandidat.contracts import accounts as c
from ecandidat.contracts.errors import Unavailable
from ecandidat.runtime.rpc import RpcContext, RpcServer

from . import handlers, lost_links, sessions, staff
from .context import Deps

log = logging.getLogger(__name__)

RETRY_AFTER = 5  # seconds a client is asked to wait while the database is unreachable
DATABASE_DOWN = (
    OSError,  # refused, reset, unreachable
    asyncio.TimeoutError,  # a connection that could not be opened in time
    asyncpg.PostgresConnectionError,  # the connection broke mid-operation
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up
    asyncpg.TooManyConnectionsError,
)

ROUTES: dict[type, Callable[[Deps, object], Awaitable[object]]] = {
    c.CreateAccount: handlers.create_account,
    c.ActivateAccount: handlers.activate_account,
    c.ResendActivation: lost_links.resend_activation,
    c.RequestCredentials: lost_links.request_credentials,
    c.ResetPassword: handlers.reset_password,
    c.GetAccount: handlers.get_account,
    c.ChangeEmail: handlers.change_email,
    c.ConfirmEmail: handlers.confirm_email,
    c.Login: sessions.login,
    c.ResolveSession: sessions.resolve_session,
    c.Logout: sessions.logout,
    c.StaffLogin: staff.staff_login,
    c.StaffSetup: staff.staff_setup,
    c.StaffSetupConfirm: staff.staff_setup_confirm,
    c.RenewRecoveryCodes: staff.renew_recovery_codes,
    c.CreateStaffAccount: staff.create_staff_account,
    c.ListStaffAccounts: staff.list_staff_accounts,
    c.GetStaffAccount: staff.get_staff_account,
    c.GetStaffMe: staff.get_staff_me,
    c.UpdateStaffAccount: staff.update_staff_account,
    c.ReinviteStaffAccount: staff.reinvite_staff_account,
}


def register(server: RpcServer, deps: Deps) -> None:
    for model, handler in ROUTES.items():
        server.route(model)(_bound(handler, deps))


def _bound(handler: Callable[[Deps, object], Awaitable[object]], deps: Deps):
    async def serve(req: object, ctx: RpcContext) -> object:
        try:
            return await handler(deps, req)
        except DATABASE_DOWN as exc:
            log.warning("database unreachable", extra={"error": repr(exc)})
            raise Unavailable(
                "Le service est momentanément indisponible, veuillez réessayer dans quelques instants.",
                retry_after=RETRY_AFTER,
            ) from None

    serve.__name__ = handler.__name__
    return serve
