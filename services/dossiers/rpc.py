"""Rpc endpoints of the dossiers service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecandidat.contracts.dossiers import (
    CodeLibelle,
    CommuneRef,
    Communes,
    Completeness,
    DossierView,
    GetCompleteness,
    GetDossier,
    GetReferentiels,
    GetSection,
    ImportRegistry,
    Referentiels,
    RegistryImportReport,
    SaveSection,
    SearchCommunes,
    SectionSaved,
    SectionView,
)
from ecandidat.runtime.rpc import RpcContext, RpcServer

from . import domain, handlers, store
from .referentiels import fold

if TYPE_CHECKING:
    from .service import DossiersService


def register(server: RpcServer, service: "DossiersService") -> None:
    @server.route(GetDossier)
    async def get_dossier(req: GetDossier, ctx: RpcContext) -> DossierView:
        async with service.pool.acquire() as conn:
            return await handlers.get_dossier(
                conn, req.principal, req.account_id, service.referentiels if req.lisible else None
            )

    @server.route(GetSection)
    async def get_section(req: GetSection, ctx: RpcContext) -> SectionView:
        async with service.pool.acquire() as conn:
            return await handlers.get_section(conn, req.principal, req.account_id, req.section)

    @server.route(SaveSection)
    async def save_section(req: SaveSection, ctx: RpcContext) -> SectionSaved:
        return await handlers.save_section(service.pool, req, service.referentiels, service.clock)

    @server.route(GetCompleteness)
    async def completeness(req: GetCompleteness, ctx: RpcContext) -> Completeness:
        async with service.pool.acquire() as conn:
            dossier = await store.load_dossier(conn, req.account_id) or domain.Dossier(req.account_id)
        return domain.completeness(dossier)

    refs = service.referentiels
    listes = Referentiels(
        pays=[CodeLibelle(code=k, nom=v) for k, v in sorted(refs.pays.items(), key=lambda kv: fold(kv[1]))],
        departements=[CodeLibelle(code=k, nom=v) for k, v in sorted(refs.departements.items())],
        source="ISO 3166-1 (pycountry) ; INSEE, Code officiel géographique 2026 et La Poste, base officielle des codes postaux",
    )

    @server.route(GetReferentiels)
    async def referentiels(req: GetReferentiels, ctx: RpcContext) -> Referentiels:
        return listes

    @server.route(SearchCommunes)
    async def search_communes(req: SearchCommunes, ctx: RpcContext) -> Communes:
        found = refs.search(code_postal=req.code_postal, departement=req.departement, nom=req.nom, limit=req.limit)
        return Communes(
            items=[
                CommuneRef(
                    code=c.code, nom=c.nom, departement=c.departement, type=c.type, codes_postaux=list(c.codes_postaux)
                )
                for c in found
            ]
        )

    @server.route(ImportRegistry)
    async def import_registry(req: ImportRegistry, ctx: RpcContext) -> RegistryImportReport:
        return await handlers.import_registry(service.pool, req, service.referentiels, service.clock)
