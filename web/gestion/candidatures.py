"""Candidatures, for staff: the list of a formation / centre / commission (the API's filters,
sorts and keyset paging, bulk actions, exports, the étiquettes of each row), and one candidature's
review page (the pièces shown inline beside validate / refuse, statut, decision, validation,
étiquettes, notes, letter, history).

Every action is a plain form post (post/redirect/get); the keyboard shortcuts of the review page
are JavaScript added on top (`web/static/app.js`). Each form is shown only when the staff member's
roles let the API accept it (`Can`); a forged post is refused by the API, and that refusal shown.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from ..api import Problem, Reply, SessionRequired
from ..i18n import N_, date_long, datetime_long
from ..i18n import gettext as _
from ..pages import api, field_errors, read_form, redirect, text_values
from ..render import render
from ..session import login_url
from .common import LOGIN, PREFIX, page, staff_me

routes = web.RouteTableDef()
LIST = f"{PREFIX}/candidatures"

FILTERS = (
    "formation_code",
    "centre_code",
    "commission_code",
    "statut",
    "type_traitement",
    "decision",
    "pieces",
    "transmise_du",
    "transmise_au",
    "etiquette",
    "campagne_code",
)
SCOPE_FILTERS = ("formation_code", "centre_code", "commission_code")
# Not counted as filters: what the list is of (the campaign shown is said beside the list).
UNCOUNTED = (*SCOPE_FILTERS, "campagne_code")
SORTS = {"date_reception": N_("Date de réception"), "nom": N_("Nom"), "rang": N_("Rang (liste complémentaire)")}
STATUTS = {
    "en_attente": N_("En attente"),
    "receptionne": N_("Réceptionné"),
    "complet": N_("Complet"),
    "incomplet": N_("Incomplet"),
    "annulee": N_("Annulée"),
}
SETTABLE_STATUTS = ("en_attente", "receptionne", "complet", "incomplet")
TYPES = {"acces_controle": N_("Accès contrôlé"), "acces_direct": N_("Accès direct"), "en_attente": N_("En attente")}
DECISIONS = {
    "favorable": N_("Favorable"),
    "defavorable": N_("Défavorable"),
    "liste_attente": N_("Liste d'attente"),
    "liste_complementaire": N_("Liste complémentaire"),
    "preselection": N_("Présélection"),
}
PIECES = {"completes": N_("Toutes déposées"), "manquantes": N_("Manquantes"), "refusees": N_("Au moins une refusée")}
# The candidature's history as the staff read it: each action, and each detail's name.
HISTORY_ACTIONS = {
    "created": N_("Candidature créée"),
    "transmitted": N_("Candidature transmise"),
    "cancelled": N_("Candidature annulée"),
    "confirmation": N_("Admission confirmée"),
    "desistement": N_("Désistement"),
    "statut": N_("Statut du dossier"),
    "piece_validee": N_("Pièce validée"),
    "piece_refusee": N_("Pièce refusée"),
    "type_traitement": N_("Type de traitement"),
    "decision_saisie": N_("Décision saisie"),
    "decision_validee": N_("Décision validée"),
    "rang_liste_complementaire": N_("Rang en liste complémentaire"),
    "note": N_("Note ajoutée au bloc-notes"),
    "date_limite_retour": N_("Date limite de retour"),
}
HISTORY_DETAILS = {
    "previous": N_("Avant"),
    "old": N_("Avant"),
    "new": N_("Après"),
    "valide": N_("Validé"),
    "kind": N_("Décision"),
    "automatic": N_("Automatique"),
    "piece": N_("Pièce"),
    "commentaire": N_("Commentaire"),
    "date": N_("Date"),
    "ancienne": N_("Ancienne date"),
    "nouvelle": N_("Nouvelle date"),
    "date_individuelle": N_("Date propre à la candidature"),
    "motif": N_("Motif"),
    "cause": N_("Cause"),
}


HISTORY_CAUSES = {
    "piece_refusee": N_("une pièce refusée"),
    "formation": N_("la date de la formation"),
    "candidature": N_("une date propre à la candidature"),
    "incident": N_("la prolongation après un incident"),
}
ORDER = {key: rank for rank, key in enumerate(HISTORY_DETAILS)}  # PostgreSQL's jsonb sorts the keys its own way


def history_line(action: str, details: dict[str, Any]) -> dict[str, Any]:
    """One entry of the history in words: its action, and its details as « name : value » in the
    order of HISTORY_DETAILS (codes of statuts, types de traitement and decisions by their names,
    dates written out)."""
    codes = TYPES if action == "type_traitement" else STATUTS

    def value(key: str, raw: Any) -> str:
        if isinstance(raw, bool):
            return _("Oui") if raw else _("Non")
        if key in ("previous", "old", "new") and raw in codes:
            return _(codes[raw])
        if key == "kind" and raw in DECISIONS:
            return _(DECISIONS[raw])
        if key == "cause" and raw in HISTORY_CAUSES:
            return _(HISTORY_CAUSES[raw])
        if key == "date_individuelle":
            return date_long(raw)
        if key in ("date", "ancienne", "nouvelle"):
            return datetime_long(raw)
        return str(raw)

    return {
        "action": _(HISTORY_ACTIONS[action]) if action in HISTORY_ACTIONS else action,
        "details": [
            _("%(nom)s : %(valeur)s", nom=_(HISTORY_DETAILS[k]) if k in HISTORY_DETAILS else k, valeur=value(k, v))
            for k, v in sorted(details.items(), key=lambda item: ORDER.get(item[0], len(ORDER)))
            if v not in (None, "")
        ],
    }


PAGE_SIZES = ("25", "50", "100", "200")


def _labels(table: dict[str, str]) -> list[tuple[str, str]]:
    return [(code, _(label)) for code, label in table.items()]


def list_query(source) -> dict[str, str]:
    """The list's filters, sort and page size from a query string or a form (empty ones left out)."""
    query = {name: source.get(name, "").strip() for name in FILTERS if source.get(name, "").strip()}
    if source.get("sort") in SORTS:
        query["sort"] = source["sort"]
    if source.get("limit") in PAGE_SIZES:
        query["limit"] = source["limit"]
    return query


