"""The demo student-records registry (`ecandidat seed-demo`): the records of the local ENT's test
users whose INE the university knows (`ecandidat/devstack/casserver/users.json`: lgaronne, jdupont;
amartin's INE is not in it, pnoine's ENT releases none)."""

from __future__ import annotations

import base64
import csv
import gzip
import io
import json
import uuid

import asyncpg

from ecandidat.contracts import access
from ecandidat.contracts.auth import Principal
from ecandidat.contracts.dossiers import ImportRegistry, RegistryImportReport
from ecandidat.runtime.clock import SystemClock
from ecandidat.runtime.settings import KitSettings

from . import handlers, referentiels
from .context import Deps
from .registry import COLUMNS
from .settings import DossiersSettings

SEEDER = Principal(realm="staff", account_id=uuid.UUID(int=0), email="seed@ecandidat.localhost", roles=access.ADMINS)


def cursus(*years: tuple[str, str, str]) -> str:
    """A record's `cursus_interne` column: each year (année universitaire, code, libellé) passed."""
    return json.dumps(
        [
            {"annee_universitaire": annee, "code_formation": code, "libelle": libelle, "resultat": "ADM"}
            for annee, code, libelle in years
        ],
        ensure_ascii=False,
    )


def registry_row(ine: str, **overrides: str) -> dict[str, str]:
    """A registry line: Jean Paul Dupont's record (a first year of psychology here) but for `overrides`;
    the tests' lines too."""
    row = {c: "" for c in COLUMNS}
    row.update(
        ine=ine,
        civilite="M.",
        nom_naissance="Dupont",
        prenoms="Jean Paul",
        date_naissance="21/06/2000",
        pays_naissance="FR",
        departement_naissance="2A",
        commune_naissance="2A004",
        nationalite="FR",
        adresse_pays="FR",
        adresse_ligne1="1 rue du Taur",
        adresse_code_postal="31000",
        adresse_commune="31555",
        bac_situation="bac",
        bac_annee="2018",
        bac_serie="S",
        bac_mention="assez_bien",
        bac_pays="FR",
        bac_departement="75",
        bac_etablissement="Lycée Henri-IV",
        bac_uai="0750654D",
        cursus_interne=cursus(("2018-2019", "L1PSY", "Licence 1 Psychologie")),
    )
    row.update(overrides)
    return row


def registry_csv(rows: list[dict[str, str]], delimiter: str = ";", columns: tuple[str, ...] = COLUMNS) -> bytes:
    """The registry file of these lines, as the import reads it (its columns only)."""
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=list(columns), delimiter=delimiter, lineterminator="\n", extrasaction="ignore"
    )
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


DEMO_RECORDS = [
    registry_row(
        "1234567890V",
        civilite="Mme",
        nom_naissance="Garonne",
        prenoms="Lucie Marie",
        date_naissance="14/03/2001",
        departement_naissance="31",
        commune_naissance="31555",
        adresse_ligne1="5 allées Antonio Machado",
        adresse_code_postal="31100",
        bac_annee="2019",
        bac_serie="Générale",
        bac_mention="bien",
        bac_departement="31",
        bac_etablissement="Lycée Pierre-de-Fermat",
        bac_uai="0310036W",
        cursus_interne=cursus(
            ("2019-2020", "L1PSY", "Licence 1 Psychologie"), ("2020-2021", "L2PSY", "Licence 2 Psychologie")
        ),
    ),
    registry_row("0987654321F", cursus_interne=cursus(("2018-2019", "L1HIS", "Licence 1 Histoire"))),
]


def demo_csv() -> bytes:
    return registry_csv(DEMO_RECORDS)


async def seed_registry(pool: asyncpg.Pool, settings: KitSettings) -> RegistryImportReport:
    refs = referentiels.load()
    deps = Deps(
        pool, SystemClock(), DossiersSettings.model_construct(**dict(settings)), refs, handlers.reference_lists(refs)
    )
    packed = base64.b64encode(gzip.compress(demo_csv())).decode()
    return await handlers.import_registry(deps, ImportRegistry(principal=SEEDER, csv_gzip_base64=packed))
