"""Étape 2 of the guide: the dossier, its sections in order with their completeness, each section's
form (If-Match: the version read, so that another tab's save is never overwritten blindly).

The fields of each form are what the API's section bodies accept (OpenAPI `PUT /dossier/sections/*`);
the rules (required fields, formats, the order of sections, the lock after a first candidature)
are the API's: its refusals are shown next to the fields they name.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from ..api import Problem
from ..i18n import gettext as _
from ..pages import api, fetch, field_errors, me, read_form, redirect, text_values
from ..render import render
from ..sections import BY_SLUG, SECTIONS, Section

routes = web.RouteTableDef()


def sidemenu(current: str | None) -> list[dict[str, Any]]:
    return [{"href": f"/dossier/{s.slug}", "label": _(s.label), "current": s.slug == current} for s in SECTIONS]


def crumbs(section: Section | None = None) -> list[tuple[str, str]]:
    trail = [("/", _("Accueil")), ("/dossier", _("Mon dossier"))]
    if section is not None:
        trail.append(("", _(section.label)))
    else:
        trail[-1] = ("", _("Mon dossier"))
    return trail


def next_section(section: Section) -> str:
    index = SECTIONS.index(section)
    return f"/dossier/{SECTIONS[index + 1].slug}" if index + 1 < len(SECTIONS) else "/dossier"


# -- the dossier -----------------------------------------------------------------------------------


@routes.get("/dossier")
async def dossier(request: web.Request) -> web.Response:
    [view] = await fetch(request, "/dossier")
    sections = {s["section"]: s for s in view["sections"]}
    rows = [{"section": s, "view": sections.get(s.slug.replace("-", "_"), {})} for s in SECTIONS]
    return render(
        request,
        "candidat/dossier.html",
        {
            "dossier": view,
            "rows": rows,
            "menu": sidemenu(None),
            "section": "/dossier",
            "breadcrumb": crumbs(),
        },
    )


# -- one section -------------------------------------------------------------------------------------


async def _read(request: web.Request, section: Section) -> tuple[dict[str, Any], int, dict[str, Any]]:
    reply, referentiels, _user = await asyncio.gather(
        api(request).call(request, "GET", f"/dossier/sections/{section.slug}"),
        api(request).get(request, "/referentiels"),
        me(request),
    )
    return reply.body, int(reply.headers.get("ETag", '"0"').strip('W/"') or 0), referentiels


def _values_of(section: Section, donnees: dict[str, Any] | None) -> dict[str, str]:
    if not donnees or section.listed:
        return {}
    values = {k: "" if v is None else str(v) for k, v in donnees.items() if not isinstance(v, list)}
    for index, item in enumerate(donnees.get("specialites") or []):
        values[f"specialites.{index}"] = item
    return values


async def _communes(request: web.Request, query: str, departement: str = "") -> list[dict[str, Any]]:
    query = query.strip()
    if not query:
        return []
    params = {"code_postal": query} if query.isdigit() and len(query) == 5 else {"nom": query}
    if departement and "nom" in params:
        params["departement"] = departement
    params["limit"] = "30"
    try:
        return (await api(request).get(request, "/referentiels/communes", **params))["items"]
    except Problem:
        return []


async def _known_commune(request: web.Request, code: str, departement: str) -> list[dict[str, Any]]:
    """The saved commune as the one option of its list, named (looked up by its INSEE code)."""
    if not code:
        return []
    try:
        found = (await api(request).get(request, "/referentiels/communes", code=code))["items"]
    except Problem:  # a code the lookup refuses: shown as it was saved
        found = []
    return found or [
        {"code": code, "nom": _("commune %(code)s", code=code), "codes_postaux": [], "departement": departement}
    ]


async def _commune_lists(
    request: web.Request, section: Section, values: dict[str, str]
) -> dict[str, list[dict[str, Any]]]:
    lists: dict[str, list[dict[str, Any]]] = {}
    for field, departement_field in section.communes:
        search = values.get(f"{field}__recherche", "")
        departement = values.get(departement_field, "") if departement_field else ""
        found = await _communes(request, search, departement) if search else []
        current = values.get(field, "")
        if current and not any(c["code"] == current for c in found):
            found = await _known_commune(request, current, departement) + found
        lists[field] = found
    return lists


async def _page(
    request: web.Request,
    section: Section,
    view: dict[str, Any],
    version: int,
    referentiels: dict[str, Any],
    values: dict[str, str],
    *,
    status: int = 200,
    **context: Any,
) -> web.Response:
    communes = await _commune_lists(request, section, values)
    return render(
        request,
        f"candidat/rubrique_{section.slug.replace('-', '_')}.html",
        {
            "rubrique": section,
            "view": view,
            "version": version,
            "values": values,
            "communes": communes,
            "pays": [(p["code"], p["nom"]) for p in referentiels["pays"]],
            "departements": [(d["code"], f"{d['code']} - {d['nom']}") for d in referentiels["departements"]],
            "items": (view.get("donnees") or {}).get("items") or [],
            "menu": sidemenu(section.slug),
            "section": "/dossier",
            "breadcrumb": crumbs(section),
            "next": next_section(section),
            **context,
        },
        status=status,
    )


def _section(request: web.Request) -> Section:
    section = BY_SLUG.get(request.match_info["slug"])
    if section is None:
        raise web.HTTPNotFound()
    return section


@routes.get("/dossier/{slug}")
async def section_page(request: web.Request) -> web.Response:
    section = _section(request)
    view, version, referentiels = await _read(request, section)
    return await _page(request, section, view, version, referentiels, _values_of(section, view.get("donnees")))


def _typed(section: Section, name: str, value: str) -> Any:
    if name in section.integers and value.strip().lstrip("-").isdigit():
        return int(value)
    if name in section.decimals:
        try:
            return float(value.replace(",", "."))
        except ValueError:
            return value
    return value


def body_of(section: Section, form: Any, prefix: str = "") -> dict[str, Any]:
    """The section's body (or one item) from the form: empty fields are left out."""
    body: dict[str, Any] = {}
    for name in section.fields:
        if name == "specialites":
            items = [form.get(f"specialites.{i}", "").strip() for i in range(4)]
            body[name] = [item for item in items if item]
            continue
        value = form.get(prefix + name, "")
        if isinstance(value, str) and value.strip():
            body[name] = _typed(section, name, value.strip())
    return body


