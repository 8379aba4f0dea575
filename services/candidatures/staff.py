"""Staff actions on candidatures: statut du dossier, type de traitement, decisions, notes, full view.

Batch actions are all-or-nothing: one candidature outside the caller's scope, unknown, or refused
by a rule refuses the whole batch and changes nothing.
"""

from __future__ import annotations

import uuid
from functools import partial
from datetime import datetime

import asyncpg

from ecandidat.contracts import access
from ecandidat.contracts import candidatures as c
from ecandidat.contracts.auth import Principal
from ecandidat.contracts.errors import ErrorDetail, InvalidInput, NotFound
from ecandidat.runtime.clock import Clock
from ecandidat.runtime.outbox import add_event

from . import domain, store
from .context import Deps
from .domain import Action, Refused, set_statut_action
from .handlers import views
from .lifecycle import change_statut, event_facts, letter_facts

SYSTEM = "système"


def actor(principal: Principal) -> str:
    return principal.email


async def locked(
    conn: asyncpg.Connection, candidature_id: uuid.UUID, principal: Principal, check=access.check_manage
) -> asyncpg.Record:
    """The candidature, locked, once `check` (the scope rule of the action) lets `principal` act on it."""
    row = await store.lock_candidature(conn, candidature_id)
    if row is None:
        raise NotFound("Cette candidature n'existe pas.", candidature_id=str(candidature_id))
    check(principal, store.scope_of(row))
    return row


async def set_statut(deps: Deps, req: c.SetStatut) -> c.BatchResult:
    updated = []
    action = set_statut_action(req.statut)
    async with deps.pool.acquire() as conn, conn.transaction():
        tx = store.Tx(conn, deps.clock)
        for cid in dict.fromkeys(req.candidature_ids):
            row = await locked(conn, cid, req.principal)
            try:
                changed = await change_statut(
                    tx, row, action, by=actor(req.principal), now=deps.now(), at=req.date, comment=req.commentaire
                )
            except Refused as refused:
                refused.extra["candidature_id"] = str(cid)
                raise
            if changed is not None:
                updated.append(cid)
    return c.BatchResult(updated=updated)


async def set_type_traitement(deps: Deps, req: c.SetTypeTraitement) -> c.BatchResult:
    updated = []
    async with deps.pool.acquire() as conn, conn.transaction():
        for cid in dict.fromkeys(req.candidature_ids):
            row = await locked(conn, cid, req.principal)
            if row["cancelled_at"] is not None:
                raise Refused("Cette candidature est annulée.", reason="annulee", candidature_id=str(cid))
            now = deps.now()
            await store.set_type_traitement(conn, cid, req.type_traitement, req.valide)
            await store.add_history(
                conn,
                cid,
                now,
                actor(req.principal),
                "type_traitement",
                old=row["type_traitement"],
                new=req.type_traitement,
                valide=req.valide,
            )
            if req.type_traitement == "acces_direct" and req.valide and row["decision"] is None:
                # eCandidat: a validated accès direct is a favourable decision.
                decision_id = await store.insert_decision(
                    conn, cid, "favorable", actor(req.principal), now, automatic=True, origine="acces_direct"
                )
                await validate(conn, row, decision_id, actor(req.principal), now, deps.clock)
            updated.append(cid)
    return c.BatchResult(updated=updated)


async def enter_decision(deps: Deps, req: c.EnterDecision) -> c.DecisionRecord:
    domain.check_decision_input(
        req.kind,
        motif=req.motif,
        rang=req.rang,
        preselection_date=req.preselection_date,
        preselection_lieu=req.preselection_lieu,
    )
    async with deps.pool.acquire() as conn, conn.transaction():
        row = await locked(conn, req.candidature_id, req.principal, access.check_decide)
        now = deps.now()
        store.candidature_of(row).next_statut(Action.DECIDE, now)
        fields = req.model_dump(
            include={"motif", "rang", "preselection_date", "preselection_heure", "preselection_lieu", "commentaire"}
        )
        decision_id = await store.insert_decision(
            conn, req.candidature_id, req.kind, actor(req.principal), now, **fields
        )
        await store.add_history(conn, req.candidature_id, now, actor(req.principal), "decision_saisie", kind=req.kind)
        record = await store.decision(conn, decision_id)
    return c.DecisionRecord.model_validate(dict(record))


async def validate_decisions(deps: Deps, req: c.ValidateDecisions) -> c.BatchResult:
    updated = []
    async with deps.pool.acquire() as conn, conn.transaction():
        for cid in dict.fromkeys(req.candidature_ids):
            row = await locked(conn, cid, req.principal)
            pending = await store.pending_decision(conn, cid)
            if pending is None:
                raise Refused(
                    "Aucune décision en attente de validation pour cette candidature.",
                    reason="rien_a_valider",
                    candidature_id=str(cid),
                )
            now = deps.now()
            store.candidature_of(row).next_statut(Action.DECIDE, now)
            await validate(conn, row, pending, actor(req.principal), now, deps.clock)
            updated.append(cid)
    return c.BatchResult(updated=updated)


