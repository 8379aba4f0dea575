"""Candidates' dossiers seen by staff, correction of informations personnelles, and the
student-records registry import (`/api/v1/staff/...`).

Coarse checks (staff realm, roles) are declared here; the dossiers service decides the scope
(gestionnaires: candidates with a candidature in one of their centres; commission members: in one
of their commissions; admin and scolarité: everybody).
"""

from __future__ import annotations

import base64
import zlib

from aiohttp import web

from ecandidat.contracts.access import ANY_STAFF, MANAGERS, REGISTRY_ADMINS
from ecandidat.contracts.auth import Principal
from ecandidat.contracts.dossiers import (
    DossierView,
    GetDossier,
    ImportRegistry,
    InformationsPersonnelles,
    RegistryImportReport,
    SectionSaved,
    SectionView,
)
from ecandidat.contracts.errors import InvalidInput

from ..api import API_PREFIX, PRINCIPAL, Api, relay
from ..inputs import continue_body, header_text, refuse_large_declared_body
from .dossiers import SAVE_RESPONSES, account_of, read_section, save

MAX_CSV = 8 * 1024 * 1024  # bytes of CSV accepted in one upload
MAX_PACKED = 600_000  # bytes once gzip-compressed (base64 must fit one NATS message)
IMPORT_TIMEOUT = 60.0


async def _packed_csv(request: web.Request) -> str:
    """Read the upload (at most MAX_CSV bytes) while gzip-compressing it; base64 of the result."""
    if request.content_type not in ("text/csv", "application/csv", "application/octet-stream"):
        raise InvalidInput("Envoyez le fichier CSV tel quel (Content-Type: text/csv).", code="unsupported_media_type")
    too_large = f"Le fichier dépasse {MAX_CSV // (1024 * 1024)} Mo : découpez-le."
    refuse_large_declared_body(request, MAX_CSV, too_large)
    await continue_body(request)
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    packed: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_CSV:
            raise InvalidInput(too_large, code="too_large")
        packed.append(packer.compress(chunk))
    packed.append(packer.flush())
    body = b"".join(packed)
    if size == 0:
        raise InvalidInput("Le fichier est vide.", code="bad_request")
    if len(body) > MAX_PACKED:
        raise InvalidInput("Le fichier est trop volumineux pour un seul envoi : découpez-le.", code="too_large")
    return base64.b64encode(body).decode()


def register(api: Api) -> None:
    @api.route(
        "GET",
        f"{API_PREFIX}/staff/dossiers/{{account_id}}",
        summary="Le dossier complet d'un candidat",
        tag="dossiers (personnel)",
        response=DossierView,
        realm="staff",
        roles=ANY_STAFF,
        responses={404: "Dossier inexistant ou hors de votre périmètre"},
    )
    async def staff_get_dossier(request: web.Request) -> web.Response:
        return await relay(request, GetDossier(principal=request[PRINCIPAL], account_id=account_of(request)))

    @api.route(
        "GET",
        f"{API_PREFIX}/staff/dossiers/{{account_id}}/sections/{{section}}",
        summary="Une rubrique du dossier d'un candidat (avec son ETag)",
        tag="dossiers (personnel)",
        response=SectionView,
        realm="staff",
        roles=ANY_STAFF,
        versioned=True,
    )
    async def staff_get_section(request: web.Request) -> web.Response:
        return await read_section(request, account_of(request))

    @api.route(
        "PUT",
        f"{API_PREFIX}/staff/dossiers/{{account_id}}/sections/informations-personnelles",
        summary="Corriger les informations personnelles d'un candidat (même verrouillées ; If-Match obligatoire)",
        tag="dossiers (personnel)",
        body=InformationsPersonnelles,
        response=SectionSaved,
        realm="staff",
        roles=MANAGERS,
        responses=SAVE_RESPONSES,
        versioned=True,
    )
    async def staff_save_informations_personnelles(request: web.Request) -> web.Response:
        return await save(request, account_of(request), "informations_personnelles", InformationsPersonnelles)

    @api.route(
        "POST",
        f"{API_PREFIX}/staff/registre-etudiants",
        summary="Charger le registre des anciens étudiants (export CSV UTF-8 ; tout ou rien)",
        tag="dossiers (personnel)",
        response=RegistryImportReport,
        realm="staff",
        roles=REGISTRY_ADMINS,
        content_types={"request": "text/csv application/csv application/octet-stream"},
        responses={413: "Fichier trop volumineux", 415: "Envoyer un fichier CSV"},
    )
    async def staff_import_registry(request: web.Request) -> web.Response:
        principal: Principal = request[PRINCIPAL]
        filename = header_text(request.headers.get("X-Filename"), 255)
        return await relay(
            request,
            ImportRegistry(principal=principal, filename=filename or None, csv_gzip_base64=await _packed_csv(request)),
            timeout=IMPORT_TIMEOUT,
        )
