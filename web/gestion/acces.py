"""Access to the espace gestion: the set-up from the invitation link (choose the password, enrol
the authenticator app with the QR code shown here, keep the recovery codes shown once), the login
with password and TOTP or recovery code, the logout, the dashboard."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import quote

import segno
from aiohttp import web

from ..api import Problem
from ..i18n import gettext as _
from ..pages import api, field_errors, log_out, read_form, redirect, relay_cookies, session_key, text_values
from ..session import safe_next
from .candidatures import DECISIONS, STATUTS, campagnes
from .common import LOGIN, PREFIX, can, page, staff_me

TABLEAU_STATUTS = ("en_attente", "receptionne", "incomplet", "complet", "annulee")

routes = web.RouteTableDef()
INSTALLATION = f"{PREFIX}/installation"
_SECRET = re.compile(r"^[A-Z2-7]{16,128}$")


def qr_code(uri: str) -> str:
    """The otpauth URI as an SVG QR code (a data: URL for an <img>, which the page's CSP allows)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=4)


def _enrolment(secret: str, uri: str) -> dict[str, str] | None:
    if not _SECRET.match(secret) or not uri.startswith("otpauth://totp/") or len(uri) > 1000:
        return None
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return {"secret": secret, "grouped": grouped, "uri": uri, "qr": qr_code(uri)}


def _setup_page(request: web.Request, step: str, context: dict, status: int = 200) -> web.Response:
    return page(
        request,
        "gestion/installation.html",
        {"step": step, **context},
        status=status,
        title=_("Activation de votre compte de gestion"),
    )


@routes.get(INSTALLATION)
async def installation_page(request: web.Request) -> web.Response:
    token = request.query.get("jeton", "").strip()
    if not token:
        problem = _("Ce lien est incomplet : copiez-collez l'adresse entière reçue par courriel.")
        return _setup_page(request, "lien", {"problem": problem}, status=400)
    return _setup_page(request, "mot_de_passe", {"jeton": token})


@routes.post(INSTALLATION)
async def installation(request: web.Request) -> web.Response:
    form = await read_form(request)
    token = form.get("jeton", "").strip()
    body = {
        "token": token,
        "password": form.get("password", ""),
        "password_confirmation": form.get("password_confirmation", ""),
    }
    try:
        reply = await api(request).call(request, "POST", "/staff/setup", json_body=body, public=True)
    except Problem as problem:
        if problem.status == 410 or problem.by_field().get("token"):
            return _setup_page(request, "lien", {"problem": problem.detail}, status=problem.status)
        errors, summary = field_errors(problem, ("password", "password_confirmation"))
        return _setup_page(
            request, "mot_de_passe", {"jeton": token, "errors": errors, "problem": summary}, status=problem.status
        )
    enrolment = _enrolment(reply.body["totp_secret"], reply.body["otpauth_uri"])
    return _setup_page(request, "totp", {"jeton": token, "totp": enrolment})


@routes.post(f"{INSTALLATION}/confirmation")
async def confirmation(request: web.Request) -> web.Response:
    form = await read_form(request)
    token = form.get("jeton", "").strip()
    enrolment = _enrolment(form.get("secret", ""), form.get("uri", ""))
    try:
        reply = await api(request).call(
            request,
            "POST",
            "/staff/setup/confirmation",
            json_body={"token": token, "code": form.get("code", "").strip()},
            public=True,
        )
    except Problem as problem:
        if problem.status == 410 or enrolment is None:
            return _setup_page(request, "lien", {"problem": problem.detail}, status=problem.status)
        errors, summary = field_errors(problem, ("code",))
        return _setup_page(
            request,
            "totp",
            {"jeton": token, "totp": enrolment, "errors": errors or {"code": summary}, "problem": summary},
            status=problem.status,
        )
    # Shown once, never kept: the page is `no-store` and the codes are in no URL.
    return _setup_page(request, "codes", {"codes": reply.body["recovery_codes"]})


@routes.get(LOGIN)
async def login_page(request: web.Request) -> web.Response:
    values = {"email": request.query.get("email", ""), "suite": safe_next(request.query.get("suite"), PREFIX)}
    return page(request, "gestion/connexion.html", {"values": values}, title=_("Connexion"))


@routes.post(LOGIN)
async def login(request: web.Request) -> web.Response:
    form = await read_form(request)
    values = text_values(form, ("email", "suite"))
    suite = safe_next(values.get("suite"), PREFIX)
    if not suite.startswith(PREFIX):
        suite = PREFIX
    body = {
        "email": form.get("email", "").strip(),
        "password": form.get("password", ""),
        "code": form.get("code", "").strip(),
        "session_cookie": True,
    }
    try:
        reply = await api(request).call(request, "POST", "/staff/sessions", json_body=body, public=True)
    except Problem as problem:
        errors, summary = field_errors(problem, ("email", "password", "code"))
        if not errors and problem.status in (401, 403, 429):
            errors = {"code": problem.detail}
        return page(
            request,
            "gestion/connexion.html",
            {"values": values, "errors": errors, "problem": summary},
            status=problem.status,
            title=_("Connexion"),
        )
    return relay_cookies(reply, redirect(suite))


@routes.post(f"{PREFIX}/deconnexion")
async def logout(request: web.Request) -> web.Response:
    key = session_key(request)
    return await log_out(request, "/staff/sessions/current", LOGIN, f"staff:{key}" if key else None)


@routes.get(PREFIX)
async def dashboard(request: web.Request) -> web.Response:
    """Where each formation of one's centres and commissions stands (`/staff/candidatures/tableau`)."""
    me, offre, known = await asyncio.gather(staff_me(request), api(request).get(request, "/offre"), campagnes(request))
    allowed = can(request)
    centres = [c for c in offre.get("centres", []) if allowed.sees_centre(c["code"])]
    commissions = sorted(me.get("commissions") or ()) if not allowed.everywhere else []
    # Another campaign than the default one, when one known is chosen.
    code = request.query.get("campagne_code", "")
    chosen = {"campagne_code": code} if code in known.by_code else {}
    selections = [{"centre_code": c["code"]} for c in centres] + [{"commission_code": c} for c in commissions]
    tableaux = await asyncio.gather(
        *(api(request).get(request, "/staff/candidatures/tableau", **selection, **chosen) for selection in selections)
    )
    items = [t["items"] for t in tableaux]
    shown = known.by_code.get(tableaux[0]["campagne_code"]) if tableaux else known.default
    return page(
        request,
        "gestion/accueil.html",
        {
            "centres": list(zip(centres, items[: len(centres)])),
            "commissions": list(zip(commissions, items[len(centres) :])),
            "campagne": shown,
            "campagne_qs": f"&campagne_code={quote(code, safe='')}" if chosen else "",
            "campagne_choices": known.choices(),
            "campagne_defaut": known.placeholder(),
            "campagne_archivee": known.archived(shown["code"]) if shown else None,
            "values": chosen,
            "statut_columns": [(code, _(STATUTS[code])) for code in TABLEAU_STATUTS],
            "decision_codes": list(DECISIONS),
            "decision_label": lambda code: _(DECISIONS[code]),
            "section": PREFIX,
            "breadcrumb": None,
        },
    )
