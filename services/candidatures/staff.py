"""Staff actions on candidatures: statut du dossier, type de traitement, decisions, notes, full view.

Batch actions are all-or-nothing: one candidature outside the caller's scope, unknown, or refused
by a rule refuses the whole batch and changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from ecandidat.contracts import access
from ecandidat.contracts import candidatures as c
from ecandidat.contracts.auth import Principal
from ecandidat.contracts.errors import NotFound
from ecandidat.runtime.clock import Clock
from ecandidat.runtime.rpc import RpcClient
from ecandidat.runtime.outbox import add_event

from . import store, workflow
from .domain import Refused
from .handlers import _facts, letter_facts, views

SYSTEM = "système"


def actor(principal: Principal) -> str:
    return principal.email


async def _locked(conn: asyncpg.Connection, candidature_id: uuid.UUID, principal: Principal,
                  check=access.check_manage) -> asyncpg.Record:
    row = await conn.fetchrow(
        """SELECT c.*, f.commission_code, f.capacite, f.date_confirmation AS formation_date_confirmation,
                  f.delai_confirmation_jours
           FROM candidatures c JOIN formations f ON f.code = c.formation_code
           WHERE c.id = $1 FOR UPDATE OF c""",
        candidature_id,
    )
    if row is None:
        raise NotFound("Cette candidature n'existe pas.", candidature_id=str(candidature_id))
    check(principal, store.scope_of(row))
    return row


async def _event_facts(conn: asyncpg.Connection, candidature_id: uuid.UUID) -> tuple[asyncpg.Record, dict]:
    view = await store.candidature_view(conn, candidature_id)
    return view, _facts(view)


async def set_statut(pool: asyncpg.Pool, req: c.SetStatut, clock: Clock) -> c.BatchResult:
    updated = []
    async with pool.acquire() as conn, conn.transaction():
        for cid in dict.fromkeys(req.candidature_ids):
            row = await _locked(conn, cid, req.principal)
            if row["cancelled_at"] is not None:
                raise Refused("Une candidature annulée ne change plus de statut.", reason="annulee", candidature_id=str(cid))
            if row["statut"] == req.statut:
                continue
            now = clock.now()
            at = req.date or now
            await conn.execute(
                "UPDATE candidatures SET statut = $2, statut_date = $3, version = version + 1 WHERE id = $1", cid, req.statut, at
            )
            await store.add_history(conn, cid, now, actor(req.principal), "statut", old=row["statut"], new=req.statut,
                                    date=at, commentaire=req.commentaire)
            _, facts = await _event_facts(conn, cid)
            await add_event(
                conn,
                c.CandidatureStatusChanged(**facts, old_status=row["statut"], new_status=req.statut, changed_at=at,
                                           comment=req.commentaire),
                subject=str(cid), clock=clock,
            )
            updated.append(cid)
    return c.BatchResult(updated=updated)


async def set_type_traitement(pool: asyncpg.Pool, req: c.SetTypeTraitement, clock: Clock) -> c.BatchResult:
    updated = []
    async with pool.acquire() as conn, conn.transaction():
        for cid in dict.fromkeys(req.candidature_ids):
            row = await _locked(conn, cid, req.principal)
            if row["cancelled_at"] is not None:
                raise Refused("Cette candidature est annulée.", reason="annulee", candidature_id=str(cid))
            now = clock.now()
            await conn.execute(
                """UPDATE candidatures SET type_traitement = $2, type_traitement_valide = $3, version = version + 1
                   WHERE id = $1""",
                cid, req.type_traitement, req.valide,
            )
            await store.add_history(conn, cid, now, actor(req.principal), "type_traitement",
                                    old=row["type_traitement"], new=req.type_traitement, valide=req.valide)
            if req.type_traitement == "acces_direct" and req.valide and row["decision"] is None:
                # eCandidat: a validated accès direct is a favourable decision.
                decision_id = await _insert_decision(conn, cid, "favorable", actor(req.principal), now, automatic=True,
                                                     origine="acces_direct")
                await _validate(conn, row, decision_id, actor(req.principal), now, clock)
            updated.append(cid)
    return c.BatchResult(updated=updated)


async def _insert_decision(conn, cid, kind, by, now, *, automatic=False, **fields) -> uuid.UUID:
    decision_id = uuid.uuid4()
    values = {"id": decision_id, "candidature_id": cid, "kind": kind, "entered_by": by, "entered_at": now,
              "automatic": automatic, **fields}
    cols = ", ".join(values)
    params = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    await conn.execute(f"INSERT INTO decisions ({cols}) VALUES ({params})", *values.values())
    return decision_id


async def enter_decision(pool: asyncpg.Pool, req: c.EnterDecision, clock: Clock) -> c.DecisionRecord:
    workflow.check_decision_input(req.kind, motif=req.motif, rang=req.rang, preselection_date=req.preselection_date,
                                  preselection_lieu=req.preselection_lieu)
    async with pool.acquire() as conn, conn.transaction():
        row = await _locked(conn, req.candidature_id, req.principal, access.check_decide)
        workflow.can_decide(row["statut"], row["cancelled_at"] is not None, row["withdrawn_at"] is not None)
        now = clock.now()
        fields = req.model_dump(include={"motif", "rang", "preselection_date", "preselection_heure", "preselection_lieu", "commentaire"})
        decision_id = await _insert_decision(conn, req.candidature_id, req.kind, actor(req.principal), now, **fields)
        await store.add_history(conn, req.candidature_id, now, actor(req.principal), "decision_saisie", kind=req.kind)
        record = await conn.fetchrow("SELECT * FROM decisions WHERE id = $1", decision_id)
    return c.DecisionRecord.model_validate(dict(record))


async def validate_decisions(pool: asyncpg.Pool, req: c.ValidateDecisions, clock: Clock) -> c.BatchResult:
    updated = []
    async with pool.acquire() as conn, conn.transaction():
        for cid in dict.fromkeys(req.candidature_ids):
            row = await _locked(conn, cid, req.principal)
            pending = await conn.fetchval(
                """SELECT id FROM decisions WHERE candidature_id = $1 AND validated_at IS NULL
                   ORDER BY entered_at DESC LIMIT 1""",
                cid,
            )
            if pending is None:
                raise Refused("Aucune décision en attente de validation pour cette candidature.",
                              reason="rien_a_valider", candidature_id=str(cid))
            workflow.can_decide(row["statut"], row["cancelled_at"] is not None, row["withdrawn_at"] is not None)
            await _validate(conn, row, pending, actor(req.principal), clock.now(), clock)
            updated.append(cid)
    return c.BatchResult(updated=updated)


async def _validate(conn, row, decision_id: uuid.UUID, by: str, now: datetime, clock: Clock) -> None:
    """Make a decision visible to the candidate and tell everyone who needs to know."""
    cid = row["id"]
    # Older pending decisions are superseded by the one validated now.
    await conn.execute(
        "DELETE FROM decisions WHERE candidature_id = $1 AND validated_at IS NULL AND id <> $2", cid, decision_id
    )
    d = await conn.fetchrow(
        "UPDATE decisions SET validated_by = $2, validated_at = $3 WHERE id = $1 RETURNING *", decision_id, by, now
    )
    deadline = None
    if d["kind"] == "favorable":
        deadline = workflow.confirmation_deadline(
            now, candidature_date=row["date_confirmation"], formation_date=row["formation_date_confirmation"],
            delai_jours=row["delai_confirmation_jours"],
        )
    await conn.execute(
        """UPDATE candidatures SET decision = $2, decision_id = $3, decision_validated_at = $4,
                  rang_lc = $5, confirmation_deadline = $6, confirmed_at = NULL, reminder_sent_at = NULL,
                  version = version + 1
           WHERE id = $1""",
        cid, d["kind"], decision_id, now, d["rang"] if d["kind"] == "liste_complementaire" else None, deadline,
    )
    await store.add_history(conn, cid, now, by, "decision_validee", kind=d["kind"], automatic=d["automatic"])
    if row["decision"] == "liste_complementaire" and d["kind"] != "liste_complementaire":
        await renumber_liste(conn, row["formation_code"], now)
    view, facts = await _event_facts(conn, cid)
    who = await conn.fetchrow("SELECT nom, prenom FROM candidats WHERE account_id = $1", row["account_id"])
    await add_event(
        conn,
        c.DecisionValidated(
            **facts, decision_id=decision_id, kind=d["kind"], motif=d["motif"], rang=d["rang"],
            preselection_date=d["preselection_date"], preselection_heure=d["preselection_heure"],
            preselection_lieu=d["preselection_lieu"], commentaire=d["commentaire"], confirmation_deadline=deadline,
            validated_at=now, centre_libelle=view["centre_libelle"], contact_libelle=view["contact_libelle"],
            contact_adresse=view["contact_adresse"], automatic=d["automatic"], origine=d["origine"],
            **letter_facts(view),
            nom=who["nom"] if who else None, prenom=who["prenom"] if who else None,
        ),
        subject=str(cid), clock=clock,
    )


async def renumber_liste(conn: asyncpg.Connection, formation_code: str, now: datetime) -> None:
    """The candidates still on the liste complémentaire move up: ranks 1, 2, 3… in their order."""
    for moved in await store.renumber_liste(conn, formation_code):
        await store.add_history(conn, moved["id"], now, SYSTEM, "rang_liste_complementaire",
                                old=moved["old"], new=moved["new"])


async def add_note(pool: asyncpg.Pool, req: c.AddNote, clock: Clock) -> c.NoteRecord:
    async with pool.acquire() as conn, conn.transaction():
        await _locked(conn, req.candidature_id, req.principal, access.check_decide)
        note_id = uuid.uuid4()
        now = clock.now()
        await conn.execute(
            "INSERT INTO notes (id, candidature_id, author, at, body) VALUES ($1, $2, $3, $4, $5)",
            note_id, req.candidature_id, actor(req.principal), now, req.body,
        )
        await store.add_history(conn, req.candidature_id, now, actor(req.principal), "note")
    return c.NoteRecord(id=note_id, author=actor(req.principal), at=now, body=req.body)


async def staff_view(pool: asyncpg.Pool, rpc: RpcClient, req: c.GetStaffCandidature, clock: Clock) -> c.StaffCandidatureView:
    async with pool.acquire() as conn:
        row = await store.candidature_view(conn, req.candidature_id)
        if row is None:
            raise NotFound("Cette candidature n'existe pas.")
        access.check_read(req.principal, store.scope_of(row))
        who = await conn.fetchrow("SELECT * FROM candidats WHERE account_id = $1", row["account_id"])
        pieces = await conn.fetch(
            "SELECT piece_id, libelle, statut FROM candidature_pieces WHERE candidature_id = $1 ORDER BY libelle", row["id"]
        )
        decisions = await conn.fetch("SELECT * FROM decisions WHERE candidature_id = $1 ORDER BY entered_at", row["id"])
        notes = await conn.fetch("SELECT id, author, at, body FROM notes WHERE candidature_id = $1 ORDER BY at", row["id"])
        history = await store.history(conn, row["id"])
    ready = all(p["statut"] in ("validee", "non_concerne") for p in pieces)
    [view] = await views(rpc, [row], clock.now())
    return c.StaffCandidatureView(
        candidature=view,
        nom=who["nom"] if who else None, prenom=who["prenom"] if who else None, email=who["email"] if who else None,
        rang=row["rang_lc"], confirmation_deadline=row["confirmation_deadline"], confirmed_at=row["confirmed_at"],
        withdrawn_at=row["withdrawn_at"],
        complet_propose=row["statut"] == "receptionne" and ready,
        pieces=[c.PieceStatus.model_validate(dict(p)) for p in pieces],
        decisions=[c.DecisionRecord.model_validate(dict(d)) for d in decisions],
        notes=[c.NoteRecord.model_validate(dict(n)) for n in notes],
        history=[c.HistoryRecord.model_validate(dict(h)) for h in history],
    )

