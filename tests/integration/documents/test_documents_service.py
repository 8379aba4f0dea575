"""The documents service against real PostgreSQL, NATS JetStream and S3: freeze vs. changes under
concurrency, redelivered events, erasure, and the clamd scan with EICAR."""

from __future__ import annotations

import asyncio
import json
import tempfile
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import pytest
from pypdf import PdfReader

from ecandidat.contracts.accounts import AccountPurged
from ecandidat.contracts.candidatures import (
    CandidatureCreated,
    CandidatureErased,
    CandidatureStatusChanged,
    CandidatureTransmitted,
    DecisionValidated,
)
from ecandidat.contracts.documents import (
    DeletePieceFile,
    FreezePieces,
    FreezeResult,
    LetterGenerated,
    OpenPieceUpload,
    PieceView,
    ReleasePieces,
    SetPieceConcerned,
    UploadTicket,
)
from ecandidat.devstack._process import free_port
from ecandidat.contracts.envelope import envelope
from ecandidat.contracts.errors import ServiceError
from tests.conftest import eventually, quiescent
from tests.integration.documents.conftest import FACTS
from tests.unit.documents.corpus import EICAR, reportlab_pdf

PDF = reportlab_pdf()


def soon(seconds: float = 60) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


async def _uploaded(docs, me, cid, slot_id) -> bool:
    try:
        status, _ = await docs.upload(me, cid, slot_id, PDF)
    except ServiceError:
        return False
    return status == 201


async def deposit_all(docs, me, cid) -> list:
    slots = await docs.slots(cid)
    for slot in slots:
        status, body = await docs.upload(me, cid, slot["id"], PDF)
        assert status == 201, body
    return slots


async def test_freeze_and_delete_are_serialized_never_both(docs):
    """Many rounds of a delete racing a freeze: either the freeze wins (the delete is refused) or
    the delete wins (the freeze reports the piece missing) — never a frozen candidature missing a piece."""
    outcomes = set()
    for _ in range(12):
        me, cid, _ = await docs.candidature(pieces=2)
        slots = await deposit_all(docs, me, cid)
        freeze = docs.rpc.call(FreezePieces(candidature_id=cid, until=soon()), FreezeResult)
        delete = docs.rpc.call(DeletePieceFile(principal=me, candidature_id=cid, slot_id=slots[0]["id"]), PieceView)
        frozen, deleted = await asyncio.gather(freeze, delete, return_exceptions=True)
        if frozen.frozen:
            assert isinstance(deleted, ServiceError) and deleted.extra["reason"] == "transmission_en_cours"
            outcomes.add("freeze first")
        else:
            assert isinstance(deleted, PieceView) and deleted.statut == "en_attente"
            assert [m.libelle for m in frozen.missing] == ["Pièce 0"]
            outcomes.add("delete first")
        statuts = [s["statut"] for s in await docs.slots(cid)]
        assert frozen.frozen == ("en_attente" not in statuts)
    assert outcomes  # at least one order was seen (both, usually)


async def test_a_released_or_lapsed_freeze_no_longer_blocks_and_transmitted_makes_it_permanent(docs):
    me, cid, _ = await docs.candidature(pieces=2)
    slots = await deposit_all(docs, me, cid)
    delete = DeletePieceFile(principal=me, candidature_id=cid, slot_id=slots[0]["id"])
    assert (await docs.rpc.call(FreezePieces(candidature_id=cid, until=soon()), FreezeResult)).frozen
    with pytest.raises(ServiceError):
        await docs.rpc.call(delete, PieceView)
    await docs.rpc.call(ReleasePieces(candidature_id=cid), FreezeResult)
    status, _ = await docs.upload(me, cid, slots[0]["id"], PDF)
    assert status == 201
    assert (await docs.rpc.call(FreezePieces(candidature_id=cid, until=soon(0.5)), FreezeResult)).frozen
    # Lapsed without candidature.transmitted (the transmission did not commit): changes allowed again.
    await eventually(lambda: _uploaded(docs, me, cid, slots[0]["id"]), message="the freeze lapsed")
    assert (await docs.rpc.call(FreezePieces(candidature_id=cid, until=soon()), FreezeResult)).frozen
    await docs.publish(
        CandidatureTransmitted(
            candidature_id=cid,
            account_id=me.account_id,
            numero_dossier="26AB12CD",
            formation_code="DAEU-A",
            formation_libelle="DAEU option A",
            centre_code="DAEU",
            received_at=datetime.now(timezone.utc),
            centre_libelle="DAEU",
        )
    )

    async def permanent():
        async with docs.service.pool.acquire() as conn:
            return await conn.fetchval("SELECT transmitted FROM candidatures WHERE candidature_id = $1", cid)

    await eventually(permanent)
    await docs.rpc.call(ReleasePieces(candidature_id=cid), FreezeResult)  # a late release changes nothing
    with pytest.raises(ServiceError) as refused:
        await docs.rpc.call(delete, PieceView)
    assert refused.value.extra["reason"] == "candidature_transmise"


