"""One function per command: load → domain rules → save with its events, in one transaction."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from ecandidat.contracts import access
from ecandidat.contracts.auth import Principal
from ecandidat.contracts.candidatures import (
    Apply,
    CancelCandidature,
    CandidatureCreated,
    CandidatureFacts,
    CandidatureList,
    CandidatureView,
    ContactAddress,
    GetCandidature,
    GetCandidatureFacts,
    GetOfferTree,
    GetSuivi,
    ListMyCandidatures,
    OfferCentre,
    OfferFormation,
    OfferTree,
    OfferType,
    RequiredPiece,
    Suivi,
    TransmitCandidature,
)
from ecandidat.contracts.documents import (
    FreezePieces,
    FreezeResult,
    GetPiecesReadiness,
    PiecesReadinessList,
    ReleasePieces,
)
from ecandidat.contracts.dossiers import Completeness, GetCompleteness
from ecandidat.contracts.errors import Forbidden, NotFound, ServiceError
from ecandidat.runtime.french import dernier_jour
from ecandidat.runtime import forgotten
from ecandidat.runtime.outbox import add_event
from ecandidat.runtime.rpc import RpcClient

from . import domain, store
from .context import Deps
from .domain import Action, Refused
from .lifecycle import change_statut, event_facts
from .suivi import etapes

FREEZE_LEASE = timedelta(minutes=2)

log = logging.getLogger(__name__)


def _not_found() -> NotFound:
    return NotFound("Cette candidature n'existe pas.")


def check_access(row: asyncpg.Record | None, principal: Principal) -> asyncpg.Record:
    """The candidate sees only their own candidatures (others do not exist for them); staff
    see what their scope covers (`ecandidat.contracts.access`)."""
    if row is None:
        raise _not_found()
    if principal.realm == "candidate":
        if row["account_id"] != principal.account_id:
            raise _not_found()
        return row
    access.check_read(principal, store.scope_of(row))
    return row


async def missing_pieces(
    rpc: RpcClient, rows: Sequence[Mapping[str, Any]], now: datetime
) -> dict[uuid.UUID, list[str]]:
    """The missing pieces (as the documents service counts them) of the candidatures that could
    otherwise be transmitted at `now`; a candidature whose pieces documents has not opened yet,
    or when documents does not answer, is absent (not transmittable now: the transmission would
    be refused the same way)."""
    ids = [r["id"] for r in rows if store.candidature_of(r).state_refusal(now) is None]
    if not ids:
        return {}
    try:
        reply = await rpc.call(GetPiecesReadiness(candidature_ids=ids), PiecesReadinessList)
    except ServiceError as err:
        log.warning("pieces readiness unknown", extra={"code": err.code})
        return {}
    return {i.candidature_id: [m.libelle for m in i.missing] for i in reply.items if i.known}


async def sections_to_complete(
    rpc: RpcClient, rows: Sequence[Mapping[str, Any]], missing: dict[uuid.UUID, list[str]]
) -> dict[uuid.UUID, list[str] | None]:
    """The sections its formation requires that the dossier lacks, for each candidature that
    could be transmitted but for its pieces and whose formation requires some (the others need no
    call): as the transmission will find them (None when the dossiers service does not answer)."""
    asked = [r for r in rows if r["id"] in missing and r.get("rubriques_exigees")]

    async def ask(row: Mapping[str, Any]) -> list[str] | None:
        try:
            reply = await rpc.call(
                GetCompleteness(account_id=row["account_id"], exigees=row["rubriques_exigees"]), Completeness
            )
        except ServiceError as err:
            log.warning("dossier completeness unknown", extra={"code": err.code})
            return None
        return list(reply.a_completer)

    return dict(zip([r["id"] for r in asked], await asyncio.gather(*map(ask, asked)), strict=True))


async def views(rpc: RpcClient, rows: Sequence[Mapping[str, Any]], now: datetime) -> list[CandidatureView]:
    missing = await missing_pieces(rpc, rows, now)
    sections = await sections_to_complete(rpc, rows, missing)
    return [view_of(r, now, missing.get(r["id"]), sections.get(r["id"], [])) for r in rows]


def view_of(
    row: Mapping[str, Any], now: datetime, missing: list[str] | None = None, sections: Sequence[str] | None = ()
) -> CandidatureView:
    """The candidature as its candidate (or staff) reads it; `missing` as `missing_pieces` says
    (None: unknown, so not transmittable now), `sections` as `sections_to_complete` says (None:
    the dossiers service did not answer, so not transmittable now, and the view says why)."""
    cand = store.candidature_of(row)
    return CandidatureView(
        id=row["id"],
        account_id=row["account_id"],
        numero_dossier=row["numero_dossier"],
        formation_code=row["formation_code"],
        formation_libelle=row["formation_libelle"],
        type_diplome=row["type_diplome"],
        centre_code=row["centre_code"],
        centre_libelle=row["centre_libelle"],
        commission_code=row["commission_code"],
        campagne_libelle=row["campagne_libelle"],
        statut="annulee" if cand.cancelled else row["statut"],
        statut_libelle="Annulée" if cand.cancelled else domain.STATUTS[row["statut"]],
        statut_date=row["statut_date"],
        type_traitement=row["type_traitement"],
        type_traitement_libelle=domain.TYPES_TRAITEMENT[row["type_traitement"]],
        type_traitement_valide=row["type_traitement_valide"],
        decision=row["decision"],
        date_limite_retour=dernier_jour(cand.retour_deadline()),
        limite_retour=cand.retour_deadline(),
        date_reception=row["date_reception"],
        created_at=row["created_at"],
        cancelled_at=row["cancelled_at"],
        contact=ContactAddress(
            libelle=row["contact_libelle"], adresse=row["contact_adresse"], mail=row["contact_mail"]
        ),
        decision_libelle=domain.DECISIONS.get(row["decision"], "En attente"),
        confirmation_deadline=row["confirmation_deadline"],
        confirmed_at=row["confirmed_at"],
        withdrawn_at=row["withdrawn_at"],
        can_cancel=cand.can_cancel(now),
        can_transmit=sections is not None and not sections and cand.can_transmit(now, missing),
        rubriques_a_completer=list(sections or ()),
        verification_indisponible=sections is None,
        can_change_pieces=cand.can_change_pieces(now),
        can_confirm=cand.can_confirm(now),
        can_withdraw=cand.can_withdraw(now),
        **decision_details(row),
    )


def decision_details(row: Mapping[str, Any]) -> dict:
    """What the candidate reads of the validated decision."""
    if row["decision"] is None:
        return {}
    details = {
        "decision_motif": row["d_motif"],
        "decision_rang": row["rang_lc"],
        "decision_commentaire": row["d_commentaire"],
    }
    if row["decision"] == "preselection" and row["d_preselection_date"]:
        heure = f" à {row['d_preselection_heure']:%H:%M}" if row["d_preselection_heure"] else ""
        details["preselection"] = f"Le {row['d_preselection_date']:%d/%m/%Y}{heure}, {row['d_preselection_lieu']}"
    return details


async def check_dossier(
    rpc: RpcClient, principal: Principal, exigees: list[str], *, before: str = "candidater"
) -> None:
    """Refuses the application, or its transmission, while the dossier lacks what it needs
    (informations personnelles, adresse, baccalauréat, and the optional sections the formation
    requires), each said in French by the dossiers service, with the sections to complete."""
    completeness = await rpc.call(GetCompleteness(account_id=principal.account_id, exigees=exigees), Completeness)
    if not completeness.complet:
        missing = list(completeness.manquants) or ["Votre dossier est incomplet."]
        raise domain.incomplete_dossier(missing, completeness.a_completer, before=before)


async def apply(deps: Deps, req: Apply) -> CandidatureView:
    principal, formation_code = req.principal, req.formation_code
    if principal.realm != "candidate" or not principal.numero_dossier:
        raise Forbidden("Seul un candidat peut candidater.")
    async with deps.pool.acquire() as conn:
        frow = await store.formation(conn, formation_code)
        if frow is None:
            raise NotFound("Cette formation n'existe pas.")
        campagne = store.campagne_of(await store.campagne_en_service(conn))
    formation = store.formation_of(frow)
    # Cheap checks first, so that a closed formation does not cost a call to the dossiers service.
    domain.check_can_apply(
        campagne=campagne,
        formation=formation,
        now=deps.now(),
        already_applied=False,
        count_in_centre=0,
        max_in_centre=frow["max_candidatures"],
    )
    await check_dossier(deps.rpc, principal, frow["rubriques_exigees"])
    candidature_id = uuid.uuid4()
    async with deps.pool.acquire() as conn, conn.transaction():
        await store.lock_candidate(conn, principal.account_id)
        if await forgotten.is_forgotten(conn, principal.account_id):
            raise Forbidden("Ce compte a été supprimé.")
        now = deps.now()
        campagne = domain.open_campagne(store.campagne_of(await store.campagne_en_service(conn)), now)
        domain.check_can_apply(
            campagne=campagne,
            formation=formation,
            now=now,
            already_applied=await store.live_candidature_exists(
                conn, principal.account_id, formation_code, campagne.code
            ),
            count_in_centre=await store.count_in_centre(
                conn, principal.account_id, formation.centre_code, campagne.code
            ),
            max_in_centre=frow["max_candidatures"],
        )
        type_traitement, valide = domain.initial_type_traitement(formation.type_traitement)
        who = await store.candidat(conn, principal.account_id)
        await store.insert_candidature(
            conn,
            id=candidature_id,
            account_id=principal.account_id,
            numero_dossier=principal.numero_dossier,
            formation_code=formation.code,
            centre_code=formation.centre_code,
            campagne_code=campagne.code,
            type_traitement=type_traitement,
            type_traitement_valide=valide,
            created_at=now,
            statut_date=now,
            nom=who["nom"] if who else None,
            prenom=who["prenom"] if who else None,
        )
        await store.add_history(conn, candidature_id, now, principal.numero_dossier, "created")
        pieces = domain.required_pieces(
            await store.all_pieces(conn),
            centre_code=formation.centre_code,
            formation_code=formation.code,
            type_traitement=type_traitement,
        )
        required = [
            RequiredPiece(
                piece_id=p["id"],
                code=p["code"],
                libelle=p["libelle"],
                ordre=p["ordre"],
                conditionnelle=p["conditionnelle"],
                has_template=p["has_template"],
            )
            for p in pieces
        ]
        await store.insert_required_pieces(conn, candidature_id, required)
        row = await store.held_candidature_view(conn, candidature_id)
        await add_event(conn, created_event(row, required), subject=str(candidature_id), clock=deps.clock)
    return view_of(row, now)


def created_event(row: asyncpg.Record, pieces: list[RequiredPiece]) -> CandidatureCreated:
    deadline = store.candidature_of(row).retour_deadline()
    return CandidatureCreated(
        **event_facts(row),
        commission_code=row["commission_code"],
        centre_libelle=row["centre_libelle"],
        type_traitement=row["type_traitement"],
        date_limite_retour=dernier_jour(deadline),
        limite_retour=deadline,
        campagne_libelle=row["campagne_libelle"],
        pieces=pieces,
    )


async def facts(deps: Deps, req: GetCandidatureFacts) -> CandidatureFacts:
    """`candidature.created` as it would be sent now, for a service its event has not reached yet."""
    async with deps.pool.acquire() as conn:
        row = await store.candidature_view(conn, req.candidature_id)
        if row is None:
            raise _not_found()
        pieces = await store.required_pieces_of(conn, req.candidature_id)
    return CandidatureFacts(
        created=created_event(row, pieces), statut=row["statut"], cancelled=row["cancelled_at"] is not None
    )


async def get(deps: Deps, req: GetCandidature) -> CandidatureView:
    async with deps.pool.acquire() as conn:
        row = check_access(await store.candidature_view(conn, req.candidature_id), req.principal)
    [view] = await views(deps.rpc, [row], deps.now())
    return view


async def suivi(deps: Deps, req: GetSuivi) -> Suivi:
    async with deps.pool.acquire() as conn:
        check_access(await store.candidature_view(conn, req.candidature_id), req.principal)
        rows = await store.history(conn, req.candidature_id)
    return Suivi(candidature_id=req.candidature_id, etapes=etapes(rows))


async def list_mine(deps: Deps, req: ListMyCandidatures) -> CandidatureList:
    if req.principal.realm != "candidate":
        raise Forbidden("Cette liste est celle des candidatures d'un candidat.")
    async with deps.pool.acquire() as conn:
        rows = await store.candidatures_of(conn, req.principal.account_id)
    return CandidatureList(items=await views(deps.rpc, rows, deps.now()))


async def cancel(deps: Deps, req: CancelCandidature) -> CandidatureView:
    principal = req.principal
    async with deps.pool.acquire() as conn, conn.transaction():
        locked = await store.lock_candidature(conn, req.candidature_id)
        if locked is None or principal.realm != "candidate" or locked["account_id"] != principal.account_id:
            raise _not_found()
        now = deps.now()
        row = await change_statut(
            store.Tx(conn, deps.clock), locked, Action.CANCEL, by=principal.numero_dossier or "", now=now
        )
    assert row is not None, "a cancellation changes the state, or is refused"
    return view_of(row, now)


async def transmit(deps: Deps, req: TransmitCandidature) -> CandidatureView:
    """Transmission is race-free against piece changes: the documents service checks and freezes
    the pieces atomically first; if the transmission then fails here, the freeze is released."""
    principal, candidature_id, rpc = req.principal, req.candidature_id, deps.rpc
    async with deps.pool.acquire() as conn:
        row = await store.candidature_view(conn, candidature_id)
    if row is None or principal.realm != "candidate" or row["account_id"] != principal.account_id:
        raise _not_found()
    store.candidature_of(row).next_statut(Action.TRANSMIT, deps.now())
    # The sections the formation requires were there when the candidate applied; the candidate may
    # have emptied one since (only the informations personnelles are locked by a candidature, and
    # the sections every application needs cannot be emptied).
    if row["rubriques_exigees"]:
        await check_dossier(rpc, principal, row["rubriques_exigees"], before="transmettre votre candidature")
    missing: list[str] | None
    try:
        frozen = await rpc.call(
            FreezePieces(candidature_id=candidature_id, until=deps.now() + FREEZE_LEASE), FreezeResult
        )
        missing = [m.libelle for m in frozen.missing]
    except NotFound:
        missing = None  # the documents service has not opened this candidature's pieces yet
    refusal = domain.pieces_refusal(missing)
    if refusal is not None:
        raise refusal
    try:
        async with deps.pool.acquire() as conn, conn.transaction():
            locked = await store.lock_candidature(conn, candidature_id)
            if locked is None:
                raise _not_found()
            now = deps.now()
            row = await change_statut(
                store.Tx(conn, deps.clock), locked, Action.TRANSMIT, by=principal.numero_dossier or "", now=now
            )
    except Refused as refused:
        # Transmitted meanwhile by another request of the candidate's (a double click): the freeze
        # is that transmission's, which documents makes permanent; releasing it would reopen the
        # pieces until then.
        if refused.extra.get("reason") != "deja_transmise":
            await _release(rpc, candidature_id)
        raise
    except BaseException:
        await _release(rpc, candidature_id)
        raise
    assert row is not None, "a transmission changes the state, or is refused"
    return view_of(row, now)


async def _release(rpc: RpcClient, candidature_id: uuid.UUID) -> None:
    try:
        await rpc.call(ReleasePieces(candidature_id=candidature_id), FreezeResult)
    except ServiceError:
        pass  # the provisional freeze lapses by itself


async def offer_tree(deps: Deps, req: GetOfferTree) -> OfferTree:
    now = deps.now()
    async with deps.pool.acquire() as conn:
        campagne = store.campagne_of(await store.campagne_en_service(conn))
        rows = await store.open_offer(conn) if campagne and campagne.is_open(now) else []
    centres: dict[str, OfferCentre] = {}
    for r in rows:
        if not store.formation_of(r).deposit_open(now):
            continue
        centre = centres.get(r["centre_code"])
        if centre is None:
            centre = centres[r["centre_code"]] = OfferCentre(
                code=r["centre_code"],
                libelle=r["centre_libelle"],
                types=[],
                contact=ContactAddress(
                    libelle=r["contact_libelle"], adresse=r["contact_adresse"], mail=r["contact_mail"]
                ),
            )
        if not centre.types or centre.types[-1].code != r["type_code"]:
            centre.types.append(OfferType(code=r["type_code"], libelle=r["type_libelle"], formations=[]))
        centre.types[-1].formations.append(
            OfferFormation(
                code=r["code"],
                libelle=r["libelle"],
                type_traitement=r["type_traitement"],
                type_traitement_libelle=domain.TYPES_TRAITEMENT[r["type_traitement"]],
                depot_debut=r["depot_debut"],
                depot_fin=r["depot_fin"],
                date_limite_retour=r["date_retour"],
                capacite=r["capacite"],
                rubriques_exigees=r["rubriques_exigees"],
            )
        )
    return OfferTree(campagne=campagne.libelle if campagne else None, centres=list(centres.values()))
