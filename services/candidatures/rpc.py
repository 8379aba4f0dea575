"""Rpc endpoints of the candidatures service: the table of requests and the handlers that answer them."""

from __future__ import annotations

from ecandidat.contracts import candidatures as c
from ecandidat.runtime.rpc import Route, RpcServer, register_routes, route

from . import admission, deadlines, handlers, listing, offer, staff
from .context import Deps

ROUTES: tuple[Route, ...] = (
    route(c.GetOfferTree, handlers.offer_tree),
    route(c.Apply, handlers.apply),
    route(c.ListMyCandidatures, handlers.list_mine),
    route(c.GetCandidature, handlers.get),
    route(c.GetSuivi, handlers.suivi),
    route(c.GetCandidatureFacts, handlers.facts),
    route(c.CancelCandidature, handlers.cancel),
    route(c.TransmitCandidature, handlers.transmit),
    route(c.AnswerAdmission, admission.answer),
    route(c.SetStatut, staff.set_statut),
    route(c.SetTypeTraitement, staff.set_type_traitement),
    route(c.EnterDecision, staff.enter_decision),
    route(c.ValidateDecisions, staff.validate_decisions),
    route(c.AddNote, staff.add_note),
    route(c.GetStaffCandidature, staff.staff_view),
    route(c.ListCandidatures, listing.list_candidatures),
    route(c.CountCandidatures, listing.count_candidatures),
    route(c.GetTableau, listing.get_tableau),
    route(c.ListCampagnesSuivies, listing.campagnes_suivies),
    route(c.SetFormationDateRetour, deadlines.set_formation_date),
    route(c.SetCandidatureDateRetour, deadlines.set_candidature_date),
    route(c.ExtendCampaignDeadlines, deadlines.extend_campaign),
    route(c.GetOfferAdmin, offer.offer_admin),
    route(c.SaveCampagne, offer.save_campagne),
    route(c.SaveCentre, offer.save_centre),
    route(c.SaveTypeDiplome, offer.save_type_diplome),
    route(c.SaveCommission, offer.save_commission),
    route(c.SaveFormation, offer.save_formation),
    route(c.SavePiece, offer.save_piece),
    route(c.SaveEtiquette, offer.save_etiquette),
    route(c.GetEtiquettes, offer.etiquettes),
    route(c.SetEtiquettes, staff.set_etiquettes),
)


def register(server: RpcServer, deps: Deps) -> None:
    register_routes(server, deps, ROUTES)
