"""Staff side of candidatures: lists and exports, the full view, statuts, type de traitement,
decisions, notes, étiquettes (gestionnaires scoped to their centres, commission members to their
commissions)."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import AsyncIterator
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ecandidat.contracts import candidatures as c
from ecandidat.contracts.access import ANY_STAFF, DECIDERS, MANAGERS

from ecandidat.contracts.documents import DownloadTicket, OpenLetterDownload

from ..api import PRINCIPAL, Api, body_of, call, parse_query, path_uuid, relay
from ..streaming import proxy_download
from . import PathId, Rpc, register_rpcs

UNKNOWN_FILTER = {404: "Formation, centre, commission ou campagne inconnu"}
BATCH_REFUSALS = {
    404: "Une des candidatures n'existe pas",
    409: "Une des candidatures ne le permet pas (annulée…) : rien n'est changé",
}


class ListQuery(c.Filters):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sort: str = Field(default="date_reception", pattern="^(date_reception|nom|rang)$")
    cursor: str | None = Field(default=None, max_length=500)
    limit: int = Field(default=50, ge=1, le=500)


class CountQuery(c.Filters):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TableauQuery(BaseModel):
    """A dashboard selects formations only: by formation, centre or commission."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    formation_code: str | None = Field(default=None, max_length=40)
    centre_code: str | None = Field(default=None, max_length=40)
    commission_code: str | None = Field(default=None, max_length=40)
    campagne_code: Annotated[str | None, c.Filters.model_fields["campagne_code"]] = None


StatutBody = body_of(c.SetStatut, name="ChangementStatut")
TypeTraitementBody = body_of(c.SetTypeTraitement, name="ChangementTypeTraitement")
DecisionBody = body_of(c.EnterDecision, without=("principal", "candidature_id"), name="SaisieDecision")
ValidationBody = body_of(c.ValidateDecisions, name="ValidationDecisions")
NoteBody = body_of(c.AddNote, without=("principal", "candidature_id"), name="NouvelleNote")
EtiquettesBody = body_of(c.SetEtiquettes, without=("principal", "candidature_id"), name="EtiquettesCandidature")
DateRetourBody = body_of(
    c.SetCandidatureDateRetour, without=("principal", "candidature_id"), name="DateLimiteRetourCandidature"
)

CANDIDATURE = PathId("candidature_id", "Cette candidature")

STAFF_CANDIDATURE = (
    Rpc(
        "GET",
        "/api/v1/staff/candidatures/{candidature_id}",
        "staff_get_candidature",
        "Vue complète d'une candidature",
        c.GetStaffCandidature,
        c.StaffCandidatureView,
    ),
    Rpc(
        "POST",
        "/api/v1/staff/candidatures/statut",
        "staff_set_statut",
        "Changer le statut du dossier (une ou plusieurs candidatures)",
        c.SetStatut,
        c.BatchResult,
        body=StatutBody,
        roles=MANAGERS,
        responses=BATCH_REFUSALS,
    ),
    Rpc(
        "POST",
        "/api/v1/staff/candidatures/type-traitement",
        "staff_set_type_traitement",
        "Changer ou valider le type de traitement",
        c.SetTypeTraitement,
        c.BatchResult,
        body=TypeTraitementBody,
        roles=MANAGERS,
        responses=BATCH_REFUSALS,
    ),
    Rpc(
        "POST",
        "/api/v1/staff/candidatures/{candidature_id}/decision",
        "staff_enter_decision",
        "Saisir une décision (à valider ensuite)",
        c.EnterDecision,
        c.DecisionRecord,
        body=DecisionBody,
        status=201,
        roles=DECIDERS,
        responses={409: "Décision impossible dans l'état de la candidature (annulée, désistée, pas complète)"},
    ),
    Rpc(
        "POST",
        "/api/v1/staff/candidatures/decisions/validation",
        "staff_validate_decisions",
        "Valider les décisions saisies (une ou plusieurs)",
        c.ValidateDecisions,
        c.BatchResult,
        body=ValidationBody,
        roles=MANAGERS,
        responses=BATCH_REFUSALS,
    ),
    Rpc(
        "PUT",
        "/api/v1/staff/candidatures/{candidature_id}/date-limite-retour",
        "staff_set_date_limite_retour",
        "Donner à une candidature sa propre date limite de retour (date_retour null : celle de sa "
        "formation) ; le candidat est prévenu, l'historique garde qui, quand et pourquoi",
        c.SetCandidatureDateRetour,
        c.DeadlinesChanged,
        body=DateRetourBody,
        roles=MANAGERS,
        responses={403: "Hors de votre périmètre", 404: "Candidature inconnue", 409: "Candidature annulée"},
    ),
    Rpc(
        "POST",
        "/api/v1/staff/candidatures/{candidature_id}/notes",
        "staff_add_note",
        "Ajouter une note au bloc-notes",
        c.AddNote,
        c.NoteRecord,
        body=NoteBody,
        status=201,
        roles=DECIDERS,
    ),
    Rpc(
        "PUT",
        "/api/v1/staff/candidatures/{candidature_id}/etiquettes",
        "staff_set_etiquettes",
        "Mettre ses étiquettes à une candidature (toutes : une liste vide les retire), gardées dans son historique",
        c.SetEtiquettes,
        c.EtiquettesSet,
        body=EtiquettesBody,
        roles=DECIDERS,
        responses={422: "Étiquette inconnue, ou archivée et pas déjà sur la candidature"},
    ),
    Rpc(
        "GET",
        "/api/v1/staff/etiquettes",
        "staff_get_etiquettes",
        "Les étiquettes que les personnels mettent sur les candidatures (archivées comprises), dans leur ordre",
        c.GetEtiquettes,
        c.Etiquettes,
        roles=ANY_STAFF,
    ),
)