class Etiquettes:
    """The étiquettes of the establishment (`GET /staff/etiquettes`, archived ones included, in
    their order), to show a candidature's codes as the DSFR tags they are."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.by_code = {e["code"]: e for e in items}

    def of(self, codes: list[str] | None) -> list[dict[str, Any]]:
        """The records of these codes in the étiquettes' order; a code no longer known as itself."""
        known = [e for e in self.items if e["code"] in (codes or [])]
        unknown = [
            {"code": c, "libelle": c, "couleur": "beige-gris-galet"} for c in codes or [] if c not in self.by_code
        ]
        return known + unknown

    def libelles(self, codes: list[str] | None) -> list[str]:
        return [e["libelle"] for e in self.of(codes)]

    def change(self, details: dict[str, Any]) -> dict[str, list[str]]:
        """A history entry `etiquettes` ({"old": codes, "new": codes}): the libellés after it, added, taken off."""
        old, new = list(details.get("old") or []), list(details.get("new") or [])
        return {
            "new": self.libelles(new),
            "added": self.libelles([c for c in new if c not in old]),
            "removed": self.libelles([c for c in old if c not in new]),
        }

    def offered(self, current: list[str]) -> list[dict[str, Any]]:
        """The boxes of a candidature's form: every étiquette in service, and the archived ones it has."""
        return [e for e in self.items if not e.get("archivee") or e["code"] in current]

    def filter_choices(self) -> list[tuple[str, str]]:
        return [
            (e["code"], _("%(libelle)s (archivée)", libelle=e["libelle"]) if e.get("archivee") else e["libelle"])
            for e in self.items
        ]


async def etiquettes(request: web.Request) -> Etiquettes:
    return Etiquettes((await api(request).get(request, "/staff/etiquettes"))["items"])


class Campagnes:
    """The campaigns whose candidatures the staff read (`GET /staff/campagnes`): the first is the
    one the lists and the dashboard show unless another is chosen."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.by_code = {c["code"]: c for c in items}

    @property
    def default(self) -> dict[str, Any] | None:
        return self.items[0] if self.items else None

    def label(self, campagne: dict[str, Any]) -> str:
        if campagne.get("archivee_le"):
            return _("%(libelle)s (archivée)", libelle=campagne["libelle"])
        return (
            _("%(libelle)s (en service)", libelle=campagne["libelle"])
            if campagne["en_service"]
            else campagne["libelle"]
        )

    def placeholder(self) -> str:
        """The select's first option, which asks for no campaign: the default one."""
        return self.label(self.default) if self.default else _("Aucune campagne")

    def choices(self) -> list[tuple[str, str]]:
        """The other campaigns one may choose."""
        return [(c["code"], self.label(c)) for c in self.items[1:]]

    def archived(self, code: str | None) -> dict[str, Any] | None:
        """The campaign shown, when it is an archived one (the page says until when it is kept)."""
        campagne = self.by_code.get(code or "")
        return campagne if campagne and campagne.get("archivee_le") else None