async def test_status_changes_in_one_batch_write_what_one_at_a_time_writes(docs):
    """`candidature_statuses_changed` (a run of status_changed handled at once, one statement)
    against `candidature_status_changed` event by event: each candidature's statut and version the
    same, an event older than the state held changing nothing. A run holding a staff member's change
    goes event by event: the pieces it reopens follow the statut each event sets."""
    from services.documents import handlers

    def changed(me, cid, new, revision, cause="piece_refusee"):
        event = CandidatureStatusChanged(
            candidature_id=cid,
            account_id=me.account_id,
            **FACTS,
            old_status="receptionne",
            new_status=new,
            changed_at=datetime.now(timezone.utc),
            cause=cause,
            revision=revision,
        )
        return event, envelope(event, event_id=uuid.uuid4(), time=event.changed_at)

    async def state(cids):
        async with docs.service.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT candidature_id, statut, version FROM candidatures WHERE candidature_id = ANY($1::uuid[])", cids
            )
            slots = await conn.fetch(
                "SELECT candidature_id, ordre, reopened FROM piece_slots WHERE candidature_id = ANY($1::uuid[])", cids
            )
        by_id = {r["candidature_id"]: (r["statut"], r["version"]) for r in rows}
        reopened = {(r["candidature_id"], r["ordre"]): r["reopened"] for r in slots}
        return [by_id[c] for c in cids], [reopened[c, i] for c in cids for i in range(2)]

    async def run(items, batch):
        async with docs.service.pool.acquire() as conn, conn.transaction():
            if batch:
                await handlers.candidature_statuses_changed(docs.service.deps, conn, items)
            else:
                for event, meta in items:
                    await handlers.candidature_status_changed(docs.service.deps, conn, event, meta)

    for with_staff in (False, True):
        results = []
        for batch in (True, False):
            (a, ca, _), (b, cb, _), (c, cc, _) = [await docs.candidature() for _ in range(3)]
            items = [
                changed(a, ca, "incomplet", 5),
                changed(b, cb, "incomplet", 3),
                changed(a, ca, "receptionne", 4),  # older than the one before: changes nothing
                changed(b, cb, "en_attente", 6, cause="staff" if with_staff else "piece_refusee"),
                changed(c, cc, "incomplet", 2),
                changed(a, ca, "complet", 7),
                changed(c, cc, "receptionne", 1),  # the last of c's, yet older: changes nothing
            ]
            await run(items, batch)
            results.append(await state([ca, cb, cc]))
        assert results[0] == results[1]
        assert results[0][0] == [("complet", 7), ("en_attente", 6), ("incomplet", 2)]
        # Only a staff member's change reopens pieces (« En attente » gives the dossier back).
        assert any(results[0][1]) == with_staff


async def test_freezing_an_unknown_candidature_says_not_ready(docs):
    with pytest.raises(ServiceError) as refused:
        await docs.rpc.call(FreezePieces(candidature_id=uuid.uuid4(), until=soon()), FreezeResult)
    assert refused.value.code == "not_found"


