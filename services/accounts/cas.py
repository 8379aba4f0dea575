"""The CAS 3.0 protocol, client side: the login URL, the ticket validation, the single-logout request.

Validation is one GET of `<CAS>/p3/serviceValidate?service=…&ticket=…` with aiohttp (never blocking
the event loop) under ENT_TIMEOUT; the XML answer is parsed with defusedxml (no entity expansion,
no external resources). Every failure becomes a French refusal that names no internal detail:

| what happens | refusal |
|---|---|
| the CAS server does not answer, times out or answers garbage | `Unavailable` (503) "ENT indisponible" |
| `authenticationFailure` (INVALID_TICKET: unknown, replayed or expired; INVALID_SERVICE: a ticket for another service URL) | `Unauthenticated` (401) |
| success without the mail or the names | `Unauthenticated` (401), code `ent_attributes_missing` |
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from urllib.parse import urlencode

import aiohttp
from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException
from email_validator import EmailNotValidError, validate_email

from ecandidat.contracts.errors import ErrorDetail, Unauthenticated, Unavailable

from .settings import AccountsSettings

log = logging.getLogger(__name__)

CAS = "{http://www.yale.edu/tp/cas}"
SAML = "{urn:oasis:names:tc:SAML:2.0:protocol}"
MAX_ANSWER = 256 * 1024

ENT_UNAVAILABLE = (
    "La connexion via l'ENT est momentanément indisponible : le service d'authentification de "
    "l'université ne répond pas. Réessayez dans quelques minutes, ou connectez-vous avec votre compte eCandidat."
)
TICKET_REFUSED = (
    "Votre connexion via l'ENT n'a pas pu être validée (le ticket est invalide, a déjà servi ou a expiré). "
    "Cliquez de nouveau sur « Connexion via l'ENT »."
)
ATTRIBUTES_MISSING = (
    "L'ENT n'a pas transmis les informations nécessaires à la création de votre compte (adresse mail, nom, "
    "prénom). Contactez l'assistance de votre université, ou créez un compte eCandidat."
)


@dataclass(frozen=True)
class CasIdentity:
    uid: str
    email: str
    nom: str
    prenom: str
    ine: str | None


def login_url(cas_url: str, service_url: str, renew: bool = False) -> str:
    """The CAS /login page for `service_url`; `renew`: the credentials asked again, single sign-on or not."""
    query = {"service": service_url, **({"renew": "true"} if renew else {})}
    return f"{cas_url.rstrip('/')}/login?{urlencode(query)}"


async def validate(
    settings: AccountsSettings, http: aiohttp.ClientSession, service_url: str, ticket: str, renew: bool = False
) -> CasIdentity:
    """The identity a service ticket vouches for; `renew`: only a ticket issued on credentials typed
    for it (CAS 3.0 §2.5.1: the CAS server refuses a ticket of its single sign-on)."""
    assert settings.ent_cas_url
    url = f"{settings.ent_cas_url.rstrip('/')}/p3/serviceValidate"
    params = {"service": service_url, "ticket": ticket, **({"renew": "true"} if renew else {})}
    try:
        async with asyncio.timeout(settings.ent_timeout):
            async with http.get(url, params=params, allow_redirects=False) as answer:
                if answer.status != 200:
                    log.warning("CAS validation answered HTTP %s", answer.status)
                    raise Unavailable(ENT_UNAVAILABLE, code="unavailable")
                body = await answer.content.read(MAX_ANSWER + 1)
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        log.warning("CAS validation failed: %s", type(error).__name__)
        raise Unavailable(ENT_UNAVAILABLE, code="unavailable") from None
    if len(body) > MAX_ANSWER:
        raise Unavailable(ENT_UNAVAILABLE, code="unavailable")
    return parse_validation(settings, body)


def _xml(body: bytes | str):
    try:
        return ElementTree.fromstring(body)
    except (ElementTree.ParseError, DefusedXmlException, ValueError):
        return None


def parse_validation(settings: AccountsSettings, body: bytes) -> CasIdentity:
    root = _xml(body)
    if root is None or root.tag != f"{CAS}serviceResponse":
        log.warning("CAS validation answer is not a CAS serviceResponse")
        raise Unavailable(ENT_UNAVAILABLE, code="unavailable")
    failure = root.find(f"{CAS}authenticationFailure")
    if failure is not None:
        log.info("CAS refused the ticket", extra={"cas_code": failure.get("code")})
        raise Unauthenticated(
            TICKET_REFUSED,
            code="unauthenticated",
            details=[ErrorDetail(field="ticket", message=TICKET_REFUSED, code="ent_ticket_refused")],
        )
    success = root.find(f"{CAS}authenticationSuccess")
    uid = (success.findtext(f"{CAS}user") or "").strip() if success is not None else ""
    if not uid:
        raise Unavailable(ENT_UNAVAILABLE, code="unavailable")
    attributes: dict[str, str] = {}
    block = success.find(f"{CAS}attributes")
    for element in block if block is not None else []:
        name = element.tag.removeprefix(CAS)
        if element.text and element.text.strip() and name not in attributes:
            attributes[name] = element.text.strip()
    email = attributes.get(settings.ent_attribute_mail)
    nom = attributes.get(settings.ent_attribute_nom)
    prenom = attributes.get(settings.ent_attribute_prenom)
    if email and not _looks_like_mail(email):
        log.warning("CAS released a mail that is not an address")
        email = None
    if not (email and nom and prenom):
        missing = [
            n
            for n, v in (
                (settings.ent_attribute_mail, email),
                (settings.ent_attribute_nom, nom),
                (settings.ent_attribute_prenom, prenom),
            )
            if not v
        ]
        log.warning("CAS released no %s", ", ".join(missing))
        raise Unauthenticated(
            ATTRIBUTES_MISSING,
            code="unauthenticated",
            details=[ErrorDetail(field="ticket", message=ATTRIBUTES_MISSING, code="ent_attributes_missing")],
        )
    return CasIdentity(uid=uid, email=email, nom=nom, prenom=prenom, ine=attributes.get(settings.ent_attribute_ine))


def _looks_like_mail(value: str) -> bool:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return False
    return len(value) <= 254


def logout_session_index(logout_request: str) -> str | None:
    """The service ticket a SAML `LogoutRequest` (CAS single logout) names, if it is one."""
    root = _xml(logout_request)
    if root is None or root.tag != f"{SAML}LogoutRequest":
        return None
    index = (root.findtext(f"{SAML}SessionIndex") or "").strip()
    return index or None


async def check_reachable(settings: AccountsSettings, http: aiohttp.ClientSession) -> None:
    """Unavailable unless the CAS server's login page answers (before sending a browser there)."""
    assert settings.ent_cas_url
    try:
        async with asyncio.timeout(settings.ent_timeout):
            async with http.get(f"{settings.ent_cas_url.rstrip('/')}/login", allow_redirects=False) as answer:
                if answer.status < 500:
                    return
    except (aiohttp.ClientError, TimeoutError, OSError):
        pass
    log.warning("the CAS server does not answer")
    raise Unavailable(ENT_UNAVAILABLE, code="unavailable")
