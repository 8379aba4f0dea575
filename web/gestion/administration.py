"""Administration: the staff accounts with their roles and scopes (read by admin and scolarité,
created by admins: the new member gets the set-up link by mail), and the mail delivery log."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..api import Problem
from ..i18n import gettext as _
from ..pages import api, field_errors, read_form, redirect, text_values
from .common import PREFIX, can, page, staff_me
from .roles import STAFF_ROLES

routes = web.RouteTableDef()
COMPTES = f"{PREFIX}/administration/comptes"
FIELDS = ("email", "nom", "prenom", "roles", "centres", "commissions")


def _codes(value: str) -> list[str]:
    return [code.strip() for code in value.replace(";", ",").split(",") if code.strip()]


async def _page(request: web.Request, context: dict | None = None, status: int = 200) -> web.Response:
    await staff_me(request)
    if not can(request).read_accounts:
        raise Problem(403, "forbidden", _("Cette page est réservée aux administrateurs et à la scolarité."))
    listed = await api(request).get(request, "/staff/accounts")
    return page(request, "gestion/comptes.html", {"accounts": listed["items"], "all_roles": STAFF_ROLES,
                                                  "section": COMPTES, **(context or {})},
                status=status, title=_("Comptes du personnel"))


@routes.get(COMPTES)
async def comptes(request: web.Request) -> web.Response:
    return await _page(request)


@routes.post(COMPTES)
async def invite(request: web.Request) -> web.Response:
    form = await read_form(request)
    email = form.get("email", "").strip()
    roles = [r for r in form.getall("roles", []) if isinstance(r, str)]
    body = {"email": email, "nom": form.get("nom", "").strip(), "prenom": form.get("prenom", "").strip(), "roles": roles,
            "centres": _codes(form.get("centres", "")), "commissions": _codes(form.get("commissions", ""))}
    try:
        await api(request).call(request, "POST", "/staff/accounts", json_body=body)
    except Problem as problem:
        if problem.status >= 500 or problem.status == 403:
            raise
        errors, summary = field_errors(problem, FIELDS)
        values = {**text_values(form), "roles": roles}
        return await _page(request, {"errors": errors, "problem": summary, "values": values}, status=problem.status)
    return redirect(COMPTES, "compte_invite", email, request=request)


COURRIELS = f"{PREFIX}/administration/courriels"


@routes.get(COURRIELS)
async def deliveries(request: web.Request) -> web.Response:
    """The mail delivery log, failures first; a recipient narrows it."""
    await staff_me(request)
    if not can(request).administer:
        raise Problem(403, "forbidden", _("Cette page est réservée aux administrateurs."))
    recipient = request.query.get("destinataire", "").strip()[:320]
    scope = {"recipient": recipient} if recipient else {}
    failed, recent = await asyncio.gather(
        api(request).get(request, "/staff/mail/deliveries", status="failed", limit="200", **scope),
        api(request).get(request, "/staff/mail/deliveries", limit="100", **scope),
    )
    others = [d for d in recent["items"] if d["status"] != "failed"]
    return page(request, "gestion/courriels.html", {"failed": failed["items"], "others": others,
                                                    "values": {"destinataire": recipient}, "section": COURRIELS},
                title=_("Journal des courriels"))
