"""Rpc endpoints of the dossiers service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecandidat.contracts.dossiers import (
    Completeness,
    DossierView,
    GetCompleteness,
    GetDossier,
    GetSection,
    ImportRegistry,
    RegistryImportReport,
    SaveSection,
    SectionSaved,
    SectionView,
)
from ecandidat.runtime.rpc import RpcContext, RpcServer

from . import domain, handlers, store

if TYPE_CHECKING:
    from .service import DossiersService


def register(server: RpcServer, service: "DossiersService") -> None:
    @server.route(GetDossier)
    async def get_dossier(req: GetDossier, ctx: RpcContext) -> DossierView:
        async with service.pool.acquire() as conn:
            return await handlers.get_dossier(conn, req.principal, req.account_id)

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

    @server.route(ImportRegistry)
    async def import_registry(req: ImportRegistry, ctx: RpcContext) -> RegistryImportReport:
        return await handlers.import_registry(service.pool, req, service.referentiels, service.clock)
