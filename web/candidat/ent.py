"""Connexion via l'ENT: to the university's CAS login page and back, logged in.

- `/connexion/ent`: asks the API where the CAS login page is and sends the browser there; when the
  ENT does not answer, back to the login page, which says so.
- `/connexion/ent/retour?ticket=…` (the service URL registered at the CAS server): the API
  validates the ticket and opens the session (its cookies relayed); then the espace candidat,
  through a page that moves on by itself — a navigation started on this site, so that the
  session cookie (SameSite=Strict) goes with it although the way here started at the CAS server.
  When the ENT's address is that of an existing eCandidat account: `/connexion/ent/liaison`, where
  its owner types that account's password once to link the two.
"""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from ..api import Problem
from ..i18n import N_
from ..i18n import gettext as _
from ..pages import api, field_errors, read_form, redirect, relay_cookies, text_values
from ..render import render

routes = web.RouteTableDef()

# `/connexion?ent=<motif>`: what the login page says when the ENT did not let the person in.
MOTIFS = {
    "indisponible": N_(
        "La connexion via l'ENT est momentanément indisponible : le service d'authentification de l'université ne répond pas. Réessayez dans quelques minutes, ou connectez-vous avec votre compte eCandidat."
    ),
    "refusee": N_("Votre connexion via l'ENT n'a pas pu être validée. Cliquez de nouveau sur « Connexion via l'ENT »."),
    "attributs": N_(
        "L'ENT n'a pas transmis les informations nécessaires à la création de votre compte (adresse mail, nom, prénom). Contactez l'assistance de votre université, ou créez un compte eCandidat."
    ),
    "autre_compte": N_(
        "Le compte eCandidat qui porte votre adresse mail est déjà lié à un autre compte ENT. Contactez l'assistance."
    ),
    "desactivee": N_("La connexion via l'ENT n'est pas proposée par cet établissement."),
}


def _motif(problem: Problem) -> str:
    if problem.status in (503, 504):
        return "indisponible"
    if problem.status == 404:
        return "desactivee"
    if problem.status == 409:
        return "autre_compte"
    if any(e.get("code") == "ent_attributes_missing" for e in problem.errors):
        return "attributs"
    return "refusee"


def _back_to_login(motif: str) -> web.Response:
    return redirect("/connexion?" + urlencode({"ent": motif}))


@routes.get("/connexion/ent")
async def start(request: web.Request) -> web.Response:
    try:
        reply = await api(request).call(request, "GET", "/ent/connexion", public=True)
    except Problem as problem:
        return _back_to_login(_motif(problem))
    raise web.HTTPFound(reply.body["login_url"])


@routes.get("/connexion/ent/retour")
async def back(request: web.Request) -> web.Response:
    params = {"ticket": request.query.get("ticket", "")[:256], "session_cookie": "true"}
    try:
        reply = await api(request).call(request, "GET", "/ent/retour", params=params, public=True)
    except Problem as problem:
        return _back_to_login(_motif(problem))
    if reply.status == 200 and reply.body.get("liaison"):
        return redirect(
            "/connexion/ent/liaison?" + urlencode({"liaison": reply.body["liaison"], "email": reply.body["email"]})
        )
    return relay_cookies(reply, render(request, "candidat/ent_retour.html", {"suite": "/dossier"}))


@routes.get("/connexion/ent/liaison")
async def link_page(request: web.Request) -> web.Response:
    values = {"liaison": request.query.get("liaison", "")[:200], "email": request.query.get("email", "")[:254]}
    return render(
        request,
        "candidat/ent_liaison.html",
        {
            "values": values,
            "breadcrumb": [("/", _("Accueil")), ("/connexion", _("Connexion")), ("", _("Lier mon compte à l'ENT"))],
        },
    )


@routes.post("/connexion/ent/liaison")
async def link(request: web.Request) -> web.Response:
    form = await read_form(request)
    values = text_values(form, ("liaison", "email"))
    body = {"liaison": values.get("liaison", ""), "password": form.get("password", ""), "session_cookie": True}
    try:
        reply = await api(request).call(request, "POST", "/ent/liaison", json_body=body, public=True)
    except Problem as problem:
        errors, summary = field_errors(problem, ("password",))
        if not errors:
            errors = {"password": problem.detail}
        return render(
            request,
            "candidat/ent_liaison.html",
            {
                "values": values,
                "errors": errors,
                "problem": summary,
                "breadcrumb": [("/", _("Accueil")), ("/connexion", _("Connexion")), ("", _("Lier mon compte à l'ENT"))],
            },
            status=problem.status,
        )
    return relay_cookies(reply, redirect("/dossier"))
