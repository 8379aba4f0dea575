"""Candidate accounts and sessions: `/api/v1/accounts/...`, `/api/v1/sessions`, `/api/v1/me`.

A session ends after its idle timeout without a request, and after its lifetime in any case
(`GET /api/v1/sessions/policy`); `POST …/sessions/current/prolongation` (« Rester connecté ») starts
its idle timeout again and says when it will end.

A successful login (candidate or staff) also sets the device cookie `ecandidat_device` (HttpOnly,
Secure, SameSite=Strict, long-lived): the accounts service's random token marking the browser as
a known device of the account, which keeps logging in while the account is under attack
(`services/accounts/throttle.py`). Every login sends it back when the client has it.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from aiohttp import web
from pydantic import BaseModel

from ecandidat.contracts import accounts as c
from ecandidat.contracts.auth import Principal
from ecandidat.contracts.candidatures import CandidatureList, ListMyCandidatures
from ecandidat.contracts.errors import Conflict

from ..api import API_PREFIX, PRINCIPAL, Api, call, json_response, parse_body, relay
from ..auth import (
    CANDIDATE_ACCOUNTS_TAG,
    SESSION_TOKEN,
    clear_session_cookies,
    client_address,
    previous_token,
    sessions_changed,
    set_session_cookies,
)
from ..keys import SETTINGS
from ..sessions import ACCOUNT_VIEW
from . import PUBLIC, Rpc, register_rpcs, relay_kept

TAG = CANDIDATE_ACCOUNTS_TAG
DEVICE_COOKIE = "ecandidat_device"
# The espace candidat's page the CAS server sends the browser back to once the ENT account's owner
# has logged in again to confirm the deletion of an account created through the ENT.
ENT_DELETION_PATH = "/compte/suppression/ent/retour"
HAS_CANDIDATURES = (
    "Votre compte ne peut pas être supprimé : vous avez des candidatures. Annulez celles qui ne sont pas encore "
    "transmises ; les autres sont examinées puis conservées par l'établissement, et détruites au terme de leur "
    "durée de conservation après la fin de la campagne : votre compte pourra alors être supprimé. Pour toute "
    "question, contactez le centre de candidature de la formation."
)


class LoginBody(c.Credentials):
    session_cookie: bool = False


class Session(BaseModel):
    """A new session. `token` is absent when it was set as an HttpOnly cookie (`session_cookie: true`)."""

    token: str | None
    expires_at: datetime
    idle_timeout: int
    principal: Principal


def device_cookie(request: web.Request) -> str | None:
    """The device token the client holds, if it looks like one."""
    value = request.cookies.get(DEVICE_COOKIE)
    return value if value and len(value) <= 200 else None


async def session_response(request: web.Request, issued: c.SessionIssued, cookie: bool) -> web.Response:
    body = Session(
        token=None if cookie else issued.token,
        expires_at=issued.expires_at,
        idle_timeout=issued.idle_timeout,
        principal=issued.principal,
    )
    response = json_response(body, status=201)
    if cookie:
        set_session_cookies(response, issued)
    if issued.device:
        response.set_cookie(
            DEVICE_COOKIE,
            issued.device,
            max_age=issued.device_max_age,
            httponly=True,
            secure=True,
            samesite="Strict",
            path="/",
        )
    return response


async def prolong_session(request: web.Request) -> web.Response:
    return await relay(request, c.ProlongSession(token=request[SESSION_TOKEN]))


async def end_session(request: web.Request) -> web.Response:
    await call(request, c.Logout(token=request[SESSION_TOKEN]), c.Done)
    response = web.Response(status=204)
    clear_session_cookies(request, response)
    return response


LINKS = (  # anyone's requests about the links mailed to them: the body is the rpc request
    Rpc(
        "POST",
        f"{API_PREFIX}/accounts/activation",
        "activate_account",
        "Activer son compte avec le lien reçu par mail",
        None,
        c.AccountActivatedReply,
        body=c.ActivateAccount,
        responses={410: "Lien inconnu, déjà utilisé ou expiré"},
    ),
    Rpc(
        "POST",
        f"{API_PREFIX}/accounts/activation/resend",
        "resend_activation",
        "J'ai perdu mon code d'activation (même réponse que l'adresse ait un compte ou non)",
        None,
        c.Accepted,
        body=c.ResendActivation,
        status=202,
    ),
    Rpc(
        "POST",
        f"{API_PREFIX}/accounts/credentials",
        "request_credentials",
        "J'ai oublié mes identifiants : numéro de dossier et lien de nouveau mot de passe par mail",
        None,
        c.Accepted,
        body=c.RequestCredentials,
        status=202,
    ),
)


def ent_deletion_url(request: web.Request, etat: str | None) -> str | None:
    """The way back from the ENT for one confirmation: it carries the `etat` drawn for it, so that
    only the CAS login asked from this site's deletion form comes back as that confirmation."""
    if etat is None:
        return None
    return request.app[SETTINGS].public_base_url.rstrip("/") + ENT_DELETION_PATH + "?" + urlencode({"etat": etat})


async def no_candidature_stands(request: web.Request, principal: Principal) -> None:
    """An account is deleted only when none of its candidatures stands (all cancelled, or none)."""
    mine = await call(request, ListMyCandidatures(principal=principal), CandidatureList)
    if any(item.statut != "annulee" for item in mine.items):
        raise Conflict(HAS_CANDIDATURES, reason="candidatures")


