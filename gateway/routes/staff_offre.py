"""Administration of the offer (admins and scolarité): campaigns, centres, types, commissions,
formations and pièces justificatives, each saved by its code (PUT creates or replaces)."""

from __future__ import annotations

from aiohttp import web

from ecandidat.contracts import candidatures as c
from ecandidat.contracts.access import MANAGERS, OFFER_ADMINS

from ..api import PRINCIPAL, Api, body_of, call, json_response, parse_body, relay


RESOURCES = [
    ("campagnes", "une campagne", c.SaveCampagne),
    ("centres", "un centre de candidature", c.SaveCentre),
    ("types-diplome", "un type de diplôme", c.SaveTypeDiplome),
    ("commissions", "une commission", c.SaveCommission),
    ("formations", "une formation", c.SaveFormation),
    ("pieces", "une pièce justificative", c.SavePiece),
    ("etiquettes", "une étiquette (pour les candidatures)", c.SaveEtiquette),
]


FormationDateBody = body_of(
    c.SetFormationDateRetour, without=("principal", "formation_code"), name="DateLimiteRetourFormation"
)
ProlongationBody = body_of(
    c.ExtendCampaignDeadlines, without=("principal", "campagne_code"), name="NouvelleProlongation"
)
# Extending a whole campaign touches every open candidature in one transaction: give it time.
EXTENSION_TIMEOUT = 120.0


def register(api: Api) -> None:
    @api.route(
        "GET",
        "/api/v1/staff/offre",
        summary="L'offre telle que ses administrateurs la modifient : campagnes "
        "(et leurs prolongations), centres, types de diplôme, commissions, formations (fermées comprises), pièces",
        tag="offre (administration)",
        response=c.OfferAdmin,
        realm="staff",
        roles=OFFER_ADMINS,
    )
    async def get_offer_admin(request: web.Request) -> web.Response:
        return await relay(request, c.GetOfferAdmin(principal=request[PRINCIPAL]))

    for path, what, model in RESOURCES:
        _register_one(api, path, what, model)

    @api.route(
        "PUT",
        "/api/v1/staff/offre/formations/{code}/date-limite-retour",
        summary="Changer la date limite de retour d'une formation : ses candidatures la suivent (sauf celles "
        "qui ont leur propre date) et leurs candidats sont prévenus",
        tag="offre (administration)",
        body=FormationDateBody,
        response=c.DeadlinesChanged,
        realm="staff",
        roles=MANAGERS,
        responses={403: "Formation hors de votre périmètre", 404: "Formation inconnue"},
    )
    async def set_formation_date_limite_retour(request: web.Request) -> web.Response:
        body = await parse_body(request, FormationDateBody)
        req = c.SetFormationDateRetour(
            principal=request[PRINCIPAL], formation_code=request.match_info["code"], **body.model_dump()
        )
        return await relay(request, req, timeout=EXTENSION_TIMEOUT)

    @api.route(
        "POST",
        "/api/v1/staff/offre/campagnes/{code}/prolongations",
        summary="Après un incident, prolonger de N heures toutes les dates limites de retour encore ouvertes "
        "au début de l'incident (un courriel à chaque candidat ; une seule prolongation par incident)",
        tag="offre (administration)",
        body=ProlongationBody,
        response=c.Prolongation,
        status=201,
        realm="staff",
        roles=OFFER_ADMINS,
        responses={
            200: "Cet incident a déjà été pris en compte : rien n'a changé",
            404: "Campagne inconnue",
            409: "Cet incident a déjà été pris en compte avec une autre durée",
        },
    )
    async def extend_campaign_deadlines(request: web.Request) -> web.Response:
        body = await parse_body(request, ProlongationBody)
        req = c.ExtendCampaignDeadlines(
            principal=request[PRINCIPAL], campagne_code=request.match_info["code"], **body.model_dump()
        )
        done = await call(request, req, c.Prolongation, timeout=EXTENSION_TIMEOUT)
        return json_response(done, status=200 if done.deja_appliquee else 201)


def _register_one(api: Api, path: str, what: str, model: type) -> None:
    body_model = body_of(model, without=("principal", "code"))

    async def save(request: web.Request) -> web.Response:
        body = await parse_body(request, body_model)
        req = model(principal=request[PRINCIPAL], code=request.match_info["code"], **body.model_dump())
        saved = await call(request, req, c.Saved)
        return json_response(saved, status=201 if saved.created else 200)

    save.__name__ = f"save_{path.replace('-', '_')}"
    api.route(
        "PUT",
        f"/api/v1/staff/offre/{path}/{{code}}",
        summary=f"Créer ou modifier {what}",
        tag="offre (administration)",
        body=body_model,
        response=c.Saved,
        realm="staff",
        roles=OFFER_ADMINS,
        responses={201: "Créé", 404: "Un code référencé n'existe pas", 409: "Modification refusée"},
    )(save)
