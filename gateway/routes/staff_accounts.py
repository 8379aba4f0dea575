"""Staff accounts and sessions: `/api/v1/staff/...` (password + TOTP, roles and scopes)."""

from __future__ import annotations

import uuid

from aiohttp import web

from ecandidat.contracts import accounts as c
from ecandidat.contracts.access import ACCOUNT_READERS, ADMINS, CENTRE_STAFF_READERS

from ..api import API_PREFIX, PRINCIPAL, Api, json_response, parse_body, path_uuid
from ..auth import client_address, previous_token, sessions_changed
from .accounts import Session, call, device_cookie, end_session, session_response

TAG = "comptes du personnel"
STAFF = f"{API_PREFIX}/staff"


class StaffLoginBody(c.StaffCredentials):
    session_cookie: bool = False


def _account_id(request: web.Request) -> uuid.UUID:
    return path_uuid(request, "account_id", "Ce compte de personnel")


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
        "GET", f"{STAFF}/me", summary="Mon compte de gestion", tag=TAG, response=c.StaffAccountView, realm="staff"
    )
    async def staff_me(request: web.Request) -> web.Response:
        return json_response(await call(request, c.GetStaffMe(principal=request[PRINCIPAL]), c.StaffAccountView))

    @api.route(
        "POST",
        f"{STAFF}/setup",
        summary="Activation : choisir son mot de passe (renvoie la clé TOTP)",
        tag=TAG,
        body=c.StaffSetup,
        response=c.TotpEnrolment,
        responses={410: "Lien inconnu ou expiré"},
    )
    async def staff_setup(request: web.Request) -> web.Response:
        body = await parse_body(request, c.StaffSetup)
        return json_response(await call(request, body, c.TotpEnrolment))

    @api.route(
        "POST",
        f"{STAFF}/setup/confirmation",
        summary="Activation : confirmer l'application d'authentification (renvoie les codes de secours)",
        tag=TAG,
        body=c.StaffSetupConfirm,
        response=c.RecoveryCodes,
        responses={410: "Lien inconnu ou expiré"},
    )
    async def staff_setup_confirm(request: web.Request) -> web.Response:
        body = await parse_body(request, c.StaffSetupConfirm)
        return json_response(await call(request, body, c.RecoveryCodes))

    @api.route(
        "POST",
        f"{STAFF}/me/recovery-codes",
        summary="Renouveler ses codes de secours (code TOTP requis)",
        tag=TAG,
        body=c.SecondFactor,
        response=c.RecoveryCodes,
        realm="staff",
    )
    async def renew_recovery_codes(request: web.Request) -> web.Response:
        body = await parse_body(request, c.SecondFactor)
        rpc_request = c.RenewRecoveryCodes(principal=request[PRINCIPAL], code=body.code)
        return json_response(await call(request, rpc_request, c.RecoveryCodes))

    @api.route(
        "POST",
        f"{STAFF}/accounts",
        summary="Créer un compte de personnel (mail d'activation)",
        tag=TAG,
        body=c.NewStaffAccount,
        response=c.StaffAccountView,
        status=201,
        realm="staff",
        roles=ADMINS,
        responses={409: "Adresse mail déjà utilisée"},
    )
    async def create_staff_account(request: web.Request) -> web.Response:
        body = await parse_body(request, c.NewStaffAccount)
        rpc_request = c.CreateStaffAccount(principal=request[PRINCIPAL], **body.model_dump())
        return json_response(await call(request, rpc_request, c.StaffAccountView), status=201)

    @api.route(
        "GET",
        f"{STAFF}/accounts",
        summary="Les comptes de personnel",
        tag=TAG,
        response=c.StaffAccounts,
        realm="staff",
        roles=ACCOUNT_READERS,
    )
    async def list_staff_accounts(request: web.Request) -> web.Response:
        rpc_request = c.ListStaffAccounts(principal=request[PRINCIPAL])
        return json_response(await call(request, rpc_request, c.StaffAccounts))

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
        return json_response(await call(request, rpc_request, c.StaffAccounts))

    @api.route(
        "GET",
        f"{STAFF}/accounts/{{account_id}}",
        summary="Un compte de personnel",
        tag=TAG,
        response=c.StaffAccountView,
        realm="staff",
        roles=ACCOUNT_READERS,
    )
    async def get_staff_account(request: web.Request) -> web.Response:
        rpc_request = c.GetStaffAccount(principal=request[PRINCIPAL], account_id=_account_id(request))
        return json_response(await call(request, rpc_request, c.StaffAccountView))

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
