"""Connexion via l'ENT (CAS 3.0): `/api/v1/ent/...`, JSON only; the espace candidat's pages
(`/connexion/ent`, `/connexion/ent/retour`) drive the browser with them.

- `GET /api/v1/ent/connexion`: the CAS server's `/login` URL for the service URL
  `<PUBLIC_BASE_URL>/connexion/ent/retour` (the one to register at the university's CAS); 503 when
  the CAS server does not answer, 404 when ENT login is not offered.
- `GET /api/v1/ent/retour?ticket=ST-…`: the accounts service validates the ticket the CAS server
  gave the browser and opens the session exactly as the password login does (`session_cookie=true`:
  HttpOnly session cookie, CSRF cookie; the device cookie in any case). When the ENT's address is
  that of an existing eCandidat account, the answer is `liaison` instead: its owner proves the
  account's password once (`POST /api/v1/ent/liaison`).
- `POST /api/v1/ent/deconnexion-unique` with the form field `logoutRequest`: the CAS single logout
  (SLO), ending the session opened with the ticket it names (the logout URL to register). A CAS
  server posting its SLO to the service URL itself is answered too (`install_service_url_logout`).
"""

from __future__ import annotations

import secrets

from aiohttp import web
from pydantic import BaseModel, Field

from ecandidat.contracts import accounts as c
from ecandidat.contracts.errors import ErrorDetail, InvalidInput

from ..api import API_PREFIX, Api, json_response, parse_body
from ..auth import ENT_TAG, client_address, previous_token, sessions_changed
from ..keys import SETTINGS
from ..api import PRINCIPAL
from ..auth import CANDIDATE_ACCOUNTS_TAG
from .accounts import Session, call, device_cookie, ent_deletion_url, no_candidature_stands, session_response

TAG = ENT_TAG
SERVICE_PATH = "/connexion/ent/retour"  # the espace candidat's page the CAS server sends the browser back to


class EntLiaison(BaseModel):
    """The ENT's address is that of an existing eCandidat account: prove its password (`POST /ent/liaison`)."""

    liaison: str
    email: str


class EntLoginUrl(BaseModel):
    login_url: str
    service_url: str


class EntDeletionUrl(EntLoginUrl):
    """Where to confirm an account's deletion: the CAS login page, and the `etat` its way back carries
    (to send with the ticket)."""

    etat: str


class LinkBody(BaseModel):
    liaison: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)
    session_cookie: bool = False


def service_url(request: web.Request) -> str:
    return request.app[SETTINGS].public_base_url.rstrip("/") + SERVICE_PATH