async def campagnes(request: web.Request) -> Campagnes:
    return Campagnes((await api(request).get(request, "/staff/campagnes"))["items"])


def _candidature_id(request: web.Request) -> str:
    try:
        return str(uuid.UUID(request.match_info["candidature_id"]))
    except ValueError:
        raise web.HTTPNotFound() from None


@routes.get(LIST)
async def liste(request: web.Request) -> web.Response:
    await staff_me(request)
    query = list_query(request.query)
    cursor = request.query.get("cursor", "")[:500]
    tags, known = await asyncio.gather(etiquettes(request), campagnes(request))
    context = {
        "query": query,
        "qs": urlencode(query),
        "sorts": _labels(SORTS),
        "statuts": _labels(STATUTS),
        "types": _labels(TYPES),
        "decisions": _labels(DECISIONS),
        "pieces_choices": _labels(PIECES),
        "etiquette_choices": tags.filter_choices(),
        "campagne_choices": known.choices(),
        "campagne_defaut": known.placeholder(),
        "campagne_archivee": None,
        "etiquettes_of": tags.of,
        "page_sizes": [(size, size) for size in PAGE_SIZES],
        "qs_without_statut": urlencode({k: v for k, v in query.items() if k != "statut"}),
        "statut_label": lambda code: _(STATUTS[code]) if code in STATUTS else code or "",
        "decision_label": lambda code: _(DECISIONS[code]) if code in DECISIONS else (code or ""),
        "settable": [(s, _(STATUTS[s])) for s in SETTABLE_STATUTS],
        "values": query,
        "section": LIST,
        "rows": [],
        "next_cursor": None,
        "counts": None,
        "all_checked": request.query.get("tout") == "1",  # « Tout cocher » without JavaScript
        "active_filters": sum(1 for name in FILTERS if name not in UNCOUNTED and query.get(name)),
    }
    if not any(name in query for name in SCOPE_FILTERS):
        return page(request, "gestion/candidatures.html", context, title=_("Candidatures"))
    params = {**query, **({"cursor": cursor} if cursor else {})}
    counted = {k: v for k, v in query.items() if k not in ("statut", "sort", "limit")}
    try:
        listed, counts = await asyncio.gather(
            api(request).get(request, "/staff/candidatures", **params),
            api(request).get(request, "/staff/candidatures/comptes", **counted),
        )
    except Problem as problem:
        if problem.status not in (400, 404, 422):
            raise
        return page(
            request,
            "gestion/candidatures.html",
            {**context, "problem": problem.detail},
            status=problem.status,
            title=_("Candidatures"),
        )
    # The list's links (its pages, its rows' review pages and their « suivant », the exports) keep
    # the campaign it shows, even if another is put in service meanwhile; the form keeps the choice.
    pinned = {**query, "campagne_code": listed.get("campagne_code") or ""}
    context.update(
        rows=listed["items"],
        next_cursor=listed.get("next_cursor"),
        counts=counts,
        cursor=cursor,
        campagne_archivee=known.archived(listed.get("campagne_code")),
        qs=urlencode({k: v for k, v in pinned.items() if v}),
        qs_without_statut=urlencode({k: v for k, v in pinned.items() if v and k != "statut"}),
    )
    return page(request, "gestion/candidatures.html", context, title=_("Candidatures"))


BULK = {
    "statut": ("/staff/candidatures/statut", "statut_change"),
    "type_traitement": ("/staff/candidatures/type-traitement", "type_traitement_change"),
    "validation": ("/staff/candidatures/decisions/validation", "decisions_validees"),
}


@routes.post(f"{LIST}/lot")
async def bulk(request: web.Request) -> web.Response:
    """One action on the rows ticked in the list (statut, type de traitement, validation of decisions)."""
    form = await read_form(request)
    back = f"{LIST}?{urlencode(list_query(form))}"
    ids = [value for value in form.getall("ids", []) if isinstance(value, str)]
    action = form.get("action", "")
    if action not in BULK:
        raise web.HTTPBadRequest()
    if not ids:
        return redirect(back, "selection_vide", request=request)
    path, flash = BULK[action]
    body: dict = {"candidature_ids": ids}
    if action == "statut":
        body["statut"] = form.get("statut_lot", "")
    elif action == "type_traitement":
        body.update(type_traitement=form.get("type_traitement_lot", ""), valide=form.get("valide") == "oui")
    try:
        reply = await api(request).call(request, "POST", path, json_body=body)
    except Problem as problem:
        if problem.status >= 500:
            raise
        return redirect(back, "action_refusee", problem.detail, request=request)
    changed = len(reply.body.get("updated", []))
    return redirect(back, flash if changed else "rien_n_a_change", str(changed), request=request)


