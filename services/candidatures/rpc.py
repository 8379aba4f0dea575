"""Rpc endpoints of the candidatures service."""

from __future__ import annotations

from ecandidat.contracts import candidatures as c
from ecandidat.runtime.rpc import RpcContext, RpcServer

from . import handlers, offer


def register(server: RpcServer, service) -> None:
    pool, clock = service.pool, service.clock
    rpc = service.rpc_client

    @server.route(c.GetOfferTree)
    async def offer_tree(req: c.GetOfferTree, ctx: RpcContext) -> c.OfferTree:
        return await handlers.offer_tree(pool, clock)

    @server.route(c.Apply)
    async def apply(req: c.Apply, ctx: RpcContext) -> c.CandidatureView:
        return await handlers.apply(pool, rpc, req.principal, req.formation_code, clock)

    @server.route(c.ListMyCandidatures)
    async def list_mine(req: c.ListMyCandidatures, ctx: RpcContext) -> c.CandidatureList:
        return c.CandidatureList(items=await handlers.list_mine(pool, req.principal, clock))

    @server.route(c.GetCandidature)
    async def get(req: c.GetCandidature, ctx: RpcContext) -> c.CandidatureView:
        return await handlers.get(pool, req.principal, req.candidature_id, clock)

    @server.route(c.CancelCandidature)
    async def cancel(req: c.CancelCandidature, ctx: RpcContext) -> c.CandidatureView:
        return await handlers.cancel(pool, req.principal, req.candidature_id, clock)

    @server.route(c.TransmitCandidature)
    async def transmit(req: c.TransmitCandidature, ctx: RpcContext) -> c.CandidatureView:
        return await handlers.transmit(pool, rpc, req.principal, req.candidature_id, clock)

    for model, fn in (
        (c.SaveCampagne, offer.save_campagne),
        (c.SaveCentre, offer.save_centre),
        (c.SaveTypeDiplome, offer.save_type_diplome),
        (c.SaveCommission, offer.save_commission),
        (c.SaveFormation, offer.save_formation),
        (c.SavePiece, offer.save_piece),
    ):
        server.route(model)(_saver(pool, fn))


def _saver(pool, fn):
    async def handle(req, ctx: RpcContext) -> c.Saved:
        return await fn(pool, req)

    return handle
