"""Étapes 3 to 6 of the guide: my candidatures, one candidature (récapitulatif, pièces, transmission,
suivi, décision, confirmation or désistement, cancellation), the downloads.

Every action is a form post answered by a redirect (post/redirect/get). What is allowed comes from
the API (`can_transmit`, `can_change`, `can_confirm`…): a page offers an action only when the API
says it would accept it. A repeated post (double click, second tab) lands on the candidature with
what the first one did.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from aiohttp import web

from ecandidat.runtime.french import typographie

from ..api import Problem, chunks_of
from ..i18n import gettext as _
from ..i18n import until
from ..pages import api, fetch, me, read_form, read_upload, redirect
from ..render import render
from ..sections import to_complete
from ..session import SECURE, set_flash

routes = web.RouteTableDef()
# What the page forwards of one file at most; the API's own limit (5 Mo) is lower and it answers 413.
FORWARD_LIMIT = 64 * 1024 * 1024


def _id(request: web.Request, name: str = "id") -> str:
    try:
        return str(uuid.UUID(request.match_info[name]))
    except ValueError:
        raise web.HTTPNotFound() from None


def crumbs(candidature: dict[str, Any] | None = None, last: str | None = None) -> list[tuple[str, str]]:
    trail = [("/", _("Accueil")), ("/candidatures", _("Mes candidatures"))]
    if candidature is not None:
        trail.append((f"/candidatures/{candidature['id']}", candidature["formation_libelle"]))
    if last:
        trail.append(("", last))
    trail[-1] = ("", trail[-1][1])
    return trail


@routes.get("/candidatures")
async def candidatures(request: web.Request) -> web.Response:
    [mine] = await fetch(request, "/candidatures")
    return render(
        request,
        "candidat/candidatures.html",
        {
            "items": mine["items"],
            "section": "/candidatures",
            "breadcrumb": crumbs(),
        },
    )


def suivi(etapes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The API's steps (`/candidatures/{id}/suivi`) in the page's language: `when`, `what` and the
    staff's `comment`. Names of statuts, decisions and pieces stay as the API writes them."""
    fixed = {
        "creee": _("Candidature créée"),
        "transmise": _("Candidature transmise"),
        "confirmee": _("Candidature confirmée"),
        "desistement": _("Désistement"),
        "annulee": _("Candidature annulée"),
    }
    steps = []
    for e in etapes:
        kind = e["etape"]
        if kind in fixed:
            what = fixed[kind]
        elif kind == "statut":
            what = _("Statut du dossier : %(statut)s", statut=e["libelle"].split(" : ", 1)[-1])
        elif kind == "piece_validee":
            what = _("Pièce validée : %(piece)s", piece=e["piece"])
        elif kind == "piece_refusee":
            what = _("Pièce refusée : %(piece)s", piece=e["piece"])
        elif kind == "decision":
            what = _("Décision : %(decision)s", decision=e["libelle"].split(" : ", 1)[-1])
        elif kind == "rang_liste_complementaire":
            what = _("Liste complémentaire : vous êtes au rang %(rang)s", rang=e["rang"])
        elif kind == "date_limite_retour":
            what = _("Date limite de retour : %(date)s", date=until(e["date_limite_retour"]))
        else:
            what = e["libelle"]
        steps.append({"when": e["at"], "what": what, "comment": e.get("commentaire")})
    return steps


async def _candidature_page(request: web.Request, cid: str, *, status: int = 200, **context: Any) -> web.Response:
    """The candidature, its pieces (None when the API has none to list yet, or it is cancelled: the
    page says so) and its suivi, in one API call."""
    [detail] = await fetch(request, f"/candidatures/{cid}/detail")
    candidature = detail["candidature"]
    pieces = detail["pieces"] if candidature["statut"] != "annulee" else None
    return render(
        request,
        "candidat/candidature.html",
        {
            "c": candidature,
            "pieces": pieces,
            "history": suivi(detail["suivi"]["etapes"]),
            "section": "/candidatures",
            "breadcrumb": crumbs(candidature),
            "piece_errors": {},
            **context,
        },
        status=status,
    )


@routes.get("/candidatures/{id}")
async def candidature(request: web.Request) -> web.Response:
    return await _candidature_page(request, _id(request))


# -- pieces ------------------------------------------------------------------------------------------


def _wants_json(request: web.Request) -> bool:
    return request.headers.get("X-Requested-With") == "ecandidat"