@routes.get(LIST + "/export.{format:(csv|xlsx)}")
async def export(request: web.Request) -> web.StreamResponse:
    """The filtered list as a file, straight from the API."""
    query = {k: v for k, v in list_query(request.query).items() if k != "limit"}
    return await api(request).stream(
        request, f"/staff/candidatures/export.{request.match_info['format']}?{urlencode(query)}"
    )


# -- one candidature ------------------------------------------------------------------------------


def _next_of(rows: list[dict], current: str) -> str | None:
    ids = [row["id"] for row in rows]
    if current in ids:
        at = ids.index(current)
        return ids[at + 1] if at + 1 < len(ids) else None
    return None


async def following(request: web.Request, current: str, query: dict[str, str]) -> str | None:
    """The candidature after this one in the list it was opened from (same filters and sort)."""
    if not any(name in query for name in SCOPE_FILTERS):
        return None
    cursor = None
    for _round in range(20):  # 10,000 rows at most: the list's depth a person pages through
        params = {
            **{k: v for k, v in query.items() if k != "limit"},
            "limit": "500",
            **({"cursor": cursor} if cursor else {}),
        }
        listed = await api(request).get(request, "/staff/candidatures", **params)
        ids = [row["id"] for row in listed["items"]]
        if current in ids:
            found = _next_of(listed["items"], current)
            if found or not listed.get("next_cursor"):
                return found
            more = await api(request).get(request, "/staff/candidatures", **{**params, "cursor": listed["next_cursor"]})
            return more["items"][0]["id"] if more["items"] else None
        cursor = listed.get("next_cursor")
        if not cursor:
            return None
    return None


def _review_url(cid: str, query: dict[str, str], piece: str | None = None) -> str:
    qs = urlencode(query)
    url = f"{LIST}/{cid}" + (f"?{qs}" if qs else "")
    return url + (f"#piece-{piece}" if piece else "")


@routes.get(LIST + "/{candidature_id}")
async def candidature(request: web.Request) -> web.Response:
    return await _review_page(request, _candidature_id(request), list_query(request.query))


async def _review_page(
    request: web.Request,
    cid: str,
    query: dict[str, str],
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    summary: str | None = None,
    status: int = 200,
    extra: dict[str, Any] | None = None,
) -> web.Response:
    """The review page; after a refused form, with the refusal beside its fields and what was typed
    (`extra`: a form's own keys, the étiquettes')."""
    await staff_me(request)  # what the page offers depends on who asks
    view, pieces, tags = await asyncio.gather(
        api(request).get(request, f"/staff/candidatures/{cid}"),
        api(request).get(request, f"/staff/candidatures/{cid}/pieces"),
        etiquettes(request),
    )
    c = view["candidature"]
    on_it = list(view.get("etiquettes") or [])
    current = [d for d in view["decisions"] if d.get("validated_at")]
    pending = [d for d in view["decisions"] if not d.get("validated_at")]
    context = {
        "v": view,
        "c": c,
        "pieces": pieces["items"],
        "query": query,
        "qs": urlencode(query),
        "decisions": _labels(DECISIONS),
        "settable": [(s, _(STATUTS[s])) for s in SETTABLE_STATUTS],
        "types": _labels(TYPES),
        "pending": pending[0] if pending else None,
        "current_decision": current[-1] if current else None,
        "section": LIST,
        "list_url": f"{LIST}?{urlencode(query)}" if query else None,
        "values": values or {},
        "errors": errors or {},
        "problem": summary,
        "decision_label": lambda code: _(DECISIONS[code]) if code in DECISIONS else (code or ""),
        "etiquettes": tags.of(on_it),
        "etiquettes_offered": tags.offered(on_it),
        "etiquettes_checked": on_it,
        "etiquettes_change": tags.change,
        "history_line": history_line,
        **(extra or {}),
    }
    title = f"{view.get('prenom') or ''} {view.get('nom') or ''} ({c['numero_dossier']})".strip()
    return page(request, "gestion/candidature.html", context, title=title, status=status)


