"""The staff workflow: statuts, decisions, confirmation, désistement, the liste complémentaire, lists."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from ecandidat.contracts import candidatures as c
from ecandidat.contracts import documents as d
from ecandidat.contracts.auth import Principal
from ecandidat.contracts.envelope import envelope
from ecandidat.contracts.errors import ServiceError
from ecandidat.contracts.subjects import event_subject
from ecandidat.runtime.jobs import Job, run_job_once
from services.candidatures import jobs
from tests.conftest import eventually, operator_publish
from tests.integration.candidatures.conftest import candidate

ADMIN = Principal(realm="staff", account_id=uuid.uuid4(), email="admin@univ.fr", roles=("admin",))
GEST_DAEU = Principal(
    realm="staff", account_id=uuid.uuid4(), email="gest.daeu@univ.fr", roles=("gestionnaire",), centres=("DAEU",)
)
GEST_FC = Principal(
    realm="staff", account_id=uuid.uuid4(), email="gest.fc@univ.fr", roles=("gestionnaire",), centres=("FC-DIPL",)
)
COMMISSION = Principal(
    realm="staff", account_id=uuid.uuid4(), email="prof@univ.fr", roles=("commission",), commissions=("COM-DAEU",)
)


async def refused(coro) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        await coro
    return info.value


async def transmitted(service, formation="DAEU-A") -> tuple[Principal, uuid.UUID]:
    who = candidate()
    view = await service.client.call(c.Apply(principal=who, formation_code=formation), c.CandidatureView)
    await service.client.call(c.TransmitCandidature(principal=who, candidature_id=view.id), c.CandidatureView)
    return who, view.id


async def complete(service, cid, by=GEST_DAEU) -> None:
    await service.client.call(c.SetStatut(principal=by, candidature_ids=[cid], statut="complet"), c.BatchResult)


async def decide(service, cid, kind="favorable", by=GEST_DAEU, **kw) -> None:
    await service.client.call(c.EnterDecision(principal=by, candidature_id=cid, kind=kind, **kw), c.DecisionRecord)
    await service.client.call(c.ValidateDecisions(principal=by, candidature_ids=[cid]), c.BatchResult)


async def view(service, who, cid) -> c.CandidatureView:
    return await service.client.call(c.GetCandidature(principal=who, candidature_id=cid), c.CandidatureView)


async def outbox_types(service, cid) -> list[str]:
    async with service.pool.acquire() as conn:
        rows = await conn.fetch("SELECT subject, payload FROM outbox ORDER BY seq")
    return [r["subject"] for r in rows if json.loads(r["payload"])["subject"] == str(cid)]


async def test_statut_changes_in_batch_are_all_or_nothing(service):
    _, a = await transmitted(service)
    _, b = await transmitted(service)
    _, other_centre = await transmitted(service, "DU-MUSICO")
    err = await refused(
        service.client.call(
            c.SetStatut(principal=GEST_DAEU, candidature_ids=[a, b, other_centre], statut="complet"), c.BatchResult
        )
    )
    assert err.code == "forbidden"
    staff_a = await service.client.call(
        c.GetStaffCandidature(principal=GEST_DAEU, candidature_id=a), c.StaffCandidatureView
    )
    assert staff_a.candidature.statut == "receptionne", "a refused batch changed something"
    result = await service.client.call(
        c.SetStatut(principal=GEST_DAEU, candidature_ids=[a, b], statut="complet", commentaire="Dossier vérifié"),
        c.BatchResult,
    )
    assert result.updated == [a, b]
    assert "evt.candidatures.candidature.status_changed" in await outbox_types(service, a)
    staff_a = await service.client.call(
        c.GetStaffCandidature(principal=GEST_DAEU, candidature_id=a), c.StaffCandidatureView
    )
    assert staff_a.candidature.statut == "complet"
    assert [h.action for h in staff_a.history] == ["created", "transmitted", "statut"]
    assert staff_a.history[-1].actor == "gest.daeu@univ.fr"


async def test_decision_rules(service):
    who, cid = await transmitted(service)
    err = await refused(decide(service, cid))
    assert err.extra["reason"] == "dossier_non_complet"
    await complete(service, cid)
    err = await refused(
        service.client.call(
            c.EnterDecision(principal=GEST_DAEU, candidature_id=cid, kind="defavorable"), c.DecisionRecord
        )
    )
    assert err.code == "invalid" and err.details[0].field == "motif"
    err = await refused(
        service.client.call(
            c.EnterDecision(principal=GEST_DAEU, candidature_id=cid, kind="liste_complementaire"), c.DecisionRecord
        )
    )
    assert err.details[0].field == "rang"
    raw = {"principal": GEST_DAEU.model_dump(mode="json"), "candidature_id": str(cid), "kind": "avis"}
    err = await refused(service.client.call_subject("rpc.candidatures.enter_decision", json.dumps(raw).encode()))
    assert err.code == "invalid" and err.details[0].field == "kind"
    err = await refused(
        service.client.call(c.ValidateDecisions(principal=GEST_DAEU, candidature_ids=[cid]), c.BatchResult)
    )
    assert err.extra["reason"] == "rien_a_valider"
    # The commission enters, the gestionnaire validates; the candidate sees only what is validated.
    await service.client.call(
        c.EnterDecision(
            principal=COMMISSION,
            candidature_id=cid,
            kind="preselection",
            preselection_date="2027-01-15",
            preselection_heure="14:30",
            preselection_lieu="Salle 12, bâtiment Olympe",
        ),
        c.DecisionRecord,
    )
    assert (await view(service, who, cid)).decision is None
    err = await refused(
        service.client.call(c.ValidateDecisions(principal=COMMISSION, candidature_ids=[cid]), c.BatchResult)
    )
    assert err.code == "forbidden"
    await service.client.call(c.ValidateDecisions(principal=GEST_DAEU, candidature_ids=[cid]), c.BatchResult)
    seen = await view(service, who, cid)
    assert seen.decision == "preselection" and seen.decision_libelle == "Présélection"
    assert seen.preselection == "Le 15/01/2027 à 14:30, Salle 12, bâtiment Olympe"
    err = await refused(
        service.client.call(c.ValidateDecisions(principal=GEST_DAEU, candidature_ids=[cid]), c.BatchResult)
    )
    assert err.extra["reason"] == "rien_a_valider", "validating twice"
    assert "evt.candidatures.decision.validated" in await outbox_types(service, cid)


async def test_no_decision_on_a_cancelled_candidature(service):
    who = candidate()
    v = await service.client.call(c.Apply(principal=who, formation_code="DAEU-A"), c.CandidatureView)
    await service.client.call(c.CancelCandidature(principal=who, candidature_id=v.id), c.CandidatureView)
    err = await refused(
        service.client.call(
            c.EnterDecision(principal=GEST_DAEU, candidature_id=v.id, kind="favorable"), c.DecisionRecord
        )
    )
    assert err.extra["reason"] == "annulee"


async def test_favorable_then_confirm(service):
    who, cid = await transmitted(service)
    await complete(service, cid)
    await decide(service, cid, "favorable")
    seen = await view(service, who, cid)
    assert seen.decision == "favorable" and seen.can_confirm and seen.can_withdraw
    assert seen.confirmation_deadline is not None
    confirmed = await service.client.call(
        c.AnswerAdmission(principal=who, candidature_id=cid, answer="confirmation"), c.CandidatureView
    )
    assert confirmed.confirmed_at is not None and not confirmed.can_confirm and confirmed.can_withdraw
    err = await refused(
        service.client.call(
            c.AnswerAdmission(principal=who, candidature_id=cid, answer="confirmation"), c.CandidatureView
        )
    )
    assert err.extra["reason"] == "deja_confirme"
    withdrawn = await service.client.call(
        c.AnswerAdmission(principal=who, candidature_id=cid, answer="desistement"), c.CandidatureView
    )
    assert withdrawn.withdrawn_at is not None and not withdrawn.can_withdraw


async def test_acces_direct_validated_is_a_favourable_decision(service):
    who, cid = await transmitted(service)
    await service.client.call(
        c.SetTypeTraitement(principal=GEST_DAEU, candidature_ids=[cid], type_traitement="acces_direct", valide=True),
        c.BatchResult,
    )
    seen = await view(service, who, cid)
    assert seen.type_traitement == "acces_direct" and seen.type_traitement_valide and seen.decision == "favorable"


async def test_liste_complementaire_offers_freed_places_in_rank_order(service):
    async with service.pool.acquire() as conn:
        await conn.execute("UPDATE formations SET capacite = 1 WHERE code = 'DAEU-B'")
    a, ca = await transmitted(service, "DAEU-B")
    b, cb = await transmitted(service, "DAEU-B")
    cc_who, cc = await transmitted(service, "DAEU-B")
    for cid in (ca, cb, cc):
        await complete(service, cid)
    await decide(service, ca, "favorable")
    await decide(service, cc, "liste_complementaire", rang=2)
    await decide(service, cb, "liste_complementaire", rang=1)
    assert (await view(service, b, cb)).decision_rang == 1
    # A withdraws: B (rank 1) is offered the place at once.
    await service.client.call(
        c.AnswerAdmission(principal=a, candidature_id=ca, answer="desistement"), c.CandidatureView
    )
    seen_b = await view(service, b, cb)
    assert seen_b.decision == "favorable" and seen_b.can_confirm
    assert (await view(service, cc_who, cc)).decision == "liste_complementaire"
    assert "evt.candidatures.candidature.promoted" in await outbox_types(service, cb)
    # B lets the deadline pass: automatic désistement, then C is offered the place.
    service.clock.advance(days=30)
    job = Job("expired-answers-test", timedelta(seconds=1), jobs.expired_answers(service.deps))
    # (other tests' unanswered favourable decisions in this database expire too)
    assert await run_job_once(service.pool, job, service.clock, force=True) >= 1
    seen_b = await view(service, b, cb)
    assert seen_b.withdrawn_at is not None and not seen_b.can_confirm
    seen_c = await view(service, cc_who, cc)
    assert seen_c.decision == "favorable" and seen_c.can_confirm
    assert seen_c.confirmation_deadline > service.clock.now()


async def test_reminder_is_sent_once_before_the_deadline(service):
    who, cid = await transmitted(service)
    await complete(service, cid)
    await decide(service, cid, "favorable")
    deadline = (await view(service, who, cid)).confirmation_deadline
    job = Job("reminders-test", timedelta(seconds=1), jobs.reminders(service.deps))
    await run_job_once(service.pool, job, service.clock, force=True)
    assert "evt.candidatures.candidature.reminder_due" not in await outbox_types(service, cid), "too early"
    service.clock.advance(seconds=(deadline - service.clock.now()).total_seconds() - 2 * 24 * 3600)
    await run_job_once(service.pool, job, service.clock, force=True)
    await run_job_once(service.pool, job, service.clock, force=True)
    assert (await outbox_types(service, cid)).count("evt.candidatures.candidature.reminder_due") == 1


async def test_refused_piece_makes_the_dossier_incomplet(service):
    who, cid = await transmitted(service)
    async with service.pool.acquire() as conn:
        piece_id, libelle = await conn.fetchrow(
            "SELECT piece_id, libelle FROM candidature_pieces WHERE candidature_id = $1 LIMIT 1", cid
        )
    body = envelope(
        d.PieceRefused(
            piece_slot_id=uuid.uuid4(),
            piece_id=piece_id,
            candidature_id=cid,
            account_id=who.account_id,
            libelle=libelle,
            by="gest.daeu@univ.fr",
            at=datetime.now(timezone.utc),
            comment="Pièce illisible",
        ),
        event_id=uuid.uuid4(),
        time=datetime.now(timezone.utc),
    )
    await operator_publish(service.settings, event_subject(d.PieceRefused), body.model_dump_json().encode())

    async def incomplet():
        return (await view(service, who, cid)).statut == "incomplet"

    await eventually(incomplet, message="candidature incomplet")
    staff = await service.client.call(
        c.GetStaffCandidature(principal=GEST_DAEU, candidature_id=cid), c.StaffCandidatureView
    )
    assert [p.statut for p in staff.pieces if p.piece_id == piece_id] == ["refusee"]
    [review] = [h for h in staff.history if h.action == "piece_refusee"]
    assert review.actor == "gest.daeu@univ.fr" and review.details["commentaire"] == "Pièce illisible"
    rows = await service.client.call(
        c.ListCandidatures(principal=GEST_DAEU, filters=c.Filters(formation_code="DAEU-A", pieces="refusees")),
        c.CandidaturePage,
    )
    assert cid in [r.id for r in rows.items]
    # The candidate replaces the piece and transmits again.
    again = await service.client.call(c.TransmitCandidature(principal=who, candidature_id=cid), c.CandidatureView)
    assert again.statut == "receptionne"


async def test_staff_list_is_scoped_filtered_and_paginated(service):
    ids = [(await transmitted(service, "DU-MUSICO"))[1] for _ in range(7)]
    await complete(service, ids[0], by=GEST_FC)
    seen, cursor = [], None
    while True:
        page = await service.client.call(
            c.ListCandidatures(
                principal=GEST_FC, filters=c.Filters(formation_code="DU-MUSICO"), limit=3, cursor=cursor
            ),
            c.CandidaturePage,
        )
        seen += [r.id for r in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert set(ids) <= set(seen) and len(seen) == len(set(seen)), "a row was skipped or repeated across pages"
    complets = await service.client.call(
        c.ListCandidatures(principal=GEST_FC, filters=c.Filters(formation_code="DU-MUSICO", statut="complet")),
        c.CandidaturePage,
    )
    # (other tests' candidatures to DU-MUSICO share the database)
    assert ids[0] in [r.id for r in complets.items] and not set(ids[1:]) & {r.id for r in complets.items}
    err = await refused(
        service.client.call(
            c.ListCandidatures(principal=GEST_DAEU, filters=c.Filters(formation_code="DU-MUSICO")), c.CandidaturePage
        )
    )
    assert err.code == "forbidden"
    err = await refused(
        service.client.call(c.ListCandidatures(principal=GEST_FC, filters=c.Filters()), c.CandidaturePage)
    )
    assert err.code == "invalid"
    err = await refused(
        service.client.call(
            c.ListCandidatures(principal=GEST_FC, filters=c.Filters(formation_code="DU-MUSICO"), cursor="garbage!"),
            c.CandidaturePage,
        )
    )
    assert err.code == "invalid"
    by_name = await service.client.call(
        c.ListCandidatures(principal=ADMIN, filters=c.Filters(centre_code="FC-DIPL"), sort="nom"), c.CandidaturePage
    )
    assert len(by_name.items) >= 7


async def test_notes_are_staff_only(service):
    who, cid = await transmitted(service)
    note = await service.client.call(
        c.AddNote(principal=GEST_DAEU, candidature_id=cid, body="Appeler le candidat"), c.NoteRecord
    )
    assert note.author == "gest.daeu@univ.fr"
    err = await refused(service.client.call(c.AddNote(principal=who, candidature_id=cid, body="x"), c.NoteRecord))
    assert err.code == "forbidden"
    staff = await service.client.call(
        c.GetStaffCandidature(principal=GEST_DAEU, candidature_id=cid), c.StaffCandidatureView
    )
    assert [n.body for n in staff.notes] == ["Appeler le candidat"]
    err = await refused(
        service.client.call(c.GetStaffCandidature(principal=who, candidature_id=cid), c.StaffCandidatureView)
    )
    assert err.code == "forbidden"


async def test_refused_pieces_in_one_batch_write_what_one_at_a_time_writes(service):
    """`pieces_refused` (a run of piece.refused handled at once) against `piece_refused` event by
    event: the same pieces, counts, statuts, versions, history in the same order, and events."""
    from services.candidatures import consumers

    async def refusals(cid, who, count):
        async with service.pool.acquire() as conn:
            pieces = await conn.fetch(
                "SELECT piece_id, libelle FROM candidature_pieces WHERE candidature_id = $1 ORDER BY piece_id LIMIT $2",
                cid,
                count,
            )
        return [
            d.PieceRefused(
                piece_slot_id=uuid.uuid4(),
                piece_id=p["piece_id"],
                candidature_id=cid,
                account_id=who.account_id,
                libelle=p["libelle"],
                by="gest.daeu@univ.fr",
                at=datetime.now(timezone.utc),
                comment=f"Pièce {n} illisible",
            )
            for n, p in enumerate(pieces)
        ]

    async def state(cid):
        async with service.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT statut, version, pieces_total, pieces_ready, pieces_refused FROM candidatures WHERE id = $1",
                cid,
            )
            pieces = await conn.fetch(
                "SELECT piece_id, statut FROM candidature_pieces WHERE candidature_id = $1 ORDER BY piece_id", cid
            )
            history = await conn.fetch(
                "SELECT actor, action, details FROM candidature_history WHERE candidature_id = $1 ORDER BY id", cid
            )
            events = await conn.fetch("SELECT subject, payload FROM outbox ORDER BY seq")
        mine = [json.loads(e["payload"]) for e in events if json.loads(e["payload"])["subject"] == str(cid)]
        mine = [e for e in mine if e["type"].endswith("status_changed")]
        facts = [(e["type"], {k: v for k, v in e["data"].items() if k not in ("candidature_id", "account_id",
                  "numero_dossier", "changed_at")}) for e in mine]  # fmt: skip
        return (
            dict(row),
            [r["statut"] for r in pieces],
            [(h["actor"], h["action"], h["details"]) for h in history if h["actor"] == "gest.daeu@univ.fr"],
            facts,
        )

    # Two candidatures each way: one with two pieces refused, one with one.
    batch = [await transmitted(service) for _ in range(2)]
    single = [await transmitted(service) for _ in range(2)]
    for group, run in ((batch, "batch"), (single, "single")):
        items = []
        for (who, cid), count in zip(group, (2, 1)):
            items += [(e, envelope(e, event_id=uuid.uuid4(), time=e.at)) for e in await refusals(cid, who, count)]
        items.sort(key=lambda item: item[0].comment or "")  # the candidatures' refusals interleaved
        async with service.pool.acquire() as conn, conn.transaction():
            if run == "batch":
                await consumers.pieces_refused(service.deps, conn, items)
            else:
                for event, meta in items:
                    await consumers.piece_refused(service.deps, conn, event, meta)
    for (_, b), (_, s) in zip(batch, single):
        got, expected = await state(b), await state(s)
        assert got[0]["statut"] == "incomplet" and got[0]["pieces_refused"] >= 1
        assert got == expected
