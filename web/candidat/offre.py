"""The home page with the offer, the offer tree (centre → type de diplôme → formation) and
"Voulez-vous candidater à la formation '…' ?" (Étape 3 of the guide)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..api import Problem
from ..i18n import gettext as _
from ..pages import api, me, read_form, redirect
from ..render import render
from ..sections import to_complete
from ..session import has_session_cookie

routes = web.RouteTableDef()


def find_formation(offre: dict[str, Any], code: str) -> tuple[dict, dict, dict] | None:
    for centre in offre.get("centres", []):
        for type_ in centre.get("types", []):
            for formation in type_.get("formations", []):
                if formation["code"] == code:
                    return centre, type_, formation
    return None


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    offre = await api(request).get(request, "/offre")
    return render(request, "candidat/accueil.html", {"offre": offre, "section": "/"})


@routes.get("/offre")
async def offer(request: web.Request) -> web.Response:
    offre = await api(request).get(request, "/offre")
    if has_session_cookie(request):
        await me(request)
    return render(
        request,
        "candidat/offre.html",
        {
            "offre": offre,
            "section": "/offre",
            "ouvert": request.query.get("centre"),
            "breadcrumb": [("/", _("Accueil")), ("", _("Offre de formation"))],
        },
    )


async def _confirmation(request: web.Request, code: str, status: int = 200, **context: Any) -> web.Response:
    offre = await api(request).get(request, "/offre")
    found = find_formation(offre, code)
    if found is None:
        raise web.HTTPNotFound()
    centre, type_, formation = found
    return render(
        request,
        "candidat/candidater.html",
        {
            "centre": centre,
            "type": type_,
            "formation": formation,
            "section": "/offre",
            "breadcrumb": [("/", _("Accueil")), ("/offre", _("Offre de formation")), ("", formation["libelle"])],
            **context,
        },
        status=status,
    )


@routes.get("/offre/{code}/candidater")
async def apply_page(request: web.Request) -> web.Response:
    await me(request, fresh=True)  # applying needs an account: the login page first, then back here
    return await _confirmation(request, request.match_info["code"])


@routes.post("/offre/{code}/candidater")
async def apply(request: web.Request) -> web.Response:
    await read_form(request)
    code = request.match_info["code"]
    try:
        reply = await api(request).call(request, "POST", "/candidatures", json_body={"formation_code": code})
    except Problem as problem:
        if problem.reason == "deja_candidat":  # a second click, or a second tab: show the one there is
            mine = await api(request).get(request, "/candidatures")
            for item in reversed(mine.get("items", [])):  # the newest: this campaign's
                if item["formation_code"] == code and item["statut"] != "annulee":
                    return redirect(f"/candidatures/{item['id']}", "deja_candidat", request=request)
        if problem.status == 404:
            raise web.HTTPNotFound() from None
        await me(request)
        return await _confirmation(
            request,
            code,
            problem=problem.detail,
            reason=problem.reason,
            rubriques=to_complete(problem.body),
            status=problem.status,
        )
    return redirect(f"/candidatures/{reply.body['id']}", "candidature_creee", request=request)