@routes.get(LIST + "/{candidature_id}/suivante")
async def next_candidature(request: web.Request) -> web.Response:
    """« Passer au suivant »: the next candidature of the list, or back to the list at its end."""
    cid = _candidature_id(request)
    await staff_me(request)
    query = list_query(request.query)
    found = await following(request, cid, query)
    if found is None:
        return redirect(f"{LIST}?{urlencode(query)}" if query else LIST, "fin_de_liste", request=request)
    return redirect(_review_url(found, query))


@routes.get(LIST + "/{candidature_id}/pieces/{slot_id}/fichier")
async def piece_file(request: web.Request) -> web.StreamResponse:
    """The piece's file, to be shown inline in the review page (same origin, framed by it only)."""
    cid = _candidature_id(request)
    try:
        slot = str(uuid.UUID(request.match_info["slot_id"]))
    except ValueError:
        raise web.HTTPNotFound() from None
    try:
        return await api(request).stream(request, f"/staff/candidatures/{cid}/pieces/{slot}/fichier", inline=True)
    except SessionRequired:
        return _preview_unavailable(
            request,
            401,
            _("Votre session a expiré : reconnectez-vous pour afficher la pièce."),
            login=login_url(f"{LIST}/{cid}", LOGIN),
        )
    except Problem as problem:
        status = problem.status if 400 <= problem.status < 600 else 500
        return _preview_unavailable(request, status, problem.detail, retry=status >= 500)


def _preview_unavailable(
    request: web.Request, status: int, message: str, *, login: str | None = None, retry: bool = False
) -> web.Response:
    """What the review page's frame shows in place of a piece it cannot show (the file gone from
    storage, the service unavailable, the session expired): a page that the review page may frame,
    where the error pages refuse every frame and the reviewer would see the browser's blocked frame."""
    response = render(
        request,
        "gestion/apercu_indisponible.html",
        {"message": message, "expired": login is not None, "login": login, "missing": status == 404, "retry": retry},
        status=status,
    )
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
        "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@routes.get(LIST + "/{candidature_id}/lettre")
async def letter(request: web.Request) -> web.StreamResponse:
    cid = _candidature_id(request)
    return await api(request).stream(request, f"/staff/candidatures/{cid}/lettre")


@routes.get(LIST + "/{candidature_id}/dossier.pdf")
async def dossier_pdf(request: web.Request) -> web.StreamResponse:
    cid = _candidature_id(request)
    return await api(request).stream(request, f"/staff/candidatures/{cid}/dossier.pdf")


# How long a piece's review waits for the candidatures service to take it in (see `_taken_in`).
TAKEN_IN_WITHIN = 3.0


async def _taken_in(request: web.Request, cid: str, reply: Reply) -> None:
    """Until the candidatures service has taken a piece's review in, within `TAKEN_IN_WITHIN`: its
    copy of the piece's statut and what the review changes (« Incomplet » after a refusal, « Complet »
    offered once every piece is validated) commit together, from the documents service's event. The
    page shown next then says both, rather than the piece refused beside a statut not changed yet.
    Past the bound (a consumer lagging), the page shows what there is."""
    piece = reply.body
    loop = asyncio.get_running_loop()
    deadline, delay = loop.time() + TAKEN_IN_WITHIN, 0.02
    while True:
        try:
            view = await api(request).get(request, f"/staff/candidatures/{cid}")
        except Problem:
            return  # the page says why, if it still cannot be read
        if any(p["piece_id"] == piece["piece_id"] and p["statut"] == piece["statut"] for p in view["pieces"]):
            return
        if loop.time() + delay > deadline:
            return
        await asyncio.sleep(delay)
        delay = min(2 * delay, 0.25)


async def _act(
    request: web.Request, cid: str, query: dict[str, str], call, flash: str, value: str = "", anchor: str | None = None
) -> web.Response:
    """Run one action; a refusal comes back on the review page, in an alert at the top."""
    try:
        await call
    except Problem as problem:
        if problem.status >= 500:
            raise
        response = redirect(_review_url(cid, query), "action_refusee", problem.detail, request=request)
        return response
    return redirect(_review_url(cid, query, anchor), flash, value, request=request)


