"""Rpc endpoints of the accounts service: parse the contract, call the handler, reply."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple, TypeVar

from pydantic import BaseModel

from ecandidat.contracts import accounts as c
from ecandidat.contracts.base import RpcRequest
from ecandidat.runtime.rpc import RpcContext, RpcServer

from . import ent, handlers, lost_links, sessions, staff
from .context import Deps

Request = TypeVar("Request", bound=RpcRequest)
Handler = Callable[[Deps, Any], Awaitable[BaseModel | None]]


class Route(NamedTuple):
    model: type[RpcRequest]
    handler: Handler


def route(model: type[Request], handler: Callable[[Deps, Request], Awaitable[BaseModel | None]]) -> Route:
    """One row of the table; the type checker sees that the handler takes this request."""
    return Route(model, handler)


ROUTES: tuple[Route, ...] = (
    route(c.CreateAccount, handlers.create_account),
    route(c.ActivateAccount, handlers.activate_account),
    route(c.ResendActivation, lost_links.resend_activation),
    route(c.RequestCredentials, lost_links.request_credentials),
    route(c.ResetPassword, handlers.reset_password),
    route(c.GetAccount, handlers.get_account),
    route(c.ChangeEmail, handlers.change_email),
    route(c.ConfirmEmail, handlers.confirm_email),
    route(c.Login, sessions.login),
    route(c.ResolveSession, sessions.resolve_session),
    route(c.Logout, sessions.logout),
    route(c.EntStart, ent.ent_start),
    route(c.EntLogin, ent.ent_login),
    route(c.EntLink, ent.ent_link),
    route(c.EntLogout, ent.ent_logout),
    route(c.StaffLogin, staff.staff_login),
    route(c.StaffSetup, staff.staff_setup),
    route(c.StaffSetupConfirm, staff.staff_setup_confirm),
    route(c.RenewRecoveryCodes, staff.renew_recovery_codes),
    route(c.CreateStaffAccount, staff.create_staff_account),
    route(c.ListStaffAccounts, staff.list_staff_accounts),
    route(c.GetStaffAccount, staff.get_staff_account),
    route(c.GetStaffMe, staff.get_staff_me),
    route(c.UpdateStaffAccount, staff.update_staff_account),
    route(c.ReinviteStaffAccount, staff.reinvite_staff_account),
)


def register(server: RpcServer, deps: Deps) -> None:
    for model, handler in ROUTES:
        server.route(model)(_bound(handler, deps))


def _bound(handler: Handler, deps: Deps) -> Callable[[Any, RpcContext], Awaitable[BaseModel | None]]:
    async def serve(req: Any, ctx: RpcContext) -> BaseModel | None:
        return await handler(deps, req)

    serve.__name__ = handler.__name__
    return serve
