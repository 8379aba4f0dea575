"""Rpc endpoints of the accounts service: the table of requests and the handlers that answer them."""

from __future__ import annotations

from ecandidat.contracts import accounts as c
from ecandidat.runtime.rpc import Route, RpcServer, register_routes, route

from . import ent, handlers, lost_links, sessions, staff
from .context import Deps

ROUTES: tuple[Route, ...] = (
    route(c.CreateAccount, handlers.create_account),
    route(c.ActivateAccount, handlers.activate_account),
    route(c.ResendActivation, lost_links.resend_activation),
    route(c.RequestCredentials, lost_links.request_credentials),
    route(c.ResetPassword, handlers.reset_password),
    route(c.GetAccount, handlers.get_account),
    route(c.ChangeEmail, handlers.change_email),
    route(c.ConfirmEmail, handlers.confirm_email),
    route(c.DeleteAccount, handlers.delete_account),
    route(c.Login, sessions.login),
    route(c.ResolveSession, sessions.resolve_session),
    route(c.Logout, sessions.logout),
    route(c.ProlongSession, sessions.prolong_session),
    route(c.GetSessionPolicy, sessions.session_policy),
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
    register_routes(server, deps, ROUTES)