def register(api: Api) -> None:
    @api.route(
        "POST",
        f"{API_PREFIX}/me/suppression/ent",
        summary="Supprimer mon compte créé avec l'ENT : l'adresse de la page du serveur CAS où se connecter "
        "de nouveau pour le confirmer (le ticket du retour est ensuite envoyé à POST /me/suppression)",
        tag=CANDIDATE_ACCOUNTS_TAG,
        response=EntDeletionUrl,
        realm="candidate",
        responses={
            404: "ENT non proposé",
            409: "Le compte a des candidatures : il ne peut pas être supprimé",
            503: "Serveur CAS injoignable",
        },
    )
    async def deletion_start(request: web.Request) -> web.Response:
        await no_candidature_stands(request, request[PRINCIPAL])
        etat = secrets.token_urlsafe(24)
        url = ent_deletion_url(request, etat) or ""
        reply = await call(request, c.EntStart(service_url=url, renew=True), c.EntRedirect)
        return json_response(EntDeletionUrl(login_url=reply.login_url, service_url=url, etat=etat))

    @api.route(
        "GET",
        f"{API_PREFIX}/ent/connexion",
        summary="Connexion via l'ENT : l'adresse de la page de connexion du serveur CAS",
        tag=TAG,
        response=EntLoginUrl,
        responses={404: "ENT non proposé", 503: "Serveur CAS injoignable"},
    )
    async def start(request: web.Request) -> web.Response:
        url = service_url(request)
        reply = await call(request, c.EntStart(service_url=url), c.EntRedirect)
        return json_response(EntLoginUrl(login_url=reply.login_url, service_url=url))

    @api.route(
        "GET",
        f"{API_PREFIX}/ent/retour",
        summary="Retour de l'ENT : validation du ticket CAS et ouverture de la session",
        tag=TAG,
        response=Session,
        status=201,
        query_parameters={
            "ticket": ({"type": "string", "maxLength": 256}, "ST-1-abcdef"),
            "session_cookie": ({"type": "boolean"}, True),
        },
        responses={
            200: ("Compte eCandidat existant à lier (mot de passe demandé)", EntLiaison),
            401: "Ticket invalide, déjà utilisé, expiré, pour un autre service, ou attributs manquants",
            404: "ENT non proposé",
            409: "Compte déjà lié à un autre compte ENT",
            503: "Serveur CAS injoignable",
        },
    )
    async def back(request: web.Request) -> web.Response:
        ticket = request.query.get("ticket", "")
        if not ticket or len(ticket) > 256:
            message = "Le retour de l'ENT ne porte pas de ticket valide."
            raise InvalidInput(message, code="unauthenticated", details=[ErrorDetail(field="ticket", message=message)])
        outcome = await call(
            request,
            c.EntLogin(
                ticket=ticket,
                service_url=service_url(request),
                client=client_address(request),
                previous_token=previous_token(request),
                device=device_cookie(request),
            ),
            c.EntOutcome,
        )
        if outcome.session is None:
            return json_response(EntLiaison(liaison=outcome.liaison or "", email=outcome.email or ""))
        cookie = request.query.get("session_cookie", "").lower() in ("true", "1")
        return await session_response(request, outcome.session, cookie)

    @api.route(
        "POST",
        f"{API_PREFIX}/ent/deconnexion-unique",
        summary="Déconnexion unique (SLO) envoyée par le serveur CAS",
        tag=TAG,
        status=204,
        content_types={"request": "application/x-www-form-urlencoded"},
        responses={400: "Requête de déconnexion illisible"},
    )
    async def single_logout(request: web.Request) -> web.Response:
        return await _single_logout(request)

    @api.route(
        "POST",
        f"{API_PREFIX}/ent/liaison",
        summary="Lier son compte eCandidat existant à l'ENT (mot de passe du compte)",
        tag=TAG,
        body=LinkBody,
        response=Session,
        status=201,
        responses={
            404: "ENT non proposé",
            410: "Demande de liaison expirée",
            422: "Mot de passe incorrect",
            429: "Trop de tentatives",
        },
    )
    async def link(request: web.Request) -> web.Response:
        body = await parse_body(request, LinkBody)
        issued = await call(
            request,
            c.EntLink(
                liaison=body.liaison,
                password=body.password,
                client=client_address(request),
                previous_token=previous_token(request),
                device=device_cookie(request),
            ),
            c.SessionIssued,
        )
        return await session_response(request, issued, body.session_cookie)


async def _single_logout(request: web.Request) -> web.Response:
    if request.content_type != "application/x-www-form-urlencoded":
        raise InvalidInput(
            "La requête de déconnexion unique (CAS) doit être un formulaire "
            "(Content-Type: application/x-www-form-urlencoded).",
            code="unsupported_media_type",
        )
    try:
        logout_request = (await request.post()).get("logoutRequest")
    except ValueError:
        logout_request = None
    if not isinstance(logout_request, str) or not logout_request.strip() or len(logout_request) > 20_000:
        raise InvalidInput("Requête de déconnexion unique (CAS) absente ou illisible.", code="bad_request")
    await call(request, c.EntLogout(logout_request=logout_request), c.Done)
    sessions_changed(request)
    return web.Response(status=204)


def install_service_url_logout(app: web.Application) -> None:
    """A CAS server posts its single logout to the service URL itself (a page's address): the
    gateway answers that POST before the pages' proxy; the page's GET still goes to the web process."""
    app.router.add_post(SERVICE_PATH, _single_logout)
