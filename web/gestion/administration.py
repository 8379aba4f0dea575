"""Administration: the staff accounts with their roles and scopes (read by admin and scolarité,
created, changed and disabled by admins: the new member gets the set-up link by mail), the
student-records registry import and its report, the mail delivery log, and the events that could
not be handled (dead letters) with their replay."""

from __future__ import annotations

import asyncio
import re
import uuid
from urllib.parse import quote

from aiohttp import web

from ..api import Problem, chunks_of
from ..i18n import N_
from ..i18n import gettext as _
from ..pages import api, field_errors, read_form, read_upload, redirect, text_values
from .common import PREFIX, page, staff_allowed
from .roles import all_roles

routes = web.RouteTableDef()
COMPTES = f"{PREFIX}/administration/comptes"
FIELDS = ("email", "nom", "prenom", "roles", "centres", "commissions")


def _codes(value: str) -> list[str]:
    return [code.strip() for code in value.replace(";", ",").split(",") if code.strip()]


async def _page(request: web.Request, context: dict | None = None, status: int = 200) -> web.Response:
    await staff_allowed(request, "read_accounts")
    listed = await api(request).get(request, "/staff/accounts")
    return page(
        request,
        "gestion/comptes.html",
        {"accounts": listed["items"], "all_roles": all_roles(), "section": COMPTES, **(context or {})},
        status=status,
        title=_("Comptes du personnel"),
    )


@routes.get(COMPTES)
async def comptes(request: web.Request) -> web.Response:
    return await _page(request)


@routes.post(COMPTES)
async def invite(request: web.Request) -> web.Response:
    form = await read_form(request)
    email = form.get("email", "").strip()
    roles = [r for r in form.getall("roles", []) if isinstance(r, str)]
    body = {
        "email": email,
        "nom": form.get("nom", "").strip(),
        "prenom": form.get("prenom", "").strip(),
        "roles": roles,
        "centres": _codes(form.get("centres", "")),
        "commissions": _codes(form.get("commissions", "")),
    }
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
    await staff_allowed(request, "administer")
    recipient = request.query.get("destinataire", "").strip()[:320]
    scope = {"recipient": recipient} if recipient else {}
    failed, recent = await asyncio.gather(
        api(request).get(request, "/staff/mail/deliveries", status="failed", limit="200", **scope),
        api(request).get(request, "/staff/mail/deliveries", limit="100", **scope),
    )
    others = [d for d in recent["items"] if d["status"] != "failed"]
    return page(
        request,
        "gestion/courriels.html",
        {"failed": failed["items"], "others": others, "values": {"destinataire": recipient}, "section": COURRIELS},
        title=_("Journal des courriels"),
    )


# -- one staff account: roles, scopes, disabled ------------------------------------------------------

CHANGES = ("roles", "centres", "commissions")


def _account_id(request: web.Request) -> str:
    try:
        return str(uuid.UUID(request.match_info["account_id"]))
    except ValueError:
        raise web.HTTPNotFound() from None


async def _account_page(
    request: web.Request, account_id: str, context: dict | None = None, status: int = 200
) -> web.Response:
    await staff_allowed(request, "administer")
    account = await api(request).get(request, f"/staff/accounts/{account_id}")
    values = {
        "roles": account["roles"],
        "centres": ", ".join(account["centres"]),
        "commissions": ", ".join(account["commissions"]),
    }
    return page(
        request,
        "gestion/compte.html",
        {
            "account": account,
            "all_roles": all_roles(),
            "values": values,
            "errors": {},
            "section": COMPTES,
            **(context or {}),
        },
        status=status,
        title=f"{account['prenom']} {account['nom']}",
    )


@routes.get(COMPTES + "/{account_id}")
async def compte(request: web.Request) -> web.Response:
    return await _account_page(request, _account_id(request))


@routes.post(COMPTES + "/{account_id}")
async def change_account(request: web.Request) -> web.Response:
    account_id = _account_id(request)
    form = await read_form(request)
    body = {
        "roles": [r for r in form.getall("roles", []) if isinstance(r, str)],
        "centres": _codes(form.get("centres", "")),
        "commissions": _codes(form.get("commissions", "")),
    }
    try:
        reply = await api(request).call(request, "PATCH", f"/staff/accounts/{account_id}", json_body=body)
    except Problem as problem:
        if problem.status >= 500 or problem.status == 403:
            raise
        errors, summary = field_errors(problem, CHANGES)
        values = {**text_values(form, CHANGES), "roles": body["roles"]}
        return await _account_page(
            request, account_id, {"errors": errors, "problem": summary, "values": values}, status=problem.status
        )
    return redirect(f"{COMPTES}/{account_id}", "compte_modifie", reply.body["email"], request=request)