@routes.post("/candidatures/{id}/pieces/{slot}/fichier")
async def upload(request: web.Request) -> web.StreamResponse:
    """A file from the page's form (multipart: the CSRF field first, then the file), streamed to the API."""
    cid, slot = _id(request), _id(request, "slot")
    try:
        _fields, part = await read_upload(request)
        name = part.filename.strip()
        headers = {"Content-Type": "application/octet-stream", "X-File-Name": quote(name[:500])}
        await api(request).call(
            request,
            "PUT",
            f"/candidatures/{cid}/pieces/{slot}/fichier",
            data=chunks_of(part, FORWARD_LIMIT),
            headers=headers,
        )
    except Problem as problem:
        if _wants_json(request):
            # shown by the page's script as text: typeset as what the page shows is (`typeset`)
            return web.json_response({"ok": False, "message": typographie(problem.detail)}, status=problem.status)
        return await _candidature_page(request, cid, status=problem.status, piece_errors={slot: problem.detail})
    target = f"/candidatures/{cid}#piece-{slot}"
    if _wants_json(request):
        reply = web.json_response({"ok": True, "redirect": target})
        set_flash(reply, "piece_deposee", name, secure=request.app[SECURE])
        return reply
    return redirect(target, "piece_deposee", name, request=request)


async def _piece_action(request: web.Request, method: str, path: str, flash: str, body: Any = None) -> web.Response:
    cid, slot = _id(request), _id(request, "slot")
    try:
        await api(request).call(request, method, f"/candidatures/{cid}/pieces/{slot}{path}", json_body=body)
    except Problem as problem:
        return await _candidature_page(request, cid, status=problem.status, piece_errors={slot: problem.detail})
    return redirect(f"/candidatures/{cid}#piece-{slot}", flash, request=request)


@routes.post("/candidatures/{id}/pieces/{slot}/suppression")
async def delete_piece(request: web.Request) -> web.Response:
    await read_form(request)
    return await _piece_action(request, "DELETE", "/fichier", "piece_supprimee")


@routes.post("/candidatures/{id}/pieces/{slot}/concerne")
async def concerned(request: web.Request) -> web.Response:
    form = await read_form(request)
    concerne = form.get("concerne") == "oui"
    return await _piece_action(
        request, "PUT", "/concerne", "piece_concernee" if concerne else "piece_non_concernee", {"concerne": concerne}
    )


async def download(request: web.Request) -> web.StreamResponse:
    """A file of the candidature, streamed from the API route of the same path: a piece's file, a
    piece's template, the candidature PDF, the decision's letter (once validated and made)."""
    _id(request)
    if "slot" in request.match_info:
        _id(request, "slot")
    return await api(request).stream(request, request.path)


for _path in (
    "/candidatures/{id}/pieces/{slot}/fichier",
    "/candidatures/{id}/pieces/{slot}/modele",
    "/candidatures/{id}/dossier.pdf",
    "/candidatures/{id}/lettre",
):
    routes.get(_path)(download)


# -- transmission, cancellation, confirmation, désistement ---------------------------------------

ACTIONS = {
    # page → (API path, flash, the reasons of a 409 that mean "already done": a repeated post)
    "transmission": ("/transmission", "candidature_transmise", {"deja_transmise"}),
    "annulation": ("/annulation", "candidature_annulee", {"deja_annulee"}),
    "confirmation": ("/confirmation", "admission_confirmee", {"deja_confirme"}),
    "desistement": ("/desistement", "desistement_enregistre", {"deja_desiste"}),
}
TITLES = {
    "transmission": "Transmettre ma candidature",
    "annulation": "Annuler la candidature",
    "desistement": "Désistement candidature",
}


@routes.get("/candidatures/{id}/{action:transmission|annulation|desistement}")
async def action_page(request: web.Request) -> web.Response:
    """The confirmation of an action that cannot be undone (the dialog of the page, without JavaScript)."""
    cid, action = _id(request), request.match_info["action"]
    [candidature] = await fetch(request, f"/candidatures/{cid}")
    return render(
        request,
        "candidat/action.html",
        {
            "c": candidature,
            "action": action,
            "section": "/candidatures",
            "breadcrumb": crumbs(candidature, _(TITLES[action])),
        },
    )


@routes.post("/candidatures/{id}/{action:transmission|annulation|confirmation|desistement}")
async def act(request: web.Request) -> web.Response:
    await read_form(request)
    cid, action = _id(request), request.match_info["action"]
    path, flash, repeated = ACTIONS[action]
    try:
        await api(request).call(request, "POST", f"/candidatures/{cid}{path}")
    except Problem as problem:
        if problem.reason in repeated:
            return redirect(f"/candidatures/{cid}", flash, request=request)
        await me(request)
        return await _candidature_page(
            request,
            cid,
            status=problem.status,
            action_error=problem.detail,
            reason=problem.reason,
            rubriques=to_complete(problem.body),
            missing=problem.body.get("missing") or problem.body.get("manquantes") or [],
        )
    return redirect(f"/candidatures/{cid}", flash, request=request)
