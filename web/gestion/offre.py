"""Administration of the offer (admins and scolarité): the campaigns with their dates and the
extension of deadlines after an incident, the centres, types de diplôme, commissions, formations
(with the pièces they ask for), pièces justificatives with their templates, and the étiquettes the
staff put on candidatures.

Each resource is one form over `PUT /api/v1/staff/offre/{path}/{code}`, described by `RESOURCES`
(its fields, how each is typed); the API checks everything and its refusals come back beside the
fields, the input kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from urllib.parse import quote

from aiohttp import web

from ..api import Problem, chunks_of
from ..i18n import N_, PARIS
from ..i18n import gettext as _
from ..pages import api, field_errors, read_form, read_upload, redirect, text_values
from ..sections import SECTIONS
from .common import PREFIX, page, staff_allowed

routes = web.RouteTableDef()
OFFRE = f"{PREFIX}/administration/offre"
NEW = "nouveau"
TEMPLATE_LIMIT = 10 * 1024 * 1024 + 1  # the API refuses beyond its own limit; this only bounds the relay


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text, textarea, date, int, bool, select, multi
    required: bool = False
    choices: str | None = None  # a fixed list of TYPES / NIVEAUX, or a resource of the offer
    hint: str | None = None
    empty: str | None = None  # an optional select's choice of none


@dataclass(frozen=True)
class Resource:
    path: str  # the API's and the page's
    key: str  # its list in GET /staff/offre
    title: str
    new: str
    fields: tuple[Field, ...]


TYPES = (("acces_controle", N_("Accès contrôlé")), ("acces_direct", N_("Accès direct")))
# The sections a formation may require: the dossier's optional lists (cursus externe, stages, expériences).
RUBRIQUES = tuple((s.slug.replace("-", "_"), s.label) for s in SECTIONS if s.listed)
# What a commission may be alerted of by mail (the API's `AlerteCommission`).
ALERTES = (
    ("transmission", N_("Candidature transmise")),
    ("annulation", N_("Candidature annulée")),
    ("desistement", N_("Désistement")),
    ("promotion", N_("Promotion depuis la liste complémentaire")),
)
# How the alerts go: the empty choice is the API's default, `immediate` (a mail per change).
FREQUENCES = (("quotidienne", N_("Un récapitulatif par jour, le matin, des changements depuis le précédent")),)
NIVEAUX = (
    ("etablissement", N_("Établissement (toutes les formations)")),
    ("centre", N_("Centre de candidature")),
    ("formation", N_("Formation")),
)
# The DSFR's illustrative colours an étiquette may take (`fr-tag--<couleur>`), by their French
# names: the API's `COULEURS_ETIQUETTE` restated (the web front imports no contract; a test keeps
# the two equal).
COULEURS = (
    ("green-tilleul-verveine", N_("Vert tilleul verveine")),
    ("green-bourgeon", N_("Vert bourgeon")),
    ("green-emeraude", N_("Vert émeraude")),
    ("green-menthe", N_("Vert menthe")),
    ("green-archipel", N_("Vert archipel")),
    ("blue-ecume", N_("Bleu écume")),
    ("blue-cumulus", N_("Bleu cumulus")),
    ("purple-glycine", N_("Violet glycine")),
    ("pink-macaron", N_("Rose macaron")),
    ("pink-tuile", N_("Rose tuile")),
    ("yellow-tournesol", N_("Jaune tournesol")),
    ("yellow-moutarde", N_("Jaune moutarde")),
    ("orange-terre-battue", N_("Orange terre battue")),
    ("brown-cafe-creme", N_("Marron café crème")),
    ("brown-caramel", N_("Marron caramel")),
    ("brown-opera", N_("Marron opéra")),
    ("beige-gris-galet", N_("Beige gris galet")),
)
SIGNATAIRE = (
    Field("signataire_nom", N_("Signataire des lettres (nom)")),
    Field("signataire_qualite", N_("Signataire des lettres (qualité)")),
)
RESOURCES = {
    r.path: r
    for r in (
        Resource(
            "campagnes",
            "campagnes",
            N_("Campagnes"),
            N_("Nouvelle campagne"),
            (
                Field("libelle", N_("Libellé"), required=True),
                Field("debut", N_("Début"), "date", True),
                Field("fin", N_("Fin"), "date", True),
                Field(
                    "prefix",
                    N_("Préfixe des numéros de dossier"),
                    required=True,
                    hint=N_("Deux chiffres ou lettres majuscules, par exemple 26"),
                ),
                Field(
                    "en_service",
                    N_("Campagne en service (remplace la campagne en service, qui est alors archivée)"),
                    "bool",
                    hint=N_(
                        "Une campagne qui quitte le service est archivée : ses candidatures, leurs pièces et "
                        "leurs lettres sont détruites au terme de la durée de conservation de la plateforme."
                    ),
                ),
            ),
        ),
        Resource(
            "centres",
            "centres",
            N_("Centres de candidature"),
            N_("Nouveau centre de candidature"),
            (
                Field("libelle", N_("Libellé"), required=True),
                Field("contact_libelle", N_("Contact (service)"), required=True),
                Field("contact_adresse", N_("Adresse du contact"), "textarea", True),
                Field("contact_mail", N_("Adresse mail du contact")),
                Field("max_candidatures", N_("Nombre maximal de candidatures par candidat"), "int", True),
                Field("ordre", N_("Rang d'affichage"), "int"),
                *SIGNATAIRE,
            ),
        ),
        Resource(
            "types-diplome",
            "types_diplome",
            N_("Types de diplôme"),
            N_("Nouveau type de diplôme"),
            (Field("libelle", N_("Libellé"), required=True), Field("ordre", N_("Rang d'affichage"), "int")),
        ),
        Resource(
            "commissions",
            "commissions",
            N_("Commissions"),
            N_("Nouvelle commission"),
            (
                Field("libelle", N_("Libellé"), required=True),
                Field("centre_code", N_("Centre de candidature"), "select", True, "centres"),
                Field("email", N_("Adresse mail de la commission")),
                Field(
                    "alertes",
                    N_("Alerter la commission par mail"),
                    "multi",
                    choices="ALERTES",
                    hint=N_(
                        "À l'adresse de la commission, pour chaque candidature concernée : un mail, ou une ligne du récapitulatif du jour"
                    ),
                ),
                Field(
                    "alertes_frequence",
                    N_("Envoi des alertes"),
                    "select",
                    choices="FREQUENCES",
                    empty=N_("Un mail à chaque changement"),
                ),
            ),
        ),
        Resource(
            "formations",
            "formations",
            N_("Formations"),
            N_("Nouvelle formation"),
            (
                Field("libelle", N_("Libellé"), required=True),
                Field("centre_code", N_("Centre de candidature"), "select", True, "centres"),
                Field("type_code", N_("Type de diplôme"), "select", True, "types_diplome"),
                Field(
                    "commission_code", N_("Commission"), "select", choices="commissions", empty=N_("Aucune commission")
                ),
                Field("type_traitement", N_("Type de traitement"), "select", True, "TYPES"),
                Field("capacite", N_("Capacité d'accueil"), "int"),
                Field("depot_debut", N_("Ouverture du dépôt des candidatures"), "date", True),
                Field("depot_fin", N_("Fin du dépôt des candidatures"), "date", True),
                Field("date_retour", N_("Date limite de retour des dossiers"), "date", True),
                Field("date_confirmation", N_("Date limite de confirmation"), "date"),
                Field("delai_confirmation_jours", N_("Délai de confirmation (jours)"), "int"),
                Field("date_jury", N_("Date du jury"), "date"),
                Field("date_publication", N_("Date de publication des résultats"), "date"),
                Field("ouverte", N_("Ouverte aux candidatures"), "bool"),
                Field(
                    "rubriques_exigees",
                    N_("Rubriques du dossier exigées pour candidater"),
                    "multi",
                    choices="RUBRIQUES",
                    hint=N_("Aucune cochée : cursus, stages et expériences restent facultatifs"),
                ),
                Field("modalites_inscription", N_("Modalités d'inscription (lettre d'admission)"), "textarea"),
                *SIGNATAIRE,
            ),
        ),
        Resource(
            "pieces",
            "pieces",
            N_("Pièces justificatives"),
            N_("Nouvelle pièce justificative"),
            (
                Field("libelle", N_("Libellé"), "textarea", True),
                Field("ordre", N_("Rang d'affichage"), "int"),
                Field("niveau", N_("Demandée par"), "select", True, "NIVEAUX"),
                Field(
                    "centre_code",
                    N_("Centre de candidature (pièce de niveau centre)"),
                    "select",
                    choices="centres",
                    empty=N_("Aucun centre"),
                ),
                Field(
                    "formation_code",
                    N_("Formation (pièce de niveau formation)"),
                    "select",
                    choices="formations",
                    empty=N_("Aucune formation"),
                ),
                Field(
                    "types_traitement",
                    N_("Seulement pour les types de traitement"),
                    "multi",
                    choices="TYPES",
                    hint=N_("Aucun coché : pour tous"),
                ),
                Field("conditionnelle", N_("Conditionnelle (le candidat peut se déclarer non concerné)"), "bool"),
                Field("unique_par_candidature", N_("Un seul fichier par candidature"), "bool"),
                Field("has_template", N_("Un modèle à remplir est proposé au candidat"), "bool"),
            ),
        ),
        Resource(
            "etiquettes",
            "etiquettes",
            N_("Étiquettes"),
            N_("Nouvelle étiquette"),
            (
                Field(
                    "libelle",
                    N_("Libellé"),
                    required=True,
                    hint=N_("60 caractères au plus, par exemple « À revoir » ou « Dossier prioritaire »"),
                ),
                Field("couleur", N_("Couleur"), "select", True, "COULEURS"),
                Field("ordre", N_("Rang d'affichage"), "int"),
                Field("archivee", N_("Archivée : reste sur les candidatures qui l'ont, n'est plus proposée"), "bool"),
            ),
        ),
    )
}
NAMES = {r.path: [f.name for f in r.fields] + ["code"] for r in RESOURCES.values()}


def _choices(field: Field, offer: dict[str, Any]) -> list[tuple[str, str]]:
    fixed = {
        "TYPES": TYPES,
        "NIVEAUX": NIVEAUX,
        "RUBRIQUES": RUBRIQUES,
        "ALERTES": ALERTES,
        "COULEURS": COULEURS,
        "FREQUENCES": FREQUENCES,
    }.get(field.choices or "")
    if fixed is not None:
        return [(code, _(label)) for code, label in fixed]
    return [(row["code"], f"{row['libelle']} ({row['code']})") for row in offer.get(field.choices or "", [])]


def _body(resource: Resource, form) -> dict[str, Any]:
    """The API's body from the form: empty optional fields left out, numbers and dates as typed
    (the API says in French what is wrong with them), boxes as booleans."""
    body: dict[str, Any] = {}
    for f in resource.fields:
        if f.kind == "bool":
            body[f.name] = form.get(f.name) == "oui"
        elif f.kind == "multi":
            body[f.name] = [v for v in form.getall(f.name, []) if isinstance(v, str)]
        else:
            value = form.get(f.name, "")
            value = value.strip() if isinstance(value, str) else ""
            if value:
                body[f.name] = int(value) if f.kind == "int" and value.isdigit() else value
    return body


def _values(record: dict[str, Any]) -> dict[str, Any]:
    """A saved row as the form shows it."""
    shown: dict[str, Any] = {}
    for name, value in record.items():
        if isinstance(value, bool):
            shown[name] = "oui" if value else ""
        elif isinstance(value, list):
            shown[name] = value
        else:
            shown[name] = "" if value is None else str(value)
    return shown


async def _offer(request: web.Request) -> dict[str, Any]:
    await staff_allowed(request, "administer_offer")
    return await api(request).get(request, "/staff/offre")


def _resource(request: web.Request) -> Resource:
    resource = RESOURCES.get(request.match_info["resource"])
    if resource is None:
        raise web.HTTPNotFound()
    return resource


def _record(offer: dict[str, Any], resource: Resource, code: str) -> dict[str, Any]:
    for row in offer[resource.key]:
        if row["code"] == code:
            return row
    raise web.HTTPNotFound()


def _pieces_of(offer: dict[str, Any], formation: dict[str, Any]) -> list[dict[str, Any]]:
    """The pièces a candidature to this formation is asked for (whatever its type de traitement)."""
    return [
        p
        for p in offer["pieces"]
        if p["niveau"] == "etablissement"
        or (p["niveau"] == "centre" and p["centre_code"] == formation["centre_code"])
        or (p["niveau"] == "formation" and p["formation_code"] == formation["code"])
    ]


@routes.get(OFFRE)
async def overview(request: web.Request) -> web.Response:
    offer = await _offer(request)
    couleurs = {code: _(label) for code, label in COULEURS}
    return page(
        request,
        "gestion/offre.html",
        {
            "offer": offer,
            "resources": RESOURCES,
            "couleur_label": lambda code: couleurs.get(code, code),
            "alertes": [(code, _(label)) for code, label in ALERTES],  # in this order, not the API's
            "section": OFFRE,
            "values": {},
            "errors": {},
        },
        title=_("Offre de formation"),
    )


async def _form_page(
    request: web.Request,
    offer: dict[str, Any],
    resource: Resource,
    code: str | None,
    values: dict[str, Any],
    context: dict[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    record = _record(offer, resource, code) if code else None
    fields = [(f, _choices(f, offer) if f.choices else []) for f in resource.fields]
    title = f"{_(resource.title)} — {record['libelle']}" if record else _(resource.new)
    extra: dict[str, Any] = {}
    if record and resource.path == "formations":
        extra["pieces"] = _pieces_of(offer, record)
    if record and resource.path == "campagnes":
        extra["prolongations"] = [p for p in offer["prolongations"] if p["campagne_code"] == code]
    return page(
        request,
        "gestion/offre_form.html",
        {
            "resource": resource,
            "fields": fields,
            "code": code,
            "record": record,
            "values": values,
            "errors": {},
            "section": OFFRE,
            **extra,
            **(context or {}),
        },
        status=status,
        title=title,
    )


@routes.get(OFFRE + "/{resource}/" + NEW)
async def new_form(request: web.Request) -> web.Response:
    resource = _resource(request)
    offer = await _offer(request)
    defaults = {
        "max_candidatures": "20",
        "ordre": "0",
        "ouverte": "oui",
        "unique_par_candidature": "oui",
        "couleur": "blue-ecume",
    }
    preset = {
        name: request.query[name][:40] for name in ("niveau", "formation_code", "centre_code") if name in request.query
    }
    return await _form_page(request, offer, resource, None, {**defaults, **preset})


@routes.get(OFFRE + "/{resource}/{code}")
async def edit_form(request: web.Request) -> web.Response:
    resource = _resource(request)
    offer = await _offer(request)
    code = request.match_info["code"]
    return await _form_page(request, offer, resource, code, _values(_record(offer, resource, code)))


@routes.post(OFFRE + "/{resource}/{code}")
async def save(request: web.Request) -> web.Response:
    resource = _resource(request)
    form = await read_form(request)
    code = request.match_info["code"]
    creating = code == NEW
    if creating:
        code = form.get("code", "").strip()
    body = _body(resource, form)
    try:
        if not code:
            raise Problem(
                422,
                "invalid_input",
                _("Les données envoyées sont invalides."),
                [{"field": "code", "message": _("Indiquez le code.")}],
            )
        if creating and code == NEW:
            raise Problem(
                422,
                "invalid_input",
                _("Les données envoyées sont invalides."),
                [{"field": "code", "message": _("Ce code est réservé : choisissez-en un autre.")}],
            )
        reply = await api(request).call(
            request, "PUT", f"/staff/offre/{resource.path}/{quote(code, safe='')}", json_body=body
        )
    except Problem as problem:
        if problem.status >= 500 or problem.status == 403:
            raise
        errors, summary = field_errors(problem, NAMES[resource.path])
        values = {**text_values(form), **{f.name: body.get(f.name, []) for f in resource.fields if f.kind == "multi"}}
        offer = await _offer(request)
        return await _form_page(
            request,
            offer,
            resource,
            None if creating else code,
            values,
            {"errors": errors, "problem": summary},
            status=problem.status,
        )
    flash = "offre_creee" if reply.status == 201 else "offre_enregistree"
    return redirect(f"{OFFRE}/{resource.path}/{quote(code, safe='')}", flash, code, request=request)


# -- a campaign's extensions after an incident ---------------------------------------------------


def _paris(day: str, hour: str) -> str:
    """The form's day and time (Paris) as an instant; what does not read as one goes as typed, for
    the API to say what is wrong."""
    try:
        return datetime.combine(date.fromisoformat(day), time.fromisoformat(hour), PARIS).isoformat()
    except ValueError:
        return f"{day}T{hour}"


@routes.post(OFFRE + "/campagnes/{code}/prolongations")
async def extend(request: web.Request) -> web.Response:
    form = await read_form(request)
    code = request.match_info["code"]
    body = {
        "incident_debut": _paris(form.get("incident_date", "").strip(), form.get("incident_heure", "").strip()),
        "heures": form.get("heures", "").strip(),
        "motif": form.get("motif", "").strip(),
    }
    try:
        reply = await api(request).call(
            request, "POST", f"/staff/offre/campagnes/{quote(code, safe='')}/prolongations", json_body=body
        )
    except Problem as problem:
        if problem.status >= 500 or problem.status == 403:
            raise
        errors, summary = field_errors(problem, ("heures", "motif", "incident_debut"))
        if "incident_debut" in errors:
            errors["incident_date"] = errors.pop("incident_debut")
        offer = await _offer(request)
        resource = RESOURCES["campagnes"]
        values = {
            **_values(_record(offer, resource, code)),
            **text_values(form, ("incident_date", "incident_heure", "heures", "motif")),
        }
        return await _form_page(
            request,
            offer,
            resource,
            code,
            values,
            {"errors": errors, "prolongation_errors": errors, "prolongation_problem": summary},
            status=problem.status,
        )
    prolonged = int(reply.body.get("candidatures", 0))
    if reply.body.get("deja_appliquee"):
        flash = "prolongation_deja_appliquee"
    else:
        flash = "prolongation_appliquee" if prolonged else "prolongation_sans_candidature"
    return redirect(f"{OFFRE}/campagnes/{quote(code, safe='')}", flash, str(prolonged), request=request)


# -- a piece's template -----------------------------------------------------------------------------


def _piece(offer: dict[str, Any], code: str) -> dict[str, Any]:
    return _record(offer, RESOURCES["pieces"], code)


async def _mark_template(request: web.Request, piece: dict[str, Any], present: bool) -> None:
    """The piece says whether candidates are offered a template: kept in step with the file."""
    if piece["has_template"] != present:
        body = {k: v for k, v in piece.items() if k not in ("code", "id") and v is not None}
        await api(request).call(
            request,
            "PUT",
            f"/staff/offre/pieces/{quote(piece['code'], safe='')}",
            json_body={**body, "has_template": present},
        )


@routes.post(OFFRE + "/pieces/{code}/modele")
async def upload_template(request: web.Request) -> web.Response:
    """The template's PDF (multipart: the CSRF field first, then the libellé, then the file), streamed to the API."""
    code = request.match_info["code"]
    offer = await _offer(request)
    piece = _piece(offer, code)
    back = f"{OFFRE}/pieces/{quote(code, safe='')}"
    try:
        fields, part = await read_upload(request, ("libelle_modele",))
        headers = {"Content-Type": "application/octet-stream", "X-File-Name": quote(part.filename[:500])}
        await api(request).call(
            request,
            "PUT",
            f"/staff/pieces/{piece['id']}/modele",
            headers=headers,
            params={"libelle": fields.get("libelle_modele", "") or piece["libelle"][:300]},
            data=chunks_of(part, TEMPLATE_LIMIT),
        )
        await _mark_template(request, piece, True)
    except Problem as problem:
        if problem.status >= 500 or problem.status == 403:
            raise
        return await _form_page(
            request,
            offer,
            RESOURCES["pieces"],
            code,
            _values(piece),
            {"template_error": problem.detail},
            status=problem.status,
        )
    return redirect(back, "modele_depose", part.filename, request=request)


@routes.get(OFFRE + "/pieces/{code}/modele")
async def download_template(request: web.Request) -> web.StreamResponse:
    piece = _piece(await _offer(request), request.match_info["code"])
    return await api(request).stream(request, f"/staff/pieces/{piece['id']}/modele")


@routes.post(OFFRE + "/pieces/{code}/modele/suppression")
async def delete_template(request: web.Request) -> web.Response:
    await read_form(request)
    code = request.match_info["code"]
    piece = _piece(await _offer(request), code)
    back = f"{OFFRE}/pieces/{quote(code, safe='')}"
    try:
        await api(request).call(request, "DELETE", f"/staff/pieces/{piece['id']}/modele")
        await _mark_template(request, piece, False)
    except Problem as problem:
        if problem.status >= 500 or problem.status == 403:
            raise
        return redirect(back, "action_refusee", problem.detail, request=request)
    return redirect(back, "modele_retire", request=request)
