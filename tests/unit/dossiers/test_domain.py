"""Who may read and write what, the order, the lock, imported parts, versions, completeness."""

from __future__ import annotations

import uuid

import pytest

from ecandidat.contracts.access import CandidatureScope
from ecandidat.contracts.auth import Principal
from ecandidat.contracts.errors import Conflict, Forbidden, NotFound
from services.dossiers.domain import (
    IMPORTED_IDENTITY_FIELDS,
    WHOLE_SECTION,
    Dossier,
    StoredSection,
    check_can_read,
    check_can_write,
    check_imported_fields_unchanged,
    check_version,
    completeness,
    view,
)

from .samples import adresse, baccalaureat, experiences, infos_perso, stages

ME = uuid.uuid4()


def candidate(account_id=ME) -> Principal:
    return Principal(realm="candidate", account_id=account_id, email="c@example.org")


def staff(*roles, centres=(), commissions=()) -> Principal:
    return Principal(
        realm="staff",
        account_id=uuid.uuid4(),
        email="s@example.org",
        roles=roles,
        centres=centres,
        commissions=commissions,
    )


def dossier(statut: str = "complet", **sections) -> Dossier:
    return Dossier(
        ME,
        sections={k: StoredSection(k, 1, v) for k, v in sections.items()},
        scopes=(CandidatureScope("DAEU", "COM-DAEU", statut),),
    )


def test_a_candidate_sees_only_their_own_dossier():
    check_can_read(candidate(), dossier())
    with pytest.raises(NotFound):
        check_can_read(candidate(uuid.uuid4()), dossier())


@pytest.mark.parametrize(
    "principal,allowed",
    [
        (staff("admin"), True),
        (staff("scolarite_lecture"), True),
        (staff("gestionnaire", centres=("DAEU",)), True),
        (staff("gestionnaire", centres=("MASTER",)), False),
        (staff("commission_lecture", commissions=("COM-DAEU",)), True),
        (staff("commission", commissions=("AUTRE",)), False),
        (staff(), False),
    ],
)
def test_staff_read_scope(principal, allowed):
    if allowed:
        check_can_read(principal, dossier())
    else:
        with pytest.raises(Forbidden):
            check_can_read(principal, dossier())


def test_a_commission_reads_the_dossier_once_a_candidature_it_examines_is_complete():
    member = staff("commission", commissions=("COM-DAEU",))
    for statut in ("en_attente", "receptionne", "incomplet"):
        with pytest.raises(Forbidden):
            check_can_read(member, dossier(statut))
    check_can_read(member, dossier("complet"))


def test_staff_may_correct_only_informations_personnelles_and_read_only_roles_not_at_all():
    check_can_write(staff("gestionnaire", centres=("DAEU",)), dossier(), "informations_personnelles")
    with pytest.raises(Forbidden):
        check_can_write(staff("gestionnaire_lecture", centres=("DAEU",)), dossier(), "informations_personnelles")
    with pytest.raises(Forbidden):
        check_can_write(staff("admin"), dossier(), "adresse")


def test_sections_are_written_in_order():
    with pytest.raises(Conflict) as refused:
        check_can_write(candidate(), dossier(), "adresse")
    assert refused.value.extra["motif"] == "ordre" and "d'abord vos informations personnelles" in refused.value.message
    check_can_write(candidate(), dossier(informations_personnelles=infos_perso()), "adresse")


def test_lock_applies_to_the_candidate_only():
    locked = Dossier(
        ME,
        locked=True,
        sections={"informations_personnelles": StoredSection("informations_personnelles", 1, infos_perso())},
    )
    with pytest.raises(Conflict) as refused:
        check_can_write(candidate(), locked, "informations_personnelles")
    assert refused.value.extra["motif"] == "verrouillee"
    check_can_write(candidate(), locked, "adresse")
    check_can_write(staff("scolarite"), locked, "informations_personnelles")


def test_imported_parts_are_read_only_for_the_candidate():
    d = Dossier(
        ME,
        sections={
            "informations_personnelles": StoredSection(
                "informations_personnelles", 1, infos_perso(), IMPORTED_IDENTITY_FIELDS
            ),
            "adresse": StoredSection("adresse", 1, adresse(), (WHOLE_SECTION,)),
        },
    )
    with pytest.raises(Conflict):
        check_can_write(candidate(), d, "adresse")
    with pytest.raises(Conflict):
        check_can_write(candidate(), d, "cursus_interne")
    stored = d.section("informations_personnelles")
    check_imported_fields_unchanged(stored, infos_perso(portable="06 00 00 00 00"))
    with pytest.raises(Conflict) as refused:
        check_imported_fields_unchanged(stored, infos_perso(nom_naissance="Autre", prenoms="X"))
    assert {d.field for d in refused.value.details} == {"nom_naissance", "prenoms"}
    assert view(d, "adresse", candidate()).lecture_seule


def test_a_stale_version_is_a_precondition_failure():
    with pytest.raises(Conflict) as refused:
        check_version(StoredSection("adresse", 3, adresse()), 2)
    assert refused.value.code == "precondition_failed" and refused.value.extra["version"] == 3


def test_completeness_says_what_is_missing_in_french():
    empty = completeness(dossier())
    assert not empty.complet
    assert empty.manquants == [
        "Informations personnelles : rubrique à renseigner",
        "Adresse : rubrique à renseigner",
        "Baccalauréat : rubrique à renseigner",
    ]
    full = completeness(
        dossier(informations_personnelles=infos_perso(), adresse=adresse(), baccalaureat=baccalaureat())
    )
    assert full.complet and full.manquants == []
    partial = dossier(informations_personnelles={k: v for k, v in infos_perso().items() if k != "nationalite"})
    assert "Informations personnelles : nationalite — Ce champ est obligatoire." in completeness(partial).manquants


def test_a_formation_requires_optional_sections_and_an_empty_list_is_not_one_line():
    required = dict(informations_personnelles=infos_perso(), adresse=adresse(), baccalaureat=baccalaureat())
    assert completeness(dossier(**required)).complet  # cursus, stages, expériences: optional by default
    asked = ("experiences_professionnelles", "stages")
    none = completeness(dossier(**required), asked)
    assert not none.complet and none.manquants == [  # in the dossier's order, whatever the formation's
        "Stages : rubrique à renseigner, exigée par cette formation",
        "Expériences professionnelles : rubrique à renseigner, exigée par cette formation",
    ]
    assert none.informations_personnelles and none.adresse and none.baccalaureat
    assert none.a_completer == ["stages", "experiences_professionnelles"]  # the dossier's order
    empty = completeness(dossier(**required, experiences_professionnelles={"items": []}, stages=stages()), asked)
    assert not empty.complet and empty.manquants == [
        "Expériences professionnelles : rubrique à renseigner, exigée par cette formation"
    ]
    both = completeness(dossier(**required, experiences_professionnelles=experiences(), stages=stages()), asked)
    assert both.complet and both.manquants == [] and both.a_completer == []
    # The three sections every application needs come first, whatever the formation asks.
    assert completeness(dossier(stages=stages()), asked).manquants[:3] == completeness(dossier()).manquants
    assert completeness(dossier(stages=stages()), asked).a_completer == [
        "informations_personnelles",
        "adresse",
        "baccalaureat",
        "experiences_professionnelles",
    ]