@routes.post(LIST + "/{candidature_id}/pieces/{slot_id}/examen")
async def review_piece(request: web.Request) -> web.Response:
    cid = _candidature_id(request)
    form = await read_form(request)
    query = list_query(form)
    slot = request.match_info["slot_id"]
    decision = form.get("examen", "")
    comment = form.get("commentaire", "").strip()
    if decision == "refusee" and not comment:
        return redirect(_review_url(cid, query, slot), "commentaire_requis", request=request)

    async def review() -> None:
        reply = await api(request).call(
            request,
            "POST",
            f"/staff/candidatures/{cid}/pieces/{slot}/examen",
            json_body={"decision": decision, "commentaire": comment},
        )
        await _taken_in(request, cid, reply)

    return await _act(
        request,
        cid,
        query,
        review(),
        "piece_validee" if decision == "validee" else "piece_refusee",
        anchor=form.get("suivante") or slot,
    )


@routes.post(LIST + "/{candidature_id}/statut")
async def set_statut(request: web.Request) -> web.Response:
    cid = _candidature_id(request)
    form = await read_form(request)
    body = {"candidature_ids": [cid], "statut": form.get("nouveau_statut", "")}
    if form.get("commentaire", "").strip():
        body["commentaire"] = form["commentaire"].strip()
    call = api(request).call(request, "POST", "/staff/candidatures/statut", json_body=body)
    return await _act(request, cid, list_query(form), call, "statut_change", "1")


DECISION_FIELDS = ("motif", "rang", "preselection_date", "preselection_heure", "preselection_lieu", "commentaire")


@routes.post(LIST + "/{candidature_id}/decision")
async def enter_decision(request: web.Request) -> web.Response:
    cid = _candidature_id(request)
    form = await read_form(request)
    kind = form.get("kind", "")
    body: dict = {"kind": kind}
    for name in ("motif", "commentaire", "preselection_lieu"):
        if form.get(name, "").strip():
            body[name] = form[name].strip()
    if kind == "liste_complementaire" and form.get("rang", "").strip():
        body["rang"] = form["rang"].strip()
    if kind == "preselection":
        for name in ("preselection_date", "preselection_heure"):
            if form.get(name, "").strip():
                body[name] = form[name].strip()
    query = list_query(form)
    try:
        await api(request).call(request, "POST", f"/staff/candidatures/{cid}/decision", json_body=body)
    except Problem as problem:
        if problem.status >= 500:
            raise
        errors, summary = field_errors(problem, DECISION_FIELDS)
        return await _review_page(
            request,
            cid,
            query,
            values=text_values(form, ("kind", *DECISION_FIELDS)),
            errors=errors,
            summary=summary,
            status=problem.status,
        )
    return redirect(_review_url(cid, query, "decision"), "decision_saisie", request=request)


@routes.post(LIST + "/{candidature_id}/validation")
async def validate_decision(request: web.Request) -> web.Response:
    cid = _candidature_id(request)
    form = await read_form(request)
    call = api(request).call(
        request, "POST", "/staff/candidatures/decisions/validation", json_body={"candidature_ids": [cid]}
    )
    return await _act(request, cid, list_query(form), call, "decisions_validees", "1", anchor="decision")


@routes.post(LIST + "/{candidature_id}/notes")
async def add_note(request: web.Request) -> web.Response:
    cid = _candidature_id(request)
    form = await read_form(request)
    call = api(request).call(
        request, "POST", f"/staff/candidatures/{cid}/notes", json_body={"body": form.get("body", "").strip()}
    )
    return await _act(request, cid, list_query(form), call, "note_ajoutee", anchor="notes")


@routes.post(LIST + "/{candidature_id}/etiquettes")
async def set_etiquettes(request: web.Request) -> web.Response:
    """The candidature's étiquettes, the whole set (no box checked takes them all off); a refusal
    comes back beside the boxes, checked as they were sent."""
    cid = _candidature_id(request)
    form = await read_form(request)
    query = list_query(form)
    chosen = [value for value in form.getall("etiquettes", []) if isinstance(value, str)]
    try:
        await api(request).call(
            request, "PUT", f"/staff/candidatures/{cid}/etiquettes", json_body={"etiquettes": chosen}
        )
    except Problem as problem:
        if problem.status >= 500:
            raise
        if problem.status not in (400, 409, 422):  # not theirs to set (403), gone (404): as the other actions
            return redirect(_review_url(cid, query), "action_refusee", problem.detail, request=request)
        errors, summary = field_errors(problem, ("etiquettes",))
        return await _review_page(
            request,
            cid,
            query,
            status=problem.status,
            extra={"etiquettes_checked": chosen, "etiquettes_errors": errors, "etiquettes_problem": summary},
        )
    return redirect(_review_url(cid, query, "etiquettes"), "etiquettes_enregistrees", request=request)
