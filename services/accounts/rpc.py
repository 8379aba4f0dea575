"""Rpc endpoints of the accounts service: parse the contract, call the handler, reply."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ecandidat.contracts import accounts as c
from ecandidat.runtime.rpc import RpcContext, RpcServer

from . import ent, handlers, lost_links, sessions, staff
from .context import Deps

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
    c.EntStart: ent.ent_start,
    c.EntLogin: ent.ent_login,
    c.EntLink: ent.ent_link,
    c.EntLogout: ent.ent_logout,
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
        return await handler(deps, req)

    serve.__name__ = handler.__name__
    return serve