@routes.post(COMPTES + "/{account_id}/etat")
async def disable_account(request: web.Request) -> web.Response:
    """Disable the account (its sessions end, it cannot log in) or enable it again."""
    account_id = _account_id(request)
    form = await read_form(request)
    disabled = form.get("desactive") == "oui"
    try:
        reply = await api(request).call(
            request, "PATCH", f"/staff/accounts/{account_id}", json_body={"disabled": disabled}
        )
    except Problem as problem:
        if problem.status >= 500 or problem.status == 403:
            raise
        return redirect(f"{COMPTES}/{account_id}", "action_refusee", problem.detail, request=request)
    return redirect(
        f"{COMPTES}/{account_id}",
        "compte_desactive" if disabled else "compte_reactive",
        reply.body["email"],
        request=request,
    )


# -- the student-records registry ---------------------------------------------------------------------

REGISTRE = f"{PREFIX}/administration/registre"
CSV_LIMIT = 8 * 1024 * 1024 + 1  # the API refuses beyond 8 Mo; this only bounds the relay
_WHERE = re.compile(r"^Ligne (?P<ligne>\d+)(?:, colonne (?P<colonne>[^:]+?))? : (?P<message>.*)$", re.S)


def refused_lines(problem: Problem) -> list[dict[str, str]]:
    """The import's refusals as rows of the report: line, column, message."""
    rows = []
    for error in problem.errors:
        message = str(error.get("message") or "")
        where = _WHERE.match(message)
        rows.append(
            {"ligne": where["ligne"], "colonne": where["colonne"] or "", "message": where["message"]}
            if where
            else {"ligne": "", "colonne": error.get("field") or "", "message": message}
        )
    return rows


async def _registry_page(request: web.Request, context: dict | None = None, status: int = 200) -> web.Response:
    await staff_allowed(request, "administer")
    return page(
        request,
        "gestion/registre.html",
        {"section": REGISTRE, "values": {}, "errors": {}, **(context or {})},
        status=status,
        title=_("Registre des étudiants"),
    )


@routes.get(REGISTRE)
async def registre(request: web.Request) -> web.Response:
    return await _registry_page(request)


@routes.post(REGISTRE)
async def import_registry(request: web.Request) -> web.Response:
    """The CSV streamed to the API; its report (or the refused lines) shown on the page."""
    await staff_allowed(request, "administer")
    name = ""
    try:
        _fields, part = await read_upload(request)
        name = part.filename.strip()[:255]
        headers = {"Content-Type": "text/csv", "X-Filename": name if name.isascii() else quote(name)}
        reply = await api(request).call(
            request, "POST", "/staff/registre-etudiants", data=chunks_of(part, CSV_LIMIT), headers=headers
        )
    except Problem as problem:
        if problem.status >= 500 or problem.status == 403:
            raise
        report = {
            "fichier": name,
            "lignes": problem.body.get("lignes"),
            "lignes_en_erreur": problem.body.get("lignes_en_erreur"),
            "refus": refused_lines(problem),
        }
        return await _registry_page(request, {"problem": problem.detail, "refused": report}, status=problem.status)
    return await _registry_page(request, {"report": {"fichier": name, **reply.body}})


# -- events in failure (dead letters) ----------------------------------------------------------------

LETTRES = f"{PREFIX}/administration/lettres-mortes"
# The services whose letters are listed, by the name an operator knows them by.
SERVICES = {
    "accounts": N_("Comptes"),
    "dossiers": N_("Dossiers"),
    "candidatures": N_("Candidatures"),
    "documents": N_("Documents"),
    "mailer": N_("Courriels"),
    "webhooks": N_("Webhooks"),
}


@routes.get(LETTRES)
async def dead_letters(request: web.Request) -> web.Response:
    """The events no consumer could handle, newest first: what, when, why; each with its replay."""
    await staff_allowed(request, "administer")
    listed = await api(request).get(request, "/staff/dead-letters")
    return page(
        request,
        "gestion/lettres_mortes.html",
        {
            "letters": listed["items"],
            "services": SERVICES,
            "section": LETTRES,
            "missing": listed["services_sans_reponse"],
            "total": listed["total"],
            "per_service": listed["par_service"],
        },
        title=_("Événements en échec"),
    )


@routes.post(LETTRES + "/{service:[a-z][a-z0-9_]{0,39}}/{seq:[0-9]{1,18}}/rejeu")
async def replay(request: web.Request) -> web.Response:
    await read_form(request)
    service, seq = request.match_info["service"], request.match_info["seq"]
    try:
        await api(request).call(request, "POST", f"/staff/dead-letters/{service}/{seq}/replay")
    except Problem as problem:
        if problem.status >= 500 or problem.status == 403:
            raise
        return redirect(LETTRES, "action_refusee", problem.detail, request=request)
    named = _("n° %(seq)s du service %(service)s", seq=seq, service=_(SERVICES.get(service, service)))
    return redirect(LETTRES, "lettre_rejouee", named, request=request)
