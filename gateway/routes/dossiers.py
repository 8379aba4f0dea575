"""The candidate's dossier: `/api/v1/dossier`, section by section.

Each section has a version, sent as its `ETag`. A save must carry the version it was based on in
`If-Match` (`If-Match: "3"`): an older version answers 412 (someone saved in between — another tab,
or the scolarité), a missing `If-Match` answers 428 so that no client can overwrite blindly. A
section never written has version 0 (`If-Match: "0"`).
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from ecandidat.contracts.auth import Principal
from ecandidat.contracts.dossiers import (
    SECTION_LABELS,
    SECTION_MODELS,
    SECTIONS,
    WRITABLE_SECTIONS,
    Communes,
    Completeness,
    DossierView,
    GetDossier,
    GetReferentiels,
    GetSection,
    Referentiels,
    SaveSection,
    SearchCommunes,
    SectionSaved,
    SectionView,
)
from ecandidat.contracts.errors import NotFound

from ..api import API_PREFIX, PRINCIPAL, Api, call, json_response, parse_body, parse_query, path_uuid, relay
from ..auth import DOSSIER_TAG
from ..problems import problem
from ..sessions import DOSSIER_VIEW
from . import kept, relay_kept

SLUGS = {s.replace("_", "-"): s for s in SECTIONS}
SAVE_RESPONSES = {
    404: "Dossier inexistant ou inaccessible",
    409: "Rubrique verrouillée, importée, ou informations personnelles à remplir d'abord",
    412: "La rubrique a changé depuis la lecture (If-Match périmé)",
    428: "En-tête If-Match manquant",
}
REFERENCE_CACHE = {"Cache-Control": "public, max-age=3600"}
_ETAG = re.compile(r'^\s*(?:W/)?"(\d{1,9})"\s*$')


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(request: web.Request) -> int | web.Response:
    """The version named by `If-Match`, or the 428/400 problem to answer."""
    header = request.headers.get("If-Match")
    if header is None:
        return problem(
            428,
            "precondition_required",
            "Indiquez la version de la rubrique que vous modifiez (en-tête If-Match, valeur de l'ETag lu).",
            request=request,
        )
    match = _ETAG.match(header.split(",")[0])
    if match is None:
        return problem(
            400,
            "bad_request",
            "L'en-tête If-Match doit reprendre l'ETag de la rubrique, par exemple \"3\".",
            request=request,
        )
    return int(match[1])


def section_of(request: web.Request) -> str:
    section = SLUGS.get(request.match_info["section"])
    if section is None:
        raise NotFound(f"Rubrique inconnue. Rubriques : {', '.join(SLUGS)}.")
    return section


def account_of(request: web.Request) -> uuid.UUID:
    return path_uuid(request, "account_id", "Ce dossier")


async def read_section(request: web.Request, account_id: uuid.UUID) -> web.Response:
    reply = await call(
        request,
        GetSection(principal=request[PRINCIPAL], account_id=account_id, section=section_of(request)),
        SectionView,
    )
    return json_response(reply, headers={"ETag": etag(reply.version)})


async def save(request: web.Request, account_id: uuid.UUID, section: str, model: type[BaseModel]) -> web.Response:
    version = expected_version(request)
    if isinstance(version, web.Response):
        return version
    content = await parse_body(request, model)
    principal: Principal = request[PRINCIPAL]
    # A refused save raises: 412 bodies carry the section's current `version`.
    reply = await call(
        request,
        SaveSection(principal=principal, account_id=account_id, expected_version=version, **{section: content}),
        SectionSaved,
    )
    return json_response(reply, headers={"ETag": etag(reply.section.version)})


def own_dossier(request: web.Request) -> GetDossier:
    principal: Principal = request[PRINCIPAL]
    return GetDossier(principal=principal, account_id=principal.account_id)


async def my_dossier(request: web.Request) -> dict[str, Any]:
    """The caller's own dossier view (`DossierView`), from this gateway's copy while it holds."""
    return json.loads(await kept(request, own_dossier(request), DOSSIER_VIEW))


def register(api: Api) -> None:
    @api.route(
        "GET",
        f"{API_PREFIX}/dossier",
        summary="Mon dossier : toutes les rubriques et leur complétude",
        tag=DOSSIER_TAG,
        response=DossierView,
        realm="candidate",
    )
    async def get_my_dossier(request: web.Request) -> web.Response:
        return await relay_kept(request, own_dossier(request), DOSSIER_VIEW)

    # The candidate's completeness and sections are parts of the dossier's view: read from the same
    # copy (the service builds them alike for the whole dossier and for one part).

    @api.route(
        "GET",
        f"{API_PREFIX}/dossier/completude",
        summary="Ce qui manque à mon dossier pour candidater",
        tag=DOSSIER_TAG,
        response=Completeness,
        realm="candidate",
    )
    async def get_my_completeness(request: web.Request) -> web.Response:
        return json_response((await my_dossier(request))["completude"])

    @api.route(
        "GET",
        f"{API_PREFIX}/dossier/sections/{{section}}",
        summary="Une rubrique de mon dossier (avec son ETag)",
        tag=DOSSIER_TAG,
        response=SectionView,
        realm="candidate",
        responses={404: "Rubrique inconnue"},
        versioned=True,
    )
    async def get_my_section(request: web.Request) -> web.Response:
        section = section_of(request)
        view = next(s for s in (await my_dossier(request))["sections"] if s["section"] == section)
        return json_response(view, headers={"ETag": etag(view["version"])})

    for section in WRITABLE_SECTIONS:
        _register_save(api, section)

    @api.route(
        "GET",
        f"{API_PREFIX}/referentiels",
        summary="Pays et départements proposés dans le dossier",
        tag="référentiels",
        response=Referentiels,
    )
    async def get_referentiels(request: web.Request) -> web.Response:
        return await relay(request, GetReferentiels(), headers=REFERENCE_CACHE)

    @api.route(
        "GET",
        f"{API_PREFIX}/referentiels/communes",
        summary="Communes françaises par code postal, département ou début de nom (codes INSEE à saisir)",
        tag="référentiels",
        query=SearchCommunes,
        response=Communes,
    )
    async def search_communes(request: web.Request) -> web.Response:
        return await relay(request, parse_query(request, SearchCommunes), headers=REFERENCE_CACHE)


def _register_save(api: Api, section: str) -> None:
    model = SECTION_MODELS[section]

    async def handler(request: web.Request) -> web.Response:
        return await save(request, request[PRINCIPAL].account_id, section, model)

    handler.__name__ = f"save_my_{section}"
    api.route(
        "PUT",
        f"{API_PREFIX}/dossier/sections/{section.replace('_', '-')}",
        summary=f"Enregistrer la rubrique « {SECTION_LABELS[section]} » (If-Match obligatoire)",
        tag=DOSSIER_TAG,
        body=model,
        response=SectionSaved,
        realm="candidate",
        responses=SAVE_RESPONSES,
        versioned=True,
    )(handler)