async def validate(
    conn: asyncpg.Connection, row: asyncpg.Record, decision_id: uuid.UUID, by: str, now: datetime, clock: Clock
) -> None:
    """Make a decision visible to the candidate and tell everyone who needs to know (`row`: the
    candidature, locked)."""
    cid = row["id"]
    d = await store.validate_decision(conn, cid, decision_id, by, now)
    deadline = None
    if d["kind"] == "favorable":
        deadline = domain.confirmation_deadline(
            now,
            candidature_date=row["date_confirmation"],
            formation_date=row["formation_date_confirmation"],
            delai_jours=row["delai_confirmation_jours"],
        )
    await store.set_decision(
        conn,
        cid,
        d["kind"],
        decision_id,
        now,
        rang=d["rang"] if d["kind"] == "liste_complementaire" else None,
        deadline=deadline,
    )
    await store.add_history(conn, cid, now, by, "decision_validee", kind=d["kind"], automatic=d["automatic"])
    if row["decision"] == "liste_complementaire" and d["kind"] != "liste_complementaire":
        await renumber_liste(conn, row["formation_code"], row["campagne_code"], now)
    view = await store.held_candidature_view(conn, cid)
    facts = event_facts(view)
    who = await store.candidat(conn, row["account_id"])
    await add_event(
        conn,
        c.DecisionValidated(
            **facts,
            decision_id=decision_id,
            kind=d["kind"],
            motif=d["motif"],
            rang=d["rang"],
            preselection_date=d["preselection_date"],
            preselection_heure=d["preselection_heure"],
            preselection_lieu=d["preselection_lieu"],
            commentaire=d["commentaire"],
            confirmation_deadline=deadline,
            validated_at=now,
            centre_libelle=view["centre_libelle"],
            contact_libelle=view["contact_libelle"],
            contact_adresse=view["contact_adresse"],
            automatic=d["automatic"],
            origine=d["origine"],
            **letter_facts(view),
            nom=who["nom"] if who else None,
            prenom=who["prenom"] if who else None,
        ),
        subject=str(cid),
        clock=clock,
    )


async def renumber_liste(conn: asyncpg.Connection, formation_code: str, campagne: str, now: datetime) -> None:
    """The candidates still on the campaign's liste complémentaire move up: ranks 1, 2, 3… in their order."""
    for moved in await store.renumber_liste(conn, formation_code, campagne):
        await store.add_history(
            conn, moved["id"], now, SYSTEM, "rang_liste_complementaire", old=moved["old"], new=moved["new"]
        )


async def add_note(deps: Deps, req: c.AddNote) -> c.NoteRecord:
    async with deps.pool.acquire() as conn, conn.transaction():
        await locked(
            conn,
            req.candidature_id,
            req.principal,
            partial(access.check_decide, doing="d'écrire une note sur cette candidature"),
        )
        note_id = uuid.uuid4()
        now = deps.now()
        await store.insert_note(conn, note_id, req.candidature_id, actor(req.principal), now, req.body)
        await store.add_history(conn, req.candidature_id, now, actor(req.principal), "note")
    return c.NoteRecord(id=note_id, author=actor(req.principal), at=now, body=req.body)


async def set_etiquettes(deps: Deps, req: c.SetEtiquettes) -> c.EtiquettesSet:
    """The candidature's étiquettes become `req.etiquettes` (each once, in the étiquettes' order);
    an unknown one, or an archived one the candidature has not already, is refused."""
    async with deps.pool.acquire() as conn, conn.transaction():
        row = await locked(
            conn,
            req.candidature_id,
            req.principal,
            partial(access.check_decide, doing="de modifier les étiquettes de cette candidature"),
        )
        known = {r["code"]: r for r in await store.etiquettes(conn)}
        old = list(row["etiquettes"])
        refused = [
            ErrorDetail(field="etiquettes", message=f"Étiquette inconnue : {code}.")
            if code not in known
            else ErrorDetail(
                field="etiquettes",
                message=f"L'étiquette « {known[code]['libelle']} » est archivée : elle ne peut plus être ajoutée.",
            )
            for code in dict.fromkeys(req.etiquettes)
            if code not in known or (known[code]["archivee"] and code not in old)
        ]
        if refused:
            raise InvalidInput("Ces étiquettes ne peuvent pas être mises sur la candidature.", details=refused)
        new = [code for code in known if code in req.etiquettes]
        if new != old:
            await store.set_etiquettes(conn, req.candidature_id, new)
            await store.add_history(
                conn, req.candidature_id, deps.now(), actor(req.principal), "etiquettes", old=old, new=new
            )
    return c.EtiquettesSet(etiquettes=new)


async def staff_view(deps: Deps, req: c.GetStaffCandidature) -> c.StaffCandidatureView:
    async with deps.pool.acquire() as conn:
        row = await store.candidature_view(conn, req.candidature_id)
        if row is None:
            raise NotFound("Cette candidature n'existe pas.")
        access.check_read(req.principal, store.scope_of(row))
        who = await store.candidat(conn, row["account_id"])
        pieces = await store.pieces_of(conn, row["id"])
        decisions = await store.decisions_of(conn, row["id"])
        notes = await store.notes_of(conn, row["id"])
        history = await store.history(conn, row["id"])
    ready = all(p["statut"] in ("validee", "non_concerne") for p in pieces)
    [view] = await views(deps.rpc, [row], deps.now())
    return c.StaffCandidatureView(
        candidature=view,
        nom=who["nom"] if who else None,
        prenom=who["prenom"] if who else None,
        email=who["email"] if who else None,
        rang=row["rang_lc"],
        confirmation_deadline=row["confirmation_deadline"],
        confirmed_at=row["confirmed_at"],
        withdrawn_at=row["withdrawn_at"],
        complet_propose=row["statut"] == "receptionne" and ready,
        pieces=[c.PieceStatus.model_validate(dict(p)) for p in pieces],
        decisions=[c.DecisionRecord.model_validate(dict(d)) for d in decisions],
        notes=[c.NoteRecord.model_validate(dict(n)) for n in notes],
        history=[c.HistoryRecord.model_validate(dict(h)) for h in history],
        etiquettes=row["etiquettes"],
    )