EXPORT_COLUMNS = [
    ("numero_dossier", "Numéro de dossier"),
    ("nom", "Nom"),
    ("prenom", "Prénom"),
    ("email", "Adresse mail"),
    ("formation_code", "Code formation"),
    ("formation_libelle", "Formation"),
    ("statut", "Statut du dossier"),
    ("type_traitement", "Type de traitement"),
    ("type_traitement_valide", "T.T. validé"),
    ("decision", "Décision"),
    ("decision_en_attente", "Décision à valider"),
    ("rang", "Rang liste complémentaire"),
    ("pieces_pretes", "Pièces déposées"),
    ("pieces_total", "Pièces demandées"),
    ("pieces_refusees", "Pièces refusées"),
    ("date_reception", "Date de réception"),
    ("confirmation_deadline", "Date limite de confirmation"),
    ("confirmed_at", "Confirmé le"),
    ("withdrawn_at", "Désisté le"),
    ("created_at", "Candidature créée le"),
    ("etiquettes", "Étiquettes"),
]


async def _libelles(request: web.Request) -> dict[str, str]:
    """The étiquettes' libellés by code, for the exports."""
    etiquettes = await call(request, c.GetEtiquettes(principal=request[PRINCIPAL]), c.Etiquettes)
    return {e.code: e.libelle for e in etiquettes.items}


def _value(row: c.CandidatureRow, key: str, libelles: dict[str, str]) -> object:
    """The column's value of the row: the étiquettes by their libellés."""
    value = getattr(row, key)
    return ", ".join(libelles.get(code, code) for code in value) if key == "etiquettes" else value


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if hasattr(value, "isoformat"):
        return value.isoformat(timespec="minutes") if hasattr(value, "hour") else value.isoformat()
    text = str(value)
    # A cell starting with = + - @ would be a formula in a spreadsheet: neutralise it.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


async def _all_rows(request: web.Request, query: ListQuery) -> AsyncIterator[c.CandidatureRow]:
    cursor = None
    filters = c.Filters(**query.model_dump(exclude={"sort", "cursor", "limit"}))
    while True:
        page = await call(
            request,
            c.ListCandidatures(
                principal=request[PRINCIPAL], filters=filters, sort=query.sort, cursor=cursor, limit=500
            ),
            c.CandidaturePage,
        )
        for row in page.items:
            yield row
        cursor = page.next_cursor
        if cursor is None:
            return
        # The campaign of the first page for every page, even if another is put in service meanwhile.
        filters = filters.model_copy(update={"campagne_code": page.campagne_code})


