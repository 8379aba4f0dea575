"""The dossiers service over real NATS (rpc and JetStream events) and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from datetime import datetime, timezone

from ecandidat.contracts.accounts import AccountCreated, AccountPurged
from ecandidat.contracts.candidatures import CandidatureStatusChanged, CandidatureTransmitted
from ecandidat.contracts.dossiers import (
    Adresse,
    Completeness,
    DossierView,
    GetCompleteness,
    GetDossier,
    GetSection,
    ImportRegistry,
    InformationsPersonnelles,
    RegistryImportReport,
    SaveSection,
    SectionSaved,
    SectionView,
)
from ecandidat.contracts.errors import ServiceError
from tests.conftest import eventually, quiescent
from tests.unit.dossiers.samples import adresse, bea, infos_perso, registry_csv, registry_row

from .conftest import candidate, candidature_created, packed, publish, staff


def fresh_bea() -> str:
    return bea(f"{uuid.uuid4().int % 10**10:010d}")


async def save(rpc, principal, version=0, account_id=None, **section) -> SectionSaved:
    request = SaveSection(
        principal=principal, account_id=account_id or principal.account_id, expected_version=version, **section
    )
    return await rpc.call(request, SectionSaved)


async def refused(call) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        await call
    return info.value


async def test_sections_are_written_in_order_with_versions_and_completeness(rpc):
    me = candidate()
    err = await refused(save(rpc, me, adresse=Adresse(**adresse())))
    assert err.code == "conflict" and "d'abord vos informations personnelles" in err.message
    saved = await save(rpc, me, informations_personnelles=InformationsPersonnelles(**infos_perso()))
    assert saved.section.version == 1 and saved.section.complete and saved.import_ine is None
    stale = await refused(
        save(rpc, me, 0, informations_personnelles=InformationsPersonnelles(**infos_perso(prenoms="Zoé")))
    )
    assert stale.code == "precondition_failed" and stale.extra["version"] == 1
    await save(rpc, me, adresse=Adresse(**adresse()))
    missing = await rpc.call(GetCompleteness(account_id=me.account_id), Completeness)
    assert (missing.informations_personnelles, missing.adresse, missing.baccalaureat, missing.complet) == (
        True,
        True,
        False,
        False,
    )
    assert missing.manquants == ["Baccalauréat : rubrique à renseigner"]
    dossier = await rpc.call(GetDossier(principal=me, account_id=me.account_id), DossierView)
    assert [s.version for s in dossier.sections][:3] == [1, 1, 0]
    assert (
        await refused(rpc.call(GetDossier(principal=candidate(), account_id=me.account_id), DossierView))
    ).code == "not_found"


async def test_two_tabs_saving_the_same_version_one_wins(rpc):
    me = candidate()
    await save(rpc, me, informations_personnelles=InformationsPersonnelles(**infos_perso()))
    tabs = [
        save(rpc, me, 1, informations_personnelles=InformationsPersonnelles(**infos_perso(prenoms=name)))
        for name in ("Onglet Un", "Onglet Deux")
    ]
    results = await asyncio.gather(*tabs, return_exceptions=True)
    ok = [r for r in results if isinstance(r, SectionSaved)]
    lost = [r for r in results if isinstance(r, ServiceError)]
    assert len(ok) == 1 and len(lost) == 1 and lost[0].code == "precondition_failed"
    current = await rpc.call(
        GetSection(principal=me, account_id=me.account_id, section="informations_personnelles"), SectionView
    )
    assert current.version == 2 and current.donnees["prenoms"] == ok[0].section.donnees["prenoms"]


async def test_candidature_created_locks_informations_personnelles_for_the_candidate_only(dossiers, rpc):
    me = candidate()
    await save(rpc, me, informations_personnelles=InformationsPersonnelles(**infos_perso()))
    event = candidature_created(me.account_id, centre="DAEU", commission="COM-DAEU")
    event_id = await publish(dossiers, event)
    await publish(dossiers, event, event_id=event_id)  # redelivered: changes nothing more

    async def locked():
        view = await rpc.call(GetDossier(principal=me, account_id=me.account_id), DossierView)
        return view.informations_personnelles_verrouillees

    await eventually(locked, message="informations personnelles locked")
    err = await refused(
        save(rpc, me, 1, informations_personnelles=InformationsPersonnelles(**infos_perso(portable="0600000000")))
    )
    assert err.code == "conflict" and err.extra["motif"] == "verrouillee"
    await save(rpc, me, 0, adresse=Adresse(**adresse()))  # other sections stay editable

    gestionnaire = staff("gestionnaire", centres=("DAEU",))
    fixed = await save(
        rpc,
        gestionnaire,
        1,
        account_id=me.account_id,
        informations_personnelles=InformationsPersonnelles(**infos_perso(nom_usage="Corrigé")),
    )
    assert fixed.section.version == 2 and fixed.section.donnees["nom_usage"] == "Corrigé"
    for outsider in (staff("gestionnaire", centres=("MASTER",)), staff("commission", commissions=("AUTRE",))):
        assert (
            await refused(rpc.call(GetDossier(principal=outsider, account_id=me.account_id), DossierView))
        ).code == "forbidden"
    # The commission reads the dossier once the candidature it examines is complete, not before.
    member = staff("commission_lecture", commissions=("COM-DAEU",))
    assert (
        await refused(rpc.call(GetDossier(principal=member, account_id=me.account_id), DossierView))
    ).code == "forbidden"
    facts = dict(
        candidature_id=event.candidature_id,
        account_id=me.account_id,
        numero_dossier=event.numero_dossier,
        formation_code=event.formation_code,
        formation_libelle=event.formation_libelle,
        centre_code="DAEU",
    )
    await publish(
        dossiers,
        CandidatureStatusChanged(
            **facts, revision=3, old_status="receptionne", new_status="complet", changed_at=datetime.now(timezone.utc)
        ),
    )
    # An older event arriving late (a retried delivery) does not take the statut back.
    late = await publish(
        dossiers,
        CandidatureTransmitted(**facts, revision=2, received_at=datetime.now(timezone.utc), centre_libelle="DAEU"),
    )

    async def member_reads() -> bool:
        try:
            return (
                await rpc.call(GetDossier(principal=member, account_id=me.account_id), DossierView)
            ).account_id == me.account_id
        except ServiceError:
            return False

    await eventually(member_reads, message="the commission reads the complete candidature's dossier")

    async def late_consumed() -> bool:
        async with dossiers.pool.acquire() as conn:
            return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM inbox WHERE event_id = $1)", late)

    await eventually(late_consumed, message="the late event consumed")
    assert await member_reads(), "the late transmitted event took the statut back"
    reader = staff("gestionnaire_lecture", centres=("DAEU",))
    err = await refused(
        save(
            rpc,
            reader,
            2,
            account_id=me.account_id,
            informations_personnelles=InformationsPersonnelles(**infos_perso()),
        )
    )
    assert err.code == "forbidden"


async def test_registry_import_is_idempotent_and_an_ine_imports_read_only_parts(rpc, dossiers_db):
    ine = fresh_bea()
    csv = registry_csv([registry_row(ine)])
    admin = staff("admin")
    first = await rpc.call(ImportRegistry(principal=admin, csv_gzip_base64=packed(csv)), RegistryImportReport)
    assert (first.lignes, first.crees, first.mis_a_jour, first.inchanges) == (1, 1, 0, 0)
    again = await rpc.call(ImportRegistry(principal=admin, csv_gzip_base64=packed(csv)), RegistryImportReport)
    assert (again.crees, again.mis_a_jour, again.inchanges) == (0, 0, 1)

    me = candidate()
    wrong = await refused(save(rpc, me, informations_personnelles=InformationsPersonnelles(**infos_perso(ine=ine))))
    assert wrong.code == "invalid" and wrong.details[0].field == "ine"
    assert await dossiers_db.fetchval("SELECT count(*) FROM sections WHERE account_id = $1", me.account_id) == 0

    mine = infos_perso(ine=ine.lower(), date_naissance="2000-06-21", portable="06 11 22 33 44")
    saved = await save(rpc, me, informations_personnelles=InformationsPersonnelles(**mine))
    assert saved.import_ine.ine == ine
    assert saved.import_ine.sections == ["informations_personnelles", "adresse", "baccalaureat", "cursus_interne"]
    identity = saved.section.donnees
    assert (identity["nom_naissance"], identity["commune_naissance"], identity["portable"]) == (
        "Dupont",
        "2A004",
        "06 11 22 33 44",
    )
    assert "nom_naissance" in saved.section.champs_importes and "portable" not in saved.section.champs_importes
    dossier = await rpc.call(GetDossier(principal=me, account_id=me.account_id), DossierView)
    sections = {s.section: s for s in dossier.sections}
    assert sections["cursus_interne"].donnees["items"][0]["libelle"] == "Licence 1 Psychologie"
    assert sections["adresse"].lecture_seule and dossier.ine_importe == ine
    err = await refused(save(rpc, me, sections["adresse"].version, adresse=Adresse(**adresse())))
    assert err.code == "conflict" and err.extra["motif"] == "importee"
    version = saved.section.version
    err = await refused(
        save(rpc, me, version, informations_personnelles=InformationsPersonnelles(**{**identity, "prenoms": "Autre"}))
    )
    assert [d.field for d in err.details] == ["prenoms"]
    phone = await save(
        rpc, me, version, informations_personnelles=InformationsPersonnelles(**{**identity, "portable": "0700000000"})
    )
    assert phone.section.donnees["portable"] == "0700000000" and phone.import_ine is None


async def test_registry_loaded_after_the_candidate_gave_an_ine_fills_the_dossier(rpc):
    ine = fresh_bea()
    me = candidate()
    await save(
        rpc, me, informations_personnelles=InformationsPersonnelles(**infos_perso(ine=ine, date_naissance="2000-06-21"))
    )
    report = await rpc.call(
        ImportRegistry(principal=staff("admin"), csv_gzip_base64=packed(registry_csv([registry_row(ine)]))),
        RegistryImportReport,
    )
    assert report.dossiers_importes == 1
    dossier = await rpc.call(GetDossier(principal=me, account_id=me.account_id), DossierView)
    assert dossier.ine_importe == ine and dossier.completude.complet


async def test_a_hostile_csv_imports_nothing_and_says_which_lines(rpc, dossiers_db):
    good, dup = fresh_bea(), fresh_bea()
    rows = [
        registry_row(good),
        registry_row(dup),
        registry_row(dup),
        registry_row("1234567890W"),
        registry_row(fresh_bea(), date_naissance="2000-13-01"),
    ]
    err = await refused(
        rpc.call(
            ImportRegistry(principal=staff("admin"), csv_gzip_base64=packed(registry_csv(rows))), RegistryImportReport
        )
    )
    assert err.code == "invalid" and err.extra["lignes_en_erreur"] == 3 and err.extra["lignes"] == 5
    assert [d.message.split(",")[0] for d in err.details] == ["Ligne 4", "Ligne 5", "Ligne 6"]
    assert await dossiers_db.fetchval("SELECT count(*) FROM registre WHERE ine = ANY($1)", [good, dup]) == 0
    bomb = await refused(
        rpc.call(
            ImportRegistry(principal=staff("admin"), csv_gzip_base64=packed(b"a" * (9 * 1024 * 1024))),
            RegistryImportReport,
        )
    )
    assert bomb.code == "too_large"
    assert (
        await refused(
            rpc.call(ImportRegistry(principal=staff("scolarite"), csv_gzip_base64=packed(b"x")), RegistryImportReport)
        )
    ).code == "forbidden"


async def test_account_created_with_a_known_ine_imports_the_records(dossiers, rpc):
    ine = fresh_bea()
    await rpc.call(
        ImportRegistry(principal=staff("admin"), csv_gzip_base64=packed(registry_csv([registry_row(ine)]))),
        RegistryImportReport,
    )
    me, stranger = candidate(), candidate()
    await publish(
        dossiers,
        AccountCreated(
            account_id=me.account_id, numero_dossier="22PB7Y36", email=me.email, nom="DUPONT", prenom="jean", ine=ine
        ),
    )
    await publish(
        dossiers,
        AccountCreated(
            account_id=stranger.account_id,
            numero_dossier="22PB7Y37",
            email=stranger.email,
            nom="Martin",
            prenom="Paul",
            ine=ine,
        ),
    )

    async def imported():
        view = await rpc.call(GetDossier(principal=me, account_id=me.account_id), DossierView)
        return view.ine_importe == ine and view

    view = await eventually(imported, message="records imported at account creation")
    assert {s.section: s.renseignee for s in view.sections}["baccalaureat"]
    other = await rpc.call(GetDossier(principal=stranger, account_id=stranger.account_id), DossierView)
    assert other.ine_importe is None  # the names do not match the records: nothing disclosed


async def test_account_purged_erases_the_dossier(dossiers, rpc, dossiers_db):
    me = candidate()
    await save(rpc, me, informations_personnelles=InformationsPersonnelles(**infos_perso()))
    await publish(dossiers, candidature_created(me.account_id))
    await publish(dossiers, AccountPurged(account_id=me.account_id, numero_dossier="22PB7Y36"))
    await publish(dossiers, candidature_created(me.account_id))  # late, from another stream: ignored

    async def erased():
        rows = await dossiers_db.fetchval(
            "SELECT (SELECT count(*) FROM dossiers WHERE account_id = $1) + (SELECT count(*) FROM candidatures WHERE account_id = $1)",
            me.account_id,
        )
        return rows == 0

    await eventually(erased, message="dossier erased")
    await eventually(lambda: quiescent(dossiers), message="the late candidature.created handled")
    assert await erased()
    err = await refused(rpc.call(GetDossier(principal=staff("admin"), account_id=me.account_id), DossierView))
    assert err.code == "not_found"


async def test_a_candidates_view_built_once_per_state_never_outlives_a_change(dossiers, rpc, dossiers_db):
    """The candidate's own view is serialised once per state of the dossier and kept by the replica:
    whoever changes the dossier (the candidate, the scolarité, a candidature's event, a tool writing
    to the database), the next read shows it."""
    me = candidate()
    await save(rpc, me, informations_personnelles=InformationsPersonnelles(**infos_perso()))

    async def read() -> DossierView:
        return await rpc.call(GetDossier(principal=me, account_id=me.account_id), DossierView)

    first = await read()
    kept = dossiers.deps.views[me.account_id]
    assert await read() == first and dossiers.deps.views[me.account_id] is kept  # served as kept

    gestionnaire = staff("gestionnaire", centres=("DAEU",))
    await publish(dossiers, candidature_created(me.account_id, centre="DAEU", commission="COM-DAEU"))

    async def locked() -> bool:
        return (await read()).informations_personnelles_verrouillees

    await eventually(locked, message="the lock shows in the candidate's view")
    await save(
        rpc,
        gestionnaire,
        1,
        account_id=me.account_id,
        informations_personnelles=InformationsPersonnelles(**infos_perso(nom_usage="Corrigé")),
    )
    view = await read()
    assert view.sections[0].version == 2 and view.sections[0].donnees["nom_usage"] == "Corrigé"
    # A staff member's view depends on their scope: never the candidate's kept one.
    staff_view = await rpc.call(GetDossier(principal=gestionnaire, account_id=me.account_id), DossierView)
    assert view.sections[0].lecture_seule and not staff_view.sections[0].lecture_seule
    await dossiers_db.execute("UPDATE dossiers SET locked = false WHERE account_id = $1", me.account_id)
    assert not (await read()).informations_personnelles_verrouillees


async def test_the_gateways_are_told_which_dossiers_changed_after_each_commit_and_only_then(
    dossiers, rpc, settings_for, dossiers_db
):
    """What a gateway keeps of a candidate's dossier is dropped by `sig.dossiers.dossiers_changed`:
    one message per commit that changes what the candidate sees (here a save, a first candidature's
    lock, an erasure), none for a refused save or a read. A gateway that reads the dossier as
    soon as it hears the signal reads the change (sent after the commit, not before): here each
    commit of a change takes 0.2 s more (a deferred trigger, run by COMMIT), so that a signal sent
    before it would be heard while the change is still invisible, every time."""
    from ecandidat.contracts.subjects import DOSSIERS_CHANGED
    from ecandidat.runtime.nats import connect_as, flush
    from gateway.settings import GatewaySettings

    gateway = await connect_as(settings_for(GatewaySettings), "gateway")
    heard: list[bytes] = []
    read_then: list[tuple[int, bool]] = []  # sections written and the lock, when the signal was heard

    async def hear(msg) -> None:
        row = await dossiers_db.fetchrow(
            "SELECT (SELECT count(*) FROM sections s WHERE s.account_id = d.account_id) AS n, d.locked"
            " FROM dossiers d WHERE d.account_id = $1",
            uuid.UUID(msg.data.decode()),
        )
        read_then.append((row["n"], row["locked"]) if row else (0, False))
        heard.append(msg.data)

    await dossiers_db.execute(
        """CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN PERFORM pg_sleep(0.2); RETURN NULL; END $$;
           CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT OR UPDATE OR DELETE ON sections
               DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();
           CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT OR UPDATE OR DELETE ON dossiers
               DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();"""
    )
    try:
        await gateway.subscribe(DOSSIERS_CHANGED, cb=hear)
        await flush(gateway)
        me, other = candidate(), candidate()
        await save(rpc, me, informations_personnelles=infos_perso())
        await eventually(lambda: heard == [str(me.account_id).encode()], message="the save announced")
        await refused(save(rpc, me, version=0, informations_personnelles=infos_perso(nom_usage="Autre")))
        await rpc.call(GetDossier(principal=me, account_id=me.account_id), DossierView)
        await save(rpc, other, informations_personnelles=infos_perso())
        await eventually(lambda: len(heard) == 2, message="the other save announced")
        assert heard[1] == str(other.account_id).encode()  # nothing for the refused save nor the read

        await publish(dossiers, candidature_created(me.account_id))
        await eventually(lambda: len(heard) == 3, message="the lock announced")
        assert heard[2] == str(me.account_id).encode()
        assert read_then == [(1, False), (1, False), (1, True)]

        await publish(dossiers, AccountPurged(account_id=me.account_id, numero_dossier="22PB7Y36"))
        await eventually(lambda: len(heard) == 4, message="the erasure announced")
        assert heard[3] == str(me.account_id).encode() and read_then[3] == (0, False)  # nothing left
        assert dossiers.deps.changes.sent == 4  # one message per commit, sent by the service
    finally:
        await gateway.close()
        await dossiers_db.execute("DROP FUNCTION slow_commit() CASCADE")
