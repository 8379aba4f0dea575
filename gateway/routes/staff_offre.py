"""Administration of the offer (admins and scolarité): campaigns, centres, types, commissions,
formations and pièces justificatives, each saved by its code (PUT creates or replaces)."""

from __future__ import annotations

from aiohttp import web

from ecandidat.contracts import candidatures as c
from ecandidat.contracts.access import OFFER_ADMINS

from ..api import PRINCIPAL, REQUEST_ID, Api, body_of, json_response, parse_body
from ..keys import RPC


RESOURCES = [
    ("campagnes", "une campagne", c.SaveCampagne),
    ("centres", "un centre de candidature", c.SaveCentre),
    ("types-diplome", "un type de diplôme", c.SaveTypeDiplome),
    ("commissions", "une commission", c.SaveCommission),
    ("formations", "une formation", c.SaveFormation),
    ("pieces", "une pièce justificative", c.SavePiece),
]


def register(api: Api) -> None:
    for path, what, model in RESOURCES:
        _register_one(api, path, what, model)


def _register_one(api: Api, path: str, what: str, model: type) -> None:
    body_model = body_of(model, without=("principal", "code"))

    async def save(request: web.Request) -> web.Response:
        body = await parse_body(request, body_model)
        req = model(principal=request[PRINCIPAL], code=request.match_info["code"], **body.model_dump())
        saved = await request.app[RPC].call(req, c.Saved, request_id=request[REQUEST_ID])
        return json_response(saved, status=201 if saved.created else 200)

    save.__name__ = f"save_{path.replace('-', '_')}"
    api.route("PUT", f"/api/v1/staff/offre/{path}/{{code}}", summary=f"Créer ou modifier {what}", tag="offre (administration)",
              body=body_model, response=c.Saved, realm="staff", roles=OFFER_ADMINS)(save)
