"""Rpc endpoints of the candidatures service."""

from __future__ import annotations

from ecandidat.contracts import candidatures as c
from ecandidat.runtime.rpc import RpcContext, RpcServer

from . import admission, deadlines, handlers, listing, offer, staff


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
        return c.CandidatureList(items=await handlers.list_mine(pool, rpc, req.principal, clock))

    @server.route(c.GetCandidature)
    async def get(req: c.GetCandidature, ctx: RpcContext) -> c.CandidatureView:
        return await handlers.get(pool, rpc, req.principal, req.candidature_id, clock)

    @server.route(c.GetSuivi)
    async def suivi(req: c.GetSuivi, ctx: RpcContext) -> c.Suivi:
        return await handlers.suivi(pool, req.principal, req.candidature_id)

    @server.route(c.GetCandidatureFacts)
    async def candidature_facts(req: c.GetCandidatureFacts, ctx: RpcContext) -> c.CandidatureFacts:
        return await handlers.facts(pool, req.candidature_id)

    @server.route(c.CancelCandidature)
    async def cancel(req: c.CancelCandidature, ctx: RpcContext) -> c.CandidatureView:
        return await handlers.cancel(pool, req.principal, req.candidature_id, clock)

    @server.route(c.TransmitCandidature)
    async def transmit(req: c.TransmitCandidature, ctx: RpcContext) -> c.CandidatureView:
        return await handlers.transmit(pool, rpc, req.principal, req.candidature_id, clock)

    @server.route(c.AnswerAdmission)
    async def answer(req: c.AnswerAdmission, ctx: RpcContext) -> c.CandidatureView:
        return await admission.answer(pool, rpc, req, clock)

    @server.route(c.SetStatut)
    async def set_statut(req: c.SetStatut, ctx: RpcContext) -> c.BatchResult:
        return await staff.set_statut(pool, req, clock)

    @server.route(c.SetTypeTraitement)
    async def set_type_traitement(req: c.SetTypeTraitement, ctx: RpcContext) -> c.BatchResult:
        return await staff.set_type_traitement(pool, req, clock)

    @server.route(c.EnterDecision)
    async def enter_decision(req: c.EnterDecision, ctx: RpcContext) -> c.DecisionRecord:
        return await staff.enter_decision(pool, req, clock)

    @server.route(c.ValidateDecisions)
    async def validate_decisions(req: c.ValidateDecisions, ctx: RpcContext) -> c.BatchResult:
        return await staff.validate_decisions(pool, req, clock)

    @server.route(c.AddNote)
    async def add_note(req: c.AddNote, ctx: RpcContext) -> c.NoteRecord:
        return await staff.add_note(pool, req, clock)

    @server.route(c.GetStaffCandidature)
    async def staff_view(req: c.GetStaffCandidature, ctx: RpcContext) -> c.StaffCandidatureView:
        return await staff.staff_view(pool, rpc, req, clock)

    @server.route(c.ListCandidatures)
    async def list_candidatures(req: c.ListCandidatures, ctx: RpcContext) -> c.CandidaturePage:
        return await listing.list_candidatures(pool, req)

    @server.route(c.CountCandidatures)
    async def count_candidatures(req: c.CountCandidatures, ctx: RpcContext) -> c.StatutCounts:
        return await listing.count_candidatures(pool, req)

    @server.route(c.SetFormationDateRetour)
    async def set_formation_date(req: c.SetFormationDateRetour, ctx: RpcContext) -> c.DeadlinesChanged:
        return await deadlines.set_formation_date(pool, req, clock)

    @server.route(c.SetCandidatureDateRetour)
    async def set_candidature_date(req: c.SetCandidatureDateRetour, ctx: RpcContext) -> c.DeadlinesChanged:
        return await deadlines.set_candidature_date(pool, req, clock)

    @server.route(c.ExtendCampaignDeadlines)
    async def extend_campaign(req: c.ExtendCampaignDeadlines, ctx: RpcContext) -> c.Prolongation:
        return await deadlines.extend_campaign(pool, req, clock)

    @server.route(c.SaveFormation)
    async def save_formation(req: c.SaveFormation, ctx: RpcContext) -> c.Saved:
        return await offer.save_formation(pool, req, clock)

    @server.route(c.GetOfferAdmin)
    async def offer_admin(req: c.GetOfferAdmin, ctx: RpcContext) -> c.OfferAdmin:
        return await offer.offer_admin(pool, req)

    for model, fn in (
        (c.SaveCampagne, offer.save_campagne),
        (c.SaveCentre, offer.save_centre),
        (c.SaveTypeDiplome, offer.save_type_diplome),
        (c.SaveCommission, offer.save_commission),
        (c.SavePiece, offer.save_piece),
    ):
        server.route(model)(_saver(pool, fn))


def _saver(pool, fn):
    async def handle(req, ctx: RpcContext) -> c.Saved:
        return await fn(pool, req)

    return handle
