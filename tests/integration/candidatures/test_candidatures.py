"""Applying, cancelling, transmitting: rules, concurrency and events, against real PostgreSQL and NATS."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timezone

import pytest

from ecandidat.contracts import candidatures as c
from ecandidat.contracts.accounts import AccountPurged
from ecandidat.contracts.auth import Principal
from ecandidat.contracts.errors import ServiceError
from ecandidat.contracts.envelope import envelope
from tests.conftest import eventually, operator_publish
from tests.integration.candidatures.conftest import candidate


async def apply(service, who, formation="DAEU-A") -> c.CandidatureView:
    return await service.client.call(c.Apply(principal=who, formation_code=formation), c.CandidatureView)


async def refused(coro) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        await coro
    return info.value


async def count_rows(service, who) -> int:
    async with service.pool.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM candidatures WHERE account_id = $1", who.account_id)


async def events_of(service, subject: str, candidature_id: uuid.UUID) -> list[dict]:
    async with service.pool.acquire() as conn:
        rows = await conn.fetch("SELECT payload FROM outbox WHERE subject = $1 ORDER BY seq", subject)
    return [e for e in (json.loads(r["payload"]) for r in rows) if e["subject"] == str(candidature_id)]


async def test_offer_tree_shows_what_is_open_now(service):
    tree = await service.client.call(c.GetOfferTree(), c.OfferTree)
    assert tree.campagne.startswith("Campagne ")
    centres = {centre.libelle: centre for centre in tree.centres}
    assert "Service de la Formation continue - Formations diplômantes" in centres
    fc = centres["Service de la Formation continue - Formations diplômantes"]
    types = {t.libelle: [f.libelle for f in t.formations] for t in fc.types}
    assert types["M- MASTER"] == ["M1 BIOLOGIE DU VIEILLISSEMENT"]
    assert "DU Musicothérapie" in types["U- DIPLÔME D'UNIVERSITÉ BAC+3"]
    assert fc.contact.adresse.startswith("5 Allées Antonio Machado")
    service.clock.advance(days=61)  # past the deposit end of every demo formation
    later = await service.client.call(c.GetOfferTree(), c.OfferTree)
    assert later.centres == []


async def test_apply_creates_an_en_attente_candidature_with_its_pieces(service):
    who = candidate()
    view = await apply(service, who)
    assert view.statut == "en_attente" and view.statut_libelle == "En attente"
    assert view.type_traitement == "acces_controle" and view.type_traitement_valide
    assert view.formation_libelle == "DAEU option A" and view.centre_code == "DAEU"
    assert view.can_cancel and not view.can_transmit, "its pieces are not open yet"
    seen = await service.client.call(c.GetCandidature(principal=who, candidature_id=view.id), c.CandidatureView)
    assert seen.can_transmit, "documents (the stand-in) reports no piece missing"
    [event] = await events_of(service, "evt.candidatures.candidature.created", view.id)
    data = event["data"]
    assert data["numero_dossier"] == who.numero_dossier and data["date_limite_retour"] == str(view.date_limite_retour)
    codes = [p["code"] for p in data["pieces"]]
    assert codes[:3] == ["IDENTITE", "SCOLARITE", "CV"]
    assert {"IMPOSITION", "MOTIVATION-DAEU", "FICHE-CLIENT", "SED", "AAH"} <= set(codes)
    assert "MOTIVATION-FC" not in codes
    conditional = {p["code"] for p in data["pieces"] if p["conditionnelle"]}
    assert conditional == {"SED", "MOINS-24", "FICHE-REGION", "RSA", "AAH"}
    mine = await service.client.call(c.ListMyCandidatures(principal=who), c.CandidatureList)
    assert [m.id for m in mine.items] == [view.id]


async def test_refusals_change_nothing(service, peers):
    who = candidate()
    err = await refused(apply(service, who, "NO-SUCH"))
    assert err.code == "not_found"
    peers.missing_in_dossier = ["Informations personnelles à compléter", "Baccalauréat à renseigner"]
    err = await refused(apply(service, who))
    assert err.extra["reason"] == "dossier_incomplet" and "Baccalauréat à renseigner" in err.message
    peers.missing_in_dossier = []
    await apply(service, who)
    err = await refused(apply(service, who))
    assert err.extra["reason"] == "deja_candidat" and err.code == "conflict"
    service.clock.advance(days=61)
    err = await refused(apply(service, who, "DAEU-B"))
    assert err.extra["reason"] == "depot_ferme"
    service.clock.advance(days=200)
    err = await refused(apply(service, who, "DAEU-B"))
    assert err.extra["reason"] == "campagne_fermee"
    assert await count_rows(service, who) == 1


async def test_maximum_per_centre(service):
    async with service.pool.acquire() as conn:
        await conn.execute("UPDATE centres SET max_candidatures = 2 WHERE code = 'FC-DIPL'")
    who = candidate()
    await apply(service, who, "DU-MUSICO")
    await apply(service, who, "M1-BIOVIE")
    err = await refused(apply(service, who, "DU-LSF"))
    assert err.extra["reason"] == "maximum_atteint"
    await apply(service, who, "DAEU-A")  # another centre has its own maximum
    assert await count_rows(service, who) == 3


async def test_fifty_parallel_applications_create_one_candidature(service):
    who = candidate()
    results = await asyncio.gather(*(apply(service, who) for _ in range(50)), return_exceptions=True)
    created = [r for r in results if isinstance(r, c.CandidatureView)]
    refusals = [r for r in results if isinstance(r, ServiceError)]
    assert len(created) == 1 and len(refusals) == 49
    assert {r.extra.get("reason") for r in refusals} == {"deja_candidat"}
    assert await count_rows(service, who) == 1


async def test_cancel_is_definitive_and_frees_the_formation(service):
    who = candidate()
    view = await apply(service, who)
    cancelled = await service.client.call(c.CancelCandidature(principal=who, candidature_id=view.id), c.CandidatureView)
    assert cancelled.statut == "annulee" and cancelled.cancelled_at is not None and not cancelled.can_transmit
    assert await events_of(service, "evt.candidatures.candidature.cancelled", view.id)
    err = await refused(
        service.client.call(c.CancelCandidature(principal=who, candidature_id=view.id), c.CandidatureView)
    )
    assert err.extra["reason"] == "deja_annulee"
    again = await apply(service, who)  # a cancelled candidature does not count
    assert again.id != view.id


async def test_transmit_needs_every_piece_then_locks_the_candidature(service, peers):
    who = candidate()
    view = await apply(service, who)
    peers.missing_pieces[view.id] = ["Curriculum vitae détaillé", "Fiche client"]
    seen = await service.client.call(c.GetCandidature(principal=who, candidature_id=view.id), c.CandidatureView)
    assert not seen.can_transmit, "can_transmit says what the transmission will answer"
    err = await refused(
        service.client.call(c.TransmitCandidature(principal=who, candidature_id=view.id), c.CandidatureView)
    )
    assert err.extra["reason"] == "pieces_manquantes"
    assert err.message == "Votre candidature ne peut être transmise : 2 pièces manquantes."
    assert [d.message for d in err.details] == ["Curriculum vitae détaillé", "Fiche client"]
    peers.missing_pieces.clear()
    done = await service.client.call(c.TransmitCandidature(principal=who, candidature_id=view.id), c.CandidatureView)
    assert done.statut == "receptionne" and done.date_reception is not None
    assert not done.can_cancel and not done.can_transmit and not done.can_change_pieces
    assert peers.frozen == [view.id]
    assert await events_of(service, "evt.candidatures.candidature.transmitted", view.id)
    err = await refused(
        service.client.call(c.TransmitCandidature(principal=who, candidature_id=view.id), c.CandidatureView)
    )
    assert err.extra["reason"] == "deja_transmise"
    err = await refused(
        service.client.call(c.CancelCandidature(principal=who, candidature_id=view.id), c.CandidatureView)
    )
    assert err.extra["reason"] == "annulation_impossible"


async def test_transmit_is_refused_while_the_dossier_lacks_a_section_it_had_when_applying(service, peers):
    who = candidate()
    view = await apply(service, who, "VA85-LIC")
    peers.missing_in_dossier = ["Expériences professionnelles : rubrique à renseigner, exigée par cette formation"]
    err = await refused(
        service.client.call(c.TransmitCandidature(principal=who, candidature_id=view.id), c.CandidatureView)
    )
    assert err.extra["reason"] == "dossier_incomplet"
    assert err.message == (
        "Votre dossier doit être complété avant de transmettre votre candidature : "
        "Expériences professionnelles : rubrique à renseigner, exigée par cette formation."
    )
    assert peers.frozen == [] and peers.released == [], "the pieces are not touched"
    seen = await service.client.call(c.GetCandidature(principal=who, candidature_id=view.id), c.CandidatureView)
    assert seen.statut == view.statut and seen.date_reception is None
    assert not await events_of(service, "evt.candidatures.candidature.transmitted", view.id)
    # The view says it beforehand, as it says the pieces missing.
    assert not seen.can_transmit and seen.rubriques_a_completer == ["experiences_professionnelles"]
    peers.missing_in_dossier = []
    seen = await service.client.call(c.GetCandidature(principal=who, candidature_id=view.id), c.CandidatureView)
    assert seen.can_transmit and seen.rubriques_a_completer == []
    done = await service.client.call(c.TransmitCandidature(principal=who, candidature_id=view.id), c.CandidatureView)
    assert done.statut == "receptionne"


async def test_a_dossier_that_cannot_be_checked_waits_and_says_so(service, peers):
    """The VA85 requires a section: while the dossiers service does not answer, the candidature
    says its check is unavailable (not that pieces are missing) and the transmission changes nothing."""
    who = candidate()
    view = await apply(service, who, "VA85-LIC")
    other = await apply(service, who, "DAEU-A")
    seen = await service.client.call(c.GetCandidature(principal=who, candidature_id=view.id), c.CandidatureView)
    assert seen.can_transmit and not seen.verification_indisponible
    peers.dossiers_down = True
    seen = await service.client.call(c.GetCandidature(principal=who, candidature_id=view.id), c.CandidatureView)
    assert not seen.can_transmit and seen.verification_indisponible and seen.rubriques_a_completer == []
    err = await refused(
        service.client.call(c.TransmitCandidature(principal=who, candidature_id=view.id), c.CandidatureView)
    )
    assert err.code == "unavailable"
    assert peers.frozen == [] and not await events_of(service, "evt.candidatures.candidature.transmitted", view.id)
    # A formation that requires no section does not ask the dossiers service: still transmittable.
    other = await service.client.call(c.GetCandidature(principal=who, candidature_id=other.id), c.CandidatureView)
    assert other.can_transmit and not other.verification_indisponible
    peers.dossiers_down = False
    seen = await service.client.call(c.GetCandidature(principal=who, candidature_id=view.id), c.CandidatureView)
    assert seen.can_transmit and not seen.verification_indisponible
    done = await service.client.call(c.TransmitCandidature(principal=who, candidature_id=view.id), c.CandidatureView)
    assert done.statut == "receptionne"


async def test_transmit_late_or_someone_elses_is_refused(service, peers):
    who, other = candidate(), candidate()
    view = await apply(service, who)
    err = await refused(
        service.client.call(c.TransmitCandidature(principal=other, candidature_id=view.id), c.CandidatureView)
    )
    assert err.code == "not_found"
    err = await refused(
        service.client.call(c.GetCandidature(principal=other, candidature_id=view.id), c.CandidatureView)
    )
    assert err.code == "not_found"
    service.clock.advance(days=76)  # past the date limite de retour
    err = await refused(
        service.client.call(c.TransmitCandidature(principal=who, candidature_id=view.id), c.CandidatureView)
    )
    assert err.extra["reason"] == "date_retour_depassee"
    assert peers.frozen == []


async def test_freeze_is_released_when_the_transmission_cannot_commit(service, peers):
    who = candidate()
    view = await apply(service, who)

    async def cancelled_meanwhile(req):
        # The candidature changes between the freeze and the transmission's commit.
        async with service.pool.acquire() as conn:
            await conn.execute("UPDATE candidatures SET cancelled_at = now() WHERE id = $1", req.candidature_id)

    peers.on_freeze = cancelled_meanwhile
    err = await refused(
        service.client.call(c.TransmitCandidature(principal=who, candidature_id=view.id), c.CandidatureView)
    )
    assert err.extra["reason"] == "annulee"
    assert peers.released == [view.id]


async def test_two_transmissions_at_once_the_refused_one_leaves_the_freeze_to_the_other(service, peers):
    """A double click: both requests freeze the pieces, one transmits, the other is refused as
    already transmitted and must not release the freeze the transmission keeps."""
    who = candidate()
    view = await apply(service, who)
    both_frozen, asked = asyncio.Event(), []

    async def wait_for_the_other(req):
        asked.append(req)
        if len(asked) == 2:  # both requests are past their own check of the statut
            both_frozen.set()
        await asyncio.wait_for(both_frozen.wait(), 30)

    peers.on_freeze = wait_for_the_other
    outcomes = await asyncio.gather(
        *(
            service.client.call(c.TransmitCandidature(principal=who, candidature_id=view.id), c.CandidatureView)
            for _ in range(2)
        ),
        return_exceptions=True,
    )
    done = [o for o in outcomes if isinstance(o, c.CandidatureView)]
    [refusal] = [o for o in outcomes if not isinstance(o, c.CandidatureView)]
    assert [d.statut for d in done] == ["receptionne"] and refusal.extra["reason"] == "deja_transmise", outcomes
    assert peers.frozen == [view.id, view.id] and peers.released == []


async def test_staff_scope(service):
    who = candidate()
    view = await apply(service, who)
    staff = lambda **kw: Principal(realm="staff", account_id=uuid.uuid4(), email="s@univ.fr", **kw)  # noqa: E731
    for principal, allowed in [
        (staff(roles=("admin",)), True),
        (staff(roles=("gestionnaire",), centres=("DAEU",)), True),
        (staff(roles=("gestionnaire",), centres=("FC-DIPL",)), False),
        # the commission sees a candidature once it is complete, not before
        (staff(roles=("commission",), commissions=("COM-DAEU",)), False),
        (staff(roles=("commission",), commissions=("COM-FC",)), False),
    ]:
        call = service.client.call(c.GetCandidature(principal=principal, candidature_id=view.id), c.CandidatureView)
        if allowed:
            assert (await call).id == view.id
        else:
            assert (await refused(call)).code == "forbidden"


async def test_offer_is_administered_by_admins_only(service):
    who = candidate()
    req = dict(code="X1", libelle="Centre X", contact_libelle="X", contact_adresse="Rue X")
    err = await refused(service.client.call(c.SaveCentre(principal=who, **req), c.Saved))
    assert err.code == "forbidden"
    admin = Principal(realm="staff", account_id=uuid.uuid4(), email="a@univ.fr", roles=("admin",))
    saved = await service.client.call(c.SaveCentre(principal=admin, **req), c.Saved)
    assert saved.created
    err = await refused(
        service.client.call(c.SaveCommission(principal=admin, code="K", libelle="K", centre_code="NOPE"), c.Saved)
    )
    assert err.code == "invalid" and err.details[0].field == "centre_code"


async def test_account_purged_erases_the_candidatures(service):
    who = candidate()
    await apply(service, who)
    body = envelope(
        AccountPurged(account_id=who.account_id, numero_dossier=who.numero_dossier),
        event_id=uuid.uuid4(),
        time=datetime.now(timezone.utc),
    )
    await operator_publish(service.settings, "evt.accounts.account.purged", body.model_dump_json().encode())
    await eventually(lambda: _none_left(service, who), message="candidatures erased")
    # An application of the purged account still in flight (a second tab) is refused, not left without its account.
    err = await refused(apply(service, who))
    assert (err.code, err.message) == ("forbidden", "Ce compte a été supprimé.")
    assert await count_rows(service, who) == 0


async def _none_left(service, who) -> bool:
    return await count_rows(service, who) == 0
