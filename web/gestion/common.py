"""What every page of the espace gestion shares: the staff member (`/staff/me`), what their roles
let them do (`Can`), the layout's navigation."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..api import Problem
from ..i18n import N_
from ..i18n import gettext as _
from ..pages import RECENT, api, session_key
from ..render import USER, render
from .roles import Can, role_label

PREFIX = "/personnel"
LOGIN = f"{PREFIX}/connexion"
CAN = web.RequestKey("staff_can", Can)


async def staff_me(request: web.Request) -> dict[str, Any]:
    """The logged-in staff member; no session (or an expired one) goes to the staff login page."""
    if USER not in request:
        key = session_key(request)
        cache_key = f"staff:{key}" if key else None
        cached = request.app[RECENT].get(cache_key) if cache_key else None
        if cached is None:
            cached = await api(request).get(request, "/staff/me")
            if cache_key:
                request.app[RECENT].put(cache_key, cached)
        request[USER] = cached
        request[CAN] = Can.of(cached)
    return request[USER]


RESERVED = {
    "administer": N_("Cette page est réservée aux administrateurs."),
    "administer_offer": N_("Cette page est réservée aux administrateurs et à la scolarité."),
    "read_accounts": N_("Cette page est réservée aux administrateurs et à la scolarité."),
}


async def staff_allowed(request: web.Request, permission: str) -> dict[str, Any]:
    """The staff member, when their roles give them this page (`Can.<permission>`); else the 403 page."""
    me = await staff_me(request)
    if not getattr(can(request), permission):
        raise Problem(403, "forbidden", _(RESERVED[permission]))
    return me


def can(request: web.Request) -> Can:
    return request.get(CAN) or Can(())


def navigation(request: web.Request) -> list[tuple[str, str]]:
    items = [(PREFIX, _("Tableau de bord"))]
    if USER in request:
        items.append((f"{PREFIX}/candidatures", _("Candidatures")))
        allowed = can(request)
        if allowed.administer_offer:
            items.append((f"{PREFIX}/administration/offre", _("Offre de formation")))
        if allowed.read_accounts:
            items.append((f"{PREFIX}/administration/comptes", _("Comptes du personnel")))
        if allowed.administer:
            items.append((f"{PREFIX}/administration/registre", _("Registre des étudiants")))
            items.append((f"{PREFIX}/administration/courriels", _("Journal des courriels")))
            items.append((f"{PREFIX}/administration/lettres-mortes", _("Événements en échec")))
    return items


def page(
    request: web.Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    title: str | None = None,
) -> web.Response:
    """A page of the espace gestion: its header (name, logout), its menu, what the person may do,
    and `role_label` for the roles it names."""
    crumbs = [(PREFIX, _("Espace gestion"))] + ([("", title)] if title else [])
    base = {
        "espace": "gestion",
        "nav": navigation(request),
        "can": can(request),
        "breadcrumb": crumbs,
        "role_label": role_label,
    }
    return render(request, template, {**base, **(context or {})}, status=status)
