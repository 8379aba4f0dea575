"""Administration of the offer: campaigns, centres, types de diplôme, commissions, formations, pieces;
and the étiquettes the staff put on candidatures."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from ecandidat.contracts import access
from ecandidat.contracts.auth import Principal
from ecandidat.contracts.candidatures import (
    EtiquetteRecord,
    Etiquettes,
    GetEtiquettes,
    GetOfferAdmin,
    OfferAdmin,
    SaveCampagne,
    SaveCentre,
    SaveCommission,
    SaveEtiquette,
    SaveFormation,
    SavePiece,
    SaveTypeDiplome,
    Saved,
)
from ecandidat.contracts.errors import ErrorDetail, InvalidInput

from . import deadlines, store
from .context import Deps


def _require_admin(principal: Principal) -> None:
    access.require(
        principal,
        access.OFFER_ADMINS,
        "La gestion de l'offre de formation est réservée aux administrateurs et à la scolarité.",
    )


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput("Les données envoyées sont invalides.", details=[ErrorDetail(field=field, message=message)])


async def _save_row(deps: Deps, req: SaveCentre | SaveTypeDiplome | SaveEtiquette, table: str) -> Saved:
    """A row of the offer that references nothing, saved by its code as the request says it."""
    _require_admin(req.principal)
    async with deps.pool.acquire() as conn:
        created = await store.upsert(conn, table, "code", req.model_dump(exclude={"principal"}))
    return Saved(code=req.code, created=created)


async def save_campagne(deps: Deps, req: SaveCampagne) -> Saved:
    _require_admin(req.principal)
    if req.fin < req.debut:
        raise _invalid("fin", "La date de fin doit suivre la date de début.")
    now = deps.now()
    async with deps.pool.acquire() as conn, conn.transaction():
        was_in_service = await store.campagne_en_service_is(conn, req.code)
        if req.en_service:  # one campaign in service at a time: this one replaces the previous, archived
            await store.retire_campagnes(conn, but=req.code, now=now)
            await store.set_archivee(conn, req.code, None)
        created = await store.upsert(conn, "campagnes", "code", req.model_dump(exclude={"principal"}))
        if was_in_service and not req.en_service:  # taken out of service: archived
            await store.set_archivee(conn, req.code, now)
    return Saved(code=req.code, created=created)


async def save_centre(deps: Deps, req: SaveCentre) -> Saved:
    return await _save_row(deps, req, "centres")


async def save_type_diplome(deps: Deps, req: SaveTypeDiplome) -> Saved:
    return await _save_row(deps, req, "types_diplome")


async def save_commission(deps: Deps, req: SaveCommission) -> Saved:
    _require_admin(req.principal)
    async with deps.pool.acquire() as conn:
        if not await store.exists(conn, "centres", req.centre_code):
            raise _invalid("centre_code", "Ce centre de candidature n'existe pas.")
        created = await store.upsert(conn, "commissions", "code", req.model_dump(exclude={"principal"}))
    return Saved(code=req.code, created=created)


async def save_formation(deps: Deps, req: SaveFormation) -> Saved:
    _require_admin(req.principal)
    if req.depot_fin < req.depot_debut:
        raise _invalid("depot_fin", "La fin du dépôt doit suivre son début.")
    if req.date_retour < req.depot_debut:
        raise _invalid("date_retour", "La date limite de retour ne peut précéder l'ouverture du dépôt.")
    async with deps.pool.acquire() as conn, conn.transaction():
        for field, table, code in (
            ("centre_code", "centres", req.centre_code),
            ("type_code", "types_diplome", req.type_code),
            ("commission_code", "commissions", req.commission_code),
        ):
            if not await store.exists(conn, table, code):
                raise _invalid(field, "Cette référence n'existe pas.")
        old = await store.lock_formation(conn, req.code)
        moved = old is not None and old["date_retour"] != req.date_retour
        followers = await deadlines.formation_followers(conn, req.code) if moved else []
        created = await store.upsert(conn, "formations", "code", req.model_dump(exclude={"principal"}))
        if moved:  # the candidatures that follow the formation's date move with it
            await deadlines.formation_date_changed(conn, followers, req.principal.email, deps.now(), deps.clock)
    return Saved(code=req.code, created=created)


async def save_piece(deps: Deps, req: SavePiece) -> Saved:
    _require_admin(req.principal)
    if (req.niveau == "centre") != (req.centre_code is not None):
        raise _invalid("centre_code", "Un centre est requis pour une pièce de niveau centre, et seulement pour elle.")
    if (req.niveau == "formation") != (req.formation_code is not None):
        raise _invalid(
            "formation_code", "Une formation est requise pour une pièce de niveau formation, et seulement pour elle."
        )
    for t in req.types_traitement:
        if t not in ("acces_controle", "acces_direct"):
            raise _invalid("types_traitement", f"Type de traitement inconnu : {t}.")
    async with deps.pool.acquire() as conn:
        if not await store.exists(conn, "centres", req.centre_code):
            raise _invalid("centre_code", "Ce centre de candidature n'existe pas.")
        if not await store.exists(conn, "formations", req.formation_code):
            raise _invalid("formation_code", "Cette formation n'existe pas.")
        piece_id = await store.piece_id(conn, req.code) or uuid.uuid4()
        values = {"id": piece_id, **req.model_dump(exclude={"principal"})}
        created = await store.upsert(conn, "pieces", "code", values)
    return Saved(code=req.code, created=created, id=piece_id)


async def save_etiquette(deps: Deps, req: SaveEtiquette) -> Saved:
    return await _save_row(deps, req, "etiquettes")


async def etiquettes(deps: Deps, req: GetEtiquettes) -> Etiquettes:
    access.require(req.principal, access.ANY_STAFF, "Les étiquettes sont réservées aux personnels.")
    async with deps.pool.acquire() as conn:
        rows = await store.etiquettes(conn)
    return Etiquettes(items=[EtiquetteRecord.model_validate(dict(r)) for r in rows])


def with_destruction_prevue(deps: Deps, campagne: dict[str, Any]) -> dict[str, Any]:
    """An archived campaign not destroyed yet, with when its candidatures will be (the retention)."""
    if campagne["archivee_le"] is not None and campagne["detruite_le"] is None:
        campagne["destruction_prevue"] = campagne["archivee_le"] + timedelta(
            days=deps.settings.candidatures_retention_days
        )
    return campagne


async def offer_admin(deps: Deps, req: GetOfferAdmin) -> OfferAdmin:
    """Every row of the offer, in the order the pages list them."""
    _require_admin(req.principal)
    async with deps.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        rows = await store.offer_rows(conn)
    rows["campagnes"] = [with_destruction_prevue(deps, campagne) for campagne in rows["campagnes"]]
    return OfferAdmin(**rows)