async def test_a_redelivered_candidature_created_opens_the_slots_once(docs):
    me, cid, required = await docs.candidature(pieces=3)
    slots = await docs.slots(cid)
    async with docs.service.pool.acquire() as conn:
        event_id = await conn.fetchval(
            "SELECT event_id FROM inbox WHERE consumer = 'documents_on-candidatures' LIMIT 1"
        )
    created = CandidatureCreated(
        candidature_id=cid,
        account_id=me.account_id,
        numero_dossier="26AB12CD",
        formation_code="DAEU-A",
        formation_libelle="DAEU option A",
        centre_code="DAEU",
        centre_libelle="DAEU",
        type_traitement="acces_controle",
        date_limite_retour=datetime(2099, 1, 1).date(),
        campagne_libelle="Campagne 2026",
        pieces=required,
    )
    await docs.publish(created)  # the same fact again under a new id (a producer retry after a crash)
    await docs.publish(created, event_id)  # and a plain redelivery
    await eventually(lambda: quiescent(docs.service), message="both handled")
    assert [s["id"] for s in await docs.slots(cid)] == [s["id"] for s in slots]


async def test_the_date_limite_de_retour_closes_changes(docs):
    me, cid, _ = await docs.candidature(pieces=2, retour=datetime(2020, 1, 1).date())
    slots = await docs.slots(cid)
    with pytest.raises(ServiceError) as refused:
        await docs.rpc.call(
            SetPieceConcerned(principal=me, candidature_id=cid, slot_id=slots[1]["id"], concerned=False), PieceView
        )
    assert "01/01/2020" in refused.value.message


async def test_account_purged_erases_all_the_candidates_files_and_nothing_else(docs):
    account = uuid.uuid4()
    me, first, _ = await docs.candidature(account_id=account)
    _, second, _ = await docs.candidature(account_id=account)
    other, kept, _ = await docs.candidature()
    for who, cid in ((me, first), (me, second), (other, kept)):
        await deposit_all(docs, who, cid)
    storage = docs.service.storage
    assert len(await storage.keys()) == 6
    await docs.publish(AccountPurged(account_id=account, numero_dossier="26AB12CD"))

    async def erased():
        keys = await storage.keys()
        return len(keys) == 2 and all(k.startswith(f"pieces/{kept}/") for k in keys)

    await eventually(erased, message="the purged candidate's files are gone, the other's are kept")
    assert await docs.slots(first) == [] and len(await docs.slots(kept)) == 2


def _created(cid: uuid.UUID, account: uuid.UUID) -> CandidatureCreated:
    return CandidatureCreated(
        candidature_id=cid,
        account_id=account,
        **FACTS,
        centre_libelle="DAEU",
        type_traitement="acces_controle",
        date_limite_retour=datetime(2099, 1, 1).date(),
        campagne_libelle="Campagne 2026",
        pieces=[],
    )


async def test_a_late_candidature_created_opens_nothing_for_what_was_erased(docs):
    """The accounts stream's consumer ahead of the candidatures one (the candidate applied, cancelled
    and deleted the account at once), or an event of a destroyed candidature replayed: nothing opens."""
    purged, late = uuid.uuid4(), uuid.uuid4()
    await docs.publish(AccountPurged(account_id=purged, numero_dossier="26AB12CD", motif="suppression"))
    await eventually(lambda: quiescent(docs.service), message="the purge handled")
    await docs.publish(_created(late, purged))
    _, destroyed, _ = await docs.candidature()
    await docs.publish(
        CandidatureErased(candidature_id=destroyed, account_id=uuid.uuid4(), **FACTS, campagne_code="C25")
    )
    await eventually(lambda: quiescent(docs.service), message="the erasure handled")
    await docs.publish(_created(destroyed, uuid.uuid4()))  # the same fact again, under a new id (a replay)
    opened, kept = uuid.uuid4(), uuid.uuid4()
    await docs.publish(_created(opened, kept))  # after them on the stream: once it is open, they were handled
    async with docs.service.pool.acquire() as conn:

        async def handled() -> bool:
            return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM candidatures WHERE candidature_id = $1)", opened)

        await eventually(handled, message="the later candidature.created handled")
        found = await conn.fetchval(
            "SELECT count(*) FROM candidatures WHERE candidature_id = ANY($1::uuid[])", [late, destroyed]
        )
    assert found == 0


