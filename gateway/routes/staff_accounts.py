"""Staff accounts and sessions: `/api/v1/staff/...` (password + TOTP, roles and scopes)."""

from __future__ import annotations

import uuid

from aiohttp import web

from ecandidat.contracts import accounts as c
from ecandidat.contracts.access import ACCOUNT_READERS, ADMINS, CENTRE_STAFF_READERS

from ..api import API_PREFIX, PRINCIPAL, Api, json_response, parse_body, path_uuid, relay
from ..auth import STAFF_ACCOUNTS_TAG, client_address, previous_token, sessions_changed
from . import PathId, Rpc, register_rpcs
from .accounts import Session, call, device_cookie, end_session, prolong_session, session_response

TAG = STAFF_ACCOUNTS_TAG
STAFF = f"{API_PREFIX}/staff"


class StaffLoginBody(c.StaffCredentials):
    session_cookie: bool = False


STAFF_ACCOUNT = PathId("account_id", "Ce compte de personnel")
LINK_GONE = {410: "Lien inconnu ou expiré"}

STAFF_ACCOUNTS = (
    Rpc("GET", f"{STAFF}/me", "staff_me", "Mon compte de gestion", c.GetStaffMe, c.StaffAccountView),
    Rpc(
        "POST",
        f"{STAFF}/setup",
        "staff_setup",
        "Activation : choisir son mot de passe (renvoie la clé TOTP)",
        None,
        c.TotpEnrolment,
        body=c.StaffSetup,
        responses=LINK_GONE,
        public=True,
    ),
    Rpc(
        "POST",
        f"{STAFF}/setup/confirmation",
        "staff_setup_confirm",
        "Activation : confirmer l'application d'authentification (renvoie les codes de secours)",
        None,
        c.RecoveryCodes,
        body=c.StaffSetupConfirm,
        responses=LINK_GONE,
        public=True,
    ),
    Rpc(
        "POST",
        f"{STAFF}/me/recovery-codes",
        "renew_recovery_codes",
        "Renouveler ses codes de secours (code TOTP requis)",
        c.RenewRecoveryCodes,
        c.RecoveryCodes,
        body=c.SecondFactor,
    ),
    Rpc(
        "POST",
        f"{STAFF}/accounts",
        "create_staff_account",
        "Créer un compte de personnel (mail d'activation)",
        c.CreateStaffAccount,
        c.StaffAccountView,
        body=c.NewStaffAccount,
        status=201,
        roles=ADMINS,
        responses={409: "Adresse mail déjà utilisée"},
    ),
    Rpc(
        "GET",
        f"{STAFF}/accounts",
        "list_staff_accounts",
        "Les comptes de personnel",
        c.ListStaffAccounts,
        c.StaffAccounts,
        roles=ACCOUNT_READERS,
    ),
    Rpc(
        "GET",
        f"{STAFF}/accounts/{{account_id}}",
        "get_staff_account",
        "Un compte de personnel",
        c.GetStaffAccount,
        c.StaffAccountView,
        roles=ACCOUNT_READERS,
    ),
)


def _account_id(request: web.Request) -> uuid.UUID:
    return path_uuid(request, STAFF_ACCOUNT.name, STAFF_ACCOUNT.what)


def register(api: Api) -> None:
    @api.route(
        "POST",
        f"{STAFF}/sessions",
        summary="Connexion du personnel (mot de passe et code TOTP ou de secours)",
        tag=TAG,
        body=StaffLoginBody,
        response=Session,
        status=201,
        responses={401: "Identifiants ou code incorrects", 403: "Compte désactivé", 429: "Trop de tentatives"},
    )
    async def staff_login(request: web.Request) -> web.Response:
        body = await parse_body(request, StaffLoginBody)
        rpc_request = c.StaffLogin(
            email=body.email,
            password=body.password,
            code=body.code,
            client=client_address(request),
            previous_token=previous_token(request),
            device=device_cookie(request),
        )
        return await session_response(request, await call(request, rpc_request, c.SessionIssued), body.session_cookie)

    @api.route(
        "DELETE", f"{STAFF}/sessions/current", summary="Déconnexion du personnel", tag=TAG, status=204, realm="staff"
    )
    async def staff_logout(request: web.Request) -> web.Response:
        return await end_session(request)

    @api.route(
        "POST",
        f"{STAFF}/sessions/current/prolongation",
        summary="Rester connecté (personnel) : le délai d'inactivité de la session repart de maintenant",
        tag=TAG,
        response=c.SessionState,
        realm="staff",
    )
    async def staff_prolong(request: web.Request) -> web.Response:
        return await prolong_session(request)

    register_rpcs(api, STAFF_ACCOUNTS, tag=TAG, realm="staff", path_id=STAFF_ACCOUNT)

    @api.route(
        "GET",
        f"{STAFF}/centres/{{centre}}/staff",
        summary="Les personnels d'un centre de candidature",
        tag=TAG,
        response=c.StaffAccounts,
        realm="staff",
        roles=CENTRE_STAFF_READERS,
    )
    async def list_centre_staff(request: web.Request) -> web.Response:
        rpc_request = c.ListStaffAccounts(principal=request[PRINCIPAL], centre=request.match_info["centre"][:40])
        return await relay(request, rpc_request)

    @api.route(
        "PATCH",
        f"{STAFF}/accounts/{{account_id}}",
        summary="Changer les rôles, périmètres ou l'état d'un compte de personnel",
        tag=TAG,
        body=c.StaffAccountChanges,
        response=c.StaffAccountView,
        realm="staff",
        roles=ADMINS,
        responses={409: "Un administrateur ne peut ni se retirer le rôle admin ni se désactiver"},
    )
    async def update_staff_account(request: web.Request) -> web.Response:
        body = await parse_body(request, c.StaffAccountChanges)
        rpc_request = c.UpdateStaffAccount(
            principal=request[PRINCIPAL], account_id=_account_id(request), **body.model_dump(exclude_unset=True)
        )
        view = await call(request, rpc_request, c.StaffAccountView)
        sessions_changed(request, rpc_request.account_id)
        return json_response(view)

    @api.route(
        "POST",
        f"{STAFF}/accounts/{{account_id}}/invitation",
        summary="Réinitialiser les identifiants d'un personnel et lui renvoyer un lien d'activation",
        tag=TAG,
        response=c.StaffAccountView,
        status=202,
        realm="staff",
        roles=ADMINS,
    )
    async def reinvite_staff_account(request: web.Request) -> web.Response:
        rpc_request = c.ReinviteStaffAccount(principal=request[PRINCIPAL], account_id=_account_id(request))
        view = await call(request, rpc_request, c.StaffAccountView)
        sessions_changed(request, rpc_request.account_id)
        return json_response(view, status=202)