def register(api: Api) -> None:
    @api.route(
        "POST",
        f"{API_PREFIX}/accounts",
        summary=(
            "Créer un compte candidat (mail d'activation ; si l'adresse a déjà un compte, la même "
            "réponse, et un mail « vous avez déjà un compte » à son titulaire)"
        ),
        tag=TAG,
        body=c.NewAccount,
        response=c.AccountCreatedReply,
        status=201,
        responses={429: "Trop de comptes créés depuis cette adresse réseau"},
    )
    async def create_account(request: web.Request) -> web.Response:
        body = await parse_body(request, c.NewAccount)
        rpc_request = c.CreateAccount(**body.model_dump(), client=client_address(request))
        return await relay(request, rpc_request, status=201)

    register_rpcs(api, LINKS, tag=TAG, realm=None)

    @api.route(
        "POST",
        f"{API_PREFIX}/accounts/password-reset",
        summary="Choisir un nouveau mot de passe avec le lien reçu (ferme toutes les sessions)",
        tag=TAG,
        body=c.ResetPassword,
        response=c.Done,
        responses={410: "Lien inconnu, déjà utilisé ou expiré"},
    )
    async def reset_password(request: web.Request) -> web.Response:
        body = await parse_body(request, c.ResetPassword)
        done = await call(request, body, c.Done)
        sessions_changed(request)
        return json_response(done)

    @api.route(
        "POST",
        f"{API_PREFIX}/accounts/email-confirmation",
        summary="Valider la nouvelle adresse mail avec le lien reçu",
        tag=TAG,
        body=c.ConfirmEmail,
        response=c.Done,
        responses={409: "Adresse prise entre-temps", 410: "Lien inconnu, déjà utilisé ou expiré"},
    )
    async def confirm_email(request: web.Request) -> web.Response:
        body = await parse_body(request, c.ConfirmEmail)
        done = await call(request, body, c.Done)
        sessions_changed(request)
        return json_response(done)

    @api.route(
        "POST",
        f"{API_PREFIX}/sessions",
        summary="Se connecter (numéro de dossier ou adresse mail)",
        tag=TAG,
        body=LoginBody,
        response=Session,
        status=201,
        responses={401: "Identifiant ou mot de passe incorrect", 403: "Compte non activé", 429: "Trop de tentatives"},
    )
    async def login(request: web.Request) -> web.Response:
        body = await parse_body(request, LoginBody)
        rpc_request = c.Login(
            login=body.login,
            password=body.password,
            client=client_address(request),
            previous_token=previous_token(request),
            device=device_cookie(request),
        )
        return await session_response(request, await call(request, rpc_request, c.SessionIssued), body.session_cookie)

    @api.route(
        "DELETE", f"{API_PREFIX}/sessions/current", summary="Se déconnecter", tag=TAG, status=204, realm="candidate"
    )
    async def logout(request: web.Request) -> web.Response:
        return await end_session(request)

    @api.route(
        "POST",
        f"{API_PREFIX}/sessions/current/prolongation",
        summary="Rester connecté : le délai d'inactivité de la session repart de maintenant (pas sa durée maximale)",
        tag=TAG,
        response=c.SessionState,
        realm="candidate",
    )
    async def prolong(request: web.Request) -> web.Response:
        return await prolong_session(request)

    @api.route(
        "GET",
        f"{API_PREFIX}/sessions/policy",
        summary="Durée des sessions (candidats et personnel) : délai d'inactivité et durée maximale, en secondes",
        tag=TAG,
        response=c.SessionPolicy,
    )
    async def session_policy(request: web.Request) -> web.Response:
        return await relay(request, c.GetSessionPolicy(), headers=PUBLIC)

    @api.route("GET", f"{API_PREFIX}/me", summary="Mon compte", tag=TAG, response=c.AccountView, realm="candidate")
    async def who_am_i(request: web.Request) -> web.Response:
        return await relay_kept(request, c.GetAccount(principal=request[PRINCIPAL]), ACCOUNT_VIEW)

    @api.route(
        "POST",
        f"{API_PREFIX}/me/email",
        summary="Changer d'adresse mail (lien de validation envoyé à la nouvelle ; déconnecte)",
        tag=TAG,
        body=c.NewEmail,
        response=c.Done,
        status=202,
        realm="candidate",
        responses={409: "Adresse mail déjà utilisée"},
    )
    async def change_email(request: web.Request) -> web.Response:
        body = await parse_body(request, c.NewEmail)
        reply = await call(request, c.ChangeEmail(principal=request[PRINCIPAL], **body.model_dump()), c.Done)
        response = json_response(reply, status=202)
        clear_session_cookies(request, response)
        return response

    @api.route(
        "POST",
        f"{API_PREFIX}/me/suppression",
        summary="Supprimer mon compte et mon dossier, sans candidature autre qu'annulée (mail de confirmation ; déconnecte)",
        tag=TAG,
        body=c.AccountDeletion,
        response=c.Done,
        realm="candidate",
        responses={409: "Le compte a des candidatures : il ne peut pas être supprimé"},
    )
    async def delete_account(request: web.Request) -> web.Response:
        body = await parse_body(request, c.AccountDeletion)
        principal = request[PRINCIPAL]
        await no_candidature_stands(request, principal)
        deletion = c.DeleteAccount(
            principal=principal, **body.model_dump(), ent_service_url=ent_deletion_url(request, body.ent_etat)
        )
        reply = await call(request, deletion, c.Done)
        response = json_response(reply)
        clear_session_cookies(request, response)
        return response