async def test_an_upload_ticket_serves_once(docs):
    me, cid, _ = await docs.candidature()
    slot = (await docs.slots(cid))[0]["id"]
    ticket = await docs.rpc.call(OpenPieceUpload(principal=me, candidature_id=cid, slot_id=slot), UploadTicket)
    async with aiohttp.ClientSession() as http:
        async with http.post(ticket.url, data=PDF) as resp:
            assert resp.status == 201
        async with http.post(ticket.url, data=PDF) as resp:
            assert resp.status == 410
        async with http.post(ticket.url.rsplit("/", 1)[0] + "/forged", data=PDF) as resp:
            assert resp.status == 410


async def test_clamd_refuses_eicar_and_nothing_is_stored(docs_for, clamd_server):
    host, port = clamd_server
    docs = await docs_for(clamd_host=host, clamd_port=port)
    me, cid, _ = await docs.candidature()
    slot = (await docs.slots(cid))[0]["id"]
    status, body = await docs.upload(me, cid, slot, EICAR)
    assert status == 422 and body["error"]["extra"]["reason"] == "virus"
    assert "Eicar-Test-Signature" in body["error"]["message"]
    assert await docs.service.storage.keys() == []
    status, body = await docs.upload(me, cid, slot, PDF)
    assert status == 201, body
    health = await docs.service._health(None, None)
    assert health.checks["clamd"].ok


async def test_an_unreachable_clamd_refuses_with_503_and_stores_nothing(docs_for):
    docs = await docs_for(clamd_host="127.0.0.1", clamd_port=free_port(), clamd_timeout=2)
    me, cid, _ = await docs.candidature()
    status, body = await docs.upload(me, cid, (await docs.slots(cid))[0]["id"], PDF)
    assert status == 503 and "antivirus" in body["error"]["message"]
    assert await docs.service.storage.keys() == []


@pytest.mark.parametrize(
    "kind, title", [("favorable", "Lettre d'admission"), ("defavorable", "Avis défavorable"), ("liste_attente", None)]
)
async def test_a_validated_decision_gets_its_letter(docs, kind, title):
    me, cid, _ = await docs.candidature()
    decision_id = uuid.uuid4()
    event = DecisionValidated(
        candidature_id=cid,
        account_id=me.account_id,
        numero_dossier="26AB12CD",
        formation_code="DAEU-A",
        formation_libelle="DAEU option A",
        centre_code="DAEU",
        decision_id=decision_id,
        kind=kind,
        motif="Prérequis non satisfaits" if kind == "defavorable" else None,
        confirmation_deadline=soon(864000) if kind == "favorable" else None,
        validated_at=datetime.now(timezone.utc),
        centre_libelle="DAEU",
        contact_libelle="Formation Continue",
        contact_adresse="5 Allées Antonio Machado",
        nom="Martin",
        prenom="Camille",
    )
    event_id = await docs.publish(event)
    await docs.publish(event, event_id)  # redelivered: one letter, one event

    async def letters():
        async with docs.service.pool.acquire() as conn:
            return await conn.fetch(
                """SELECT payload FROM outbox WHERE subject = 'evt.documents.letter.generated'
                   AND convert_from(payload, 'UTF8')::jsonb->>'subject' = $1""",
                str(cid),
            )

    if title is None:
        await eventually(lambda: quiescent(docs.service), message="the decision handled")
        assert await letters() == [] and await docs.service.storage.keys(f"lettres/{cid}/") == []
        return
    [row] = await eventually(letters, message="letter.generated")
    generated = LetterGenerated.model_validate(json.loads(row["payload"])["data"])
    assert generated.key == f"lettres/{cid}/{decision_id}.pdf" and generated.kind == kind
    path = Path(tempfile.mkdtemp()) / "letter.pdf"
    await docs.service.storage.download_to(generated.key, path)
    text = "\n".join(p.extract_text() for p in PdfReader(path).pages)
    assert title in text and "DAEU option A" in text and "Camille Martin" in text
