"""Dates limites de retour after the candidatures are made: a formation's date (its candidatures
follow it, except those whose own date staff set), one candidature's own date, and the extension
of every open deadline of a campaign after an incident.

Each change of a candidature's deadline is one entry of its history (who, when, why) and one
`candidature.deadline_changed`: documents enforce the new deadline on the pieces, the mailer tells
the candidate when they can still act on it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from ecandidat.contracts import access
from ecandidat.contracts import candidatures as c
from ecandidat.contracts.auth import Principal
from ecandidat.contracts.errors import ErrorDetail, InvalidInput, NotFound
from ecandidat.runtime.clock import Clock
from ecandidat.runtime.french import dernier_jour, limite_courte
from ecandidat.runtime.outbox import add_event

from . import store
from .context import Deps
from .domain import Refused
from .lifecycle import event_facts

ACTION = "date_limite_retour"


def _by(principal: Principal) -> str:
    return principal.email


async def announce(
    conn: asyncpg.Connection,
    before: asyncpg.Record,
    by: str,
    now: datetime,
    clock: Clock,
    *,
    cause: str,
    motif: str | None,
    **details: object,
) -> bool:
    """After the candidature's row changed: record and announce its new deadline, if it moved."""
    after = await store.held_candidature_view(conn, before["id"])
    old, new = store.candidature_of(before).retour_deadline(), store.candidature_of(after).retour_deadline()
    if old == new:
        return False
    await store.add_history(
        conn, after["id"], now, by, ACTION, ancienne=old, nouvelle=new, cause=cause, motif=motif, **details
    )
    await add_event(
        conn,
        c.CandidatureDeadlineChanged(
            **event_facts(after),
            date_limite_retour=dernier_jour(new),
            limite_retour=new,
            ancienne_limite_retour=old,
            cause=cause,
            motif=motif,
            ouverte=store.candidature_of(after).state_refusal(now) is None,
        ),
        subject=str(after["id"]),
        clock=clock,
    )
    return True


async def formation_followers(conn: asyncpg.Connection, formation_code: str) -> list[asyncpg.Record]:
    """Before a formation's date changes: the candidatures that follow it, locked, as they are."""
    return await store.following_formation(conn, formation_code)


async def formation_date_changed(
    conn: asyncpg.Connection,
    before: list[asyncpg.Record],
    by: str,
    now: datetime,
    clock: Clock,
    motif: str | None = None,
) -> list[uuid.UUID]:
    """After a formation's date changed: the candidatures that follow it move with it."""
    await store.touch(conn, [r["id"] for r in before])
    return [r["id"] for r in before if await announce(conn, r, by, now, clock, cause="formation", motif=motif)]


async def set_formation_date(deps: Deps, req: c.SetFormationDateRetour) -> c.DeadlinesChanged:
    async with deps.pool.acquire() as conn, conn.transaction():
        formation = await store.lock_formation(conn, req.formation_code)
        if formation is None:
            raise NotFound("Cette formation n'existe pas.")
        if not access.covers_centre(req.principal, formation["centre_code"], write=True):
            raise access.out_of_scope("Cette formation")
        if req.date_retour < formation["depot_debut"]:
            raise InvalidInput(
                "Les données envoyées sont invalides.",
                details=[
                    ErrorDetail(
                        field="date_retour", message="La date limite de retour ne peut précéder l'ouverture du dépôt."
                    )
                ],
            )
        if req.date_retour == formation["date_retour"]:
            return c.DeadlinesChanged(updated=[])
        before = await formation_followers(conn, req.formation_code)
        await store.set_formation_date_retour(conn, req.formation_code, req.date_retour)
        updated = await formation_date_changed(conn, before, _by(req.principal), deps.now(), deps.clock, req.motif)
    return c.DeadlinesChanged(updated=updated)


async def set_candidature_date(deps: Deps, req: c.SetCandidatureDateRetour) -> c.DeadlinesChanged:
    async with deps.pool.acquire() as conn, conn.transaction():
        before = await store.candidature_view(conn, req.candidature_id, lock=True)
        if before is None:
            raise NotFound("Cette candidature n'existe pas.")
        access.check_manage(req.principal, store.scope_of(before))
        if before["cancelled_at"] is not None:
            raise Refused("Cette candidature est annulée.", reason="annulee")
        if before["date_retour_individuelle"] == req.date_retour:
            return c.DeadlinesChanged(updated=[])
        await store.set_date_retour_individuelle(conn, req.candidature_id, req.date_retour)
        now = deps.now()
        changed = await announce(
            conn,
            before,
            _by(req.principal),
            now,
            deps.clock,
            cause="candidature",
            motif=req.motif,
            date_individuelle=req.date_retour,
        )
        if not changed:  # pinned to (or freed from) a date equal to the formation's: the history keeps it
            await store.add_history(
                conn,
                req.candidature_id,
                now,
                _by(req.principal),
                ACTION,
                cause="candidature",
                motif=req.motif,
                date_individuelle=req.date_retour,
            )
    return c.DeadlinesChanged(updated=[req.candidature_id] if changed else [])


def _prolongation(row: asyncpg.Record, *, deja: bool) -> c.Prolongation:
    return c.Prolongation(
        **{
            k: row[k] for k in ("id", "campagne_code", "incident_debut", "heures", "motif", "par", "le", "candidatures")
        },
        deja_appliquee=deja,
    )


async def extend_campaign(deps: Deps, req: c.ExtendCampaignDeadlines) -> c.Prolongation:
    """One extension per incident: the same request again (a retry after a timeout) returns the
    extension already made and changes nothing."""
    access.require(
        req.principal,
        access.OFFER_ADMINS,
        "Prolonger les dates limites d'une campagne est réservé à l'administration et à la scolarité.",
    )
    now = deps.now()
    if req.incident_debut > now:
        raise InvalidInput(
            "Les données envoyées sont invalides.",
            details=[
                ErrorDetail(field="incident_debut", message="Le début de l'incident ne peut pas être dans le futur.")
            ],
        )
    async with deps.pool.acquire() as conn, conn.transaction():
        if not await store.lock_campagne(conn, req.campagne_code):
            raise NotFound("Cette campagne n'existe pas.")
        done = await store.prolongation(conn, req.campagne_code, req.incident_debut)
        if done is not None:
            if done["heures"] != req.heures:
                raise Refused(
                    f"Les dates limites ont déjà été prolongées de {done['heures']} heures pour cet incident "
                    f"(le {limite_courte(done['le'])}, par {done['par']}).",
                    reason="deja_prolongee",
                )
            return _prolongation(done, deja=True)
        prolongation_id, by = uuid.uuid4(), _by(req.principal)
        extended = 0
        for row in await store.transmissible_of_campaign(conn, req.campagne_code):
            if not store.candidature_of(row).may_be_extended(req.incident_debut):
                continue
            await store.add_prolongation_heures(conn, row["id"], req.heures)
            await announce(
                conn,
                row,
                by,
                now,
                deps.clock,
                cause="incident",
                motif=req.motif,
                prolongation=str(prolongation_id),
                heures=req.heures,
                incident_debut=req.incident_debut,
            )
            extended += 1
        row = await store.insert_prolongation(
            conn,
            id=prolongation_id,
            campagne_code=req.campagne_code,
            incident_debut=req.incident_debut,
            heures=req.heures,
            motif=req.motif,
            par=by,
            le=now,
            candidatures=extended,
        )
    return _prolongation(row, deja=False)