def register(api: Api) -> None:
    @api.route(
        "GET",
        "/api/v1/staff/campagnes",
        summary="Les campagnes dont les candidatures se consultent : celle en service, puis les campagnes "
        "archivées dont les candidatures sont conservées (jusqu'à leur destruction prévue)",
        tag="gestion des candidatures",
        response=c.CampagnesSuivies,
        realm="staff",
        roles=ANY_STAFF,
    )
    async def staff_campagnes(request: web.Request) -> web.Response:
        return await relay(request, c.ListCampagnesSuivies(principal=request[PRINCIPAL]))

    @api.route(
        "GET",
        "/api/v1/staff/candidatures",
        summary="Liste filtrée des candidatures (pagination par curseur)",
        tag="gestion des candidatures",
        query=ListQuery,
        response=c.CandidaturePage,
        realm="staff",
        roles=ANY_STAFF,
        responses=UNKNOWN_FILTER,
    )
    async def staff_list_candidatures(request: web.Request) -> web.Response:
        q = parse_query(request, ListQuery)
        filters = c.Filters(**q.model_dump(exclude={"sort", "cursor", "limit"}))
        return await relay(
            request,
            c.ListCandidatures(
                principal=request[PRINCIPAL], filters=filters, sort=q.sort, cursor=q.cursor, limit=q.limit
            ),
        )

    @api.route(
        "GET",
        "/api/v1/staff/candidatures/comptes",
        summary="Nombre de candidatures de la liste filtrée par statut "
        "du dossier (le filtre statut n'est pas appliqué)",
        tag="gestion des candidatures",
        query=CountQuery,
        response=c.StatutCounts,
        realm="staff",
        roles=ANY_STAFF,
        responses=UNKNOWN_FILTER,
    )
    async def staff_count_candidatures(request: web.Request) -> web.Response:
        filters = c.Filters(**parse_query(request, CountQuery).model_dump())
        return await relay(request, c.CountCandidatures(principal=request[PRINCIPAL], filters=filters))

    @api.route(
        "GET",
        "/api/v1/staff/candidatures/tableau",
        summary="Tableau de bord : par formation, les candidatures par statut du dossier, les décisions "
        "validées et à valider, les confirmations et les désistements, la capacité d'accueil",
        tag="gestion des candidatures",
        query=TableauQuery,
        response=c.Tableau,
        realm="staff",
        roles=ANY_STAFF,
        responses=UNKNOWN_FILTER,
    )
    async def staff_tableau(request: web.Request) -> web.Response:
        filters = c.Filters(**parse_query(request, TableauQuery).model_dump())
        return await relay(request, c.GetTableau(principal=request[PRINCIPAL], filters=filters))

    @api.route(
        "GET",
        "/api/v1/staff/candidatures/export.csv",
        summary="Export CSV de la liste filtrée",
        tag="gestion des candidatures",
        query=ListQuery,
        realm="staff",
        roles=ANY_STAFF,
        content_types={"response": "text/csv"},
        responses=UNKNOWN_FILTER,
    )
    async def staff_export_csv(request: web.Request) -> web.StreamResponse:
        q = parse_query(request, ListQuery)
        rows = _all_rows(request, q)
        first = await anext(rows, None)  # errors (scope, filters) become problem+json before streaming
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": 'attachment; filename="candidatures.csv"',
            }
        )
        await response.prepare(request)
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=";")
        libelles = await _libelles(request)
        writer.writerow([label for _, label in EXPORT_COLUMNS])
        await response.write(("\ufeff" + buffer.getvalue()).encode())
        row = first
        while row is not None:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow([_cell(_value(row, key, libelles)) for key, _ in EXPORT_COLUMNS])
            await response.write(buffer.getvalue().encode())
            row = await anext(rows, None)
        await response.write_eof()
        return response

    @api.route(
        "GET",
        "/api/v1/staff/candidatures/export.xlsx",
        summary="Export tableur (XLSX) de la liste filtrée",
        tag="gestion des candidatures",
        query=ListQuery,
        realm="staff",
        roles=ANY_STAFF,
        content_types={"response": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
        responses=UNKNOWN_FILTER,
    )
    async def staff_export_xlsx(request: web.Request) -> web.StreamResponse:
        from openpyxl import Workbook

        q = parse_query(request, ListQuery)
        # Read every row first: a refusal (scope, filters) must not leave a half-written workbook.
        libelles = await _libelles(request)
        rows = [[_cell(_value(row, key, libelles)) for key, _ in EXPORT_COLUMNS] async for row in _all_rows(request, q)]
        book = Workbook(write_only=True)
        sheet = book.create_sheet("Candidatures")
        sheet.append([label for _, label in EXPORT_COLUMNS])
        for row in rows:
            sheet.append(row)
        with tempfile.TemporaryFile() as out:
            book.save(out)
            out.seek(0)
            data = out.read()
        return web.Response(
            body=data,
            headers={
                "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "Content-Disposition": 'attachment; filename="candidatures.xlsx"',
            },
        )

    register_rpcs(
        api, STAFF_CANDIDATURE, tag="gestion des candidatures", realm="staff", roles=ANY_STAFF, path_id=CANDIDATURE
    )

    @api.route(
        "GET",
        "/api/v1/staff/candidatures/{candidature_id}/lettre",
        summary="La lettre de la décision actuelle d'une candidature (admission ou avis défavorable, PDF)",
        tag="gestion des candidatures",
        realm="staff",
        roles=ANY_STAFF,
        content_types={"response": "application/pdf"},
        responses={403: "Hors de votre périmètre", 404: "Candidature inconnue, ou pas de lettre"},
    )
    async def staff_download_letter(request: web.Request) -> web.StreamResponse:
        req = OpenLetterDownload(
            principal=request[PRINCIPAL], candidature_id=path_uuid(request, CANDIDATURE.name, CANDIDATURE.what)
        )
        ticket = await call(request, req, DownloadTicket)
        return await proxy_download(request, ticket)