@routes.post("/dossier/{slug}")
async def save_section(request: web.Request) -> web.Response:
    section = _section(request)
    form = await read_form(request)
    values = text_values(form)
    if form.get("rechercher"):  # the commune search without JavaScript: nothing is saved
        view, stored, referentiels = await _read(request, section)
        return await _page(request, section, view, int(form.get("version", stored) or 0), referentiels, values)
    version = str(form.get("version", "0"))
    if section.listed:
        view, current, referentiels = await _read(request, section)
        items = list((view.get("donnees") or {}).get("items") or [])
        if form.get("supprimer", "").isdigit():
            index = int(form["supprimer"])
            if 0 <= index < len(items):
                items.pop(index)
            body, prefix = {"items": items}, ""
        else:
            items.append(body_of(section, form))
            body, prefix = {"items": items}, f"items.{len(items) - 1}."
        version = str(current) if form.get("supprimer") else version
    else:
        body, prefix = body_of(section, form), ""
    try:
        await api(request).call(
            request, "PUT", f"/dossier/sections/{section.slug}", json_body=body, headers={"If-Match": f'"{version}"'}
        )
    except Problem as problem:
        view, current, referentiels = await _read(request, section)
        errors, summary = field_errors(problem, [*section.fields, *(f"specialites.{i}" for i in range(4))], prefix)
        if problem.status == 412:
            summary = _(
                "Cette rubrique a été modifiée entre-temps (dans un autre onglet ?). Vos saisies sont conservées : vérifiez-les et enregistrez à nouveau."
            )
        shown = values if not section.listed or not form.get("supprimer") else {}
        return await _page(
            request,
            section,
            view,
            current if problem.status == 412 else int(version or 0),
            referentiels,
            shown,
            status=problem.status,
            errors=errors,
            problem=summary,
        )
    if section.listed:
        return redirect(f"/dossier/{section.slug}", "rubrique_enregistree", _(section.label), request=request)
    return redirect(next_section(section), "rubrique_enregistree", _(section.label), request=request)
