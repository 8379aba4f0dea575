"""One function per command and event: load → domain rules → save, in one transaction."""

from __future__ import annotations

import base64
import binascii
import logging
import unicodedata
import uuid
import zlib
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import asyncpg

from ecandidat.contracts import access
from ecandidat.contracts.accounts import AccountCreated, AccountLinkedToEnt, AccountPurged
from ecandidat.contracts.auth import Principal
from ecandidat.contracts.candidatures import CandidatureCreated
from ecandidat.contracts.dossiers import (
    SECTIONS,
    DossierView,
    ImportRegistry,
    IneImport,
    RegistryImportReport,
    SaveSection,
    SectionSaved,
    SectionView,
)
from ecandidat.contracts.errors import ErrorDetail, InvalidInput, NotFound
from ecandidat.runtime.clock import Clock

from . import domain, registry, store
from .domain import IMPORTED_IDENTITY_FIELDS, WHOLE_SECTION, Dossier
from .ine import check_ine
from .lisible import blocs
from .referentiels import Referentiels
from .validation import check_section

log = logging.getLogger(__name__)

MAX_CSV_BYTES = 8 * 1024 * 1024  # decompressed


def _by(principal: Principal) -> str:
    return f"{principal.realm}:{principal.email}"


async def _dossier_for(conn: asyncpg.Connection, principal: Principal, account_id: uuid.UUID) -> Dossier:
    dossier = await store.load_dossier(conn, account_id)
    if dossier is None:
        if principal.realm == "staff":
            raise NotFound("Ce dossier n'existe pas ou ne vous est pas accessible.")
        dossier = Dossier(account_id)  # a candidate who has written nothing yet
    domain.check_can_read(principal, dossier)
    return dossier


async def get_dossier(
    conn: asyncpg.Connection, principal: Principal, account_id: uuid.UUID, lisible: Referentiels | None = None
) -> DossierView:
    """The dossier; with `lisible` (the reference data to name codes), each section as people read it."""
    dossier = await _dossier_for(conn, principal, account_id)
    sections = [domain.view(dossier, s, principal) for s in SECTIONS]
    if lisible is not None:
        sections = [v.model_copy(update={"lisible": blocs(v.section, v.donnees, lisible)}) for v in sections]
    return DossierView(
        account_id=account_id,
        informations_personnelles_verrouillees=dossier.locked,
        ine_importe=dossier.ine_importe,
        completude=domain.completeness(dossier),
        sections=sections,
    )


async def get_section(
    conn: asyncpg.Connection, principal: Principal, account_id: uuid.UUID, section: str
) -> SectionView:
    return domain.view(await _dossier_for(conn, principal, account_id), section, principal)


async def save_section(pool: asyncpg.Pool, req: SaveSection, refs: Referentiels, clock: Clock) -> SectionSaved:
    principal, account_id, section = req.principal, req.account_id, req.section
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        if principal.realm == "candidate":
            await store.ensure_dossier(conn, account_id, now)
        dossier = await store.load_dossier(conn, account_id, for_update=True)
        if dossier is None:
            raise NotFound("Ce dossier n'existe pas ou ne vous est pas accessible.")
        domain.check_can_write(principal, dossier, section)
        stored = dossier.section(section)
        domain.check_version(stored, req.expected_version)
        born = (dossier.section("informations_personnelles").data or {}).get("date_naissance")
        details = check_section(section, req.content, refs, now.date(), date.fromisoformat(born) if born else None)
        if details:
            raise InvalidInput("Les données envoyées sont invalides.", details=details)
        data = req.content.model_dump(mode="json")
        if section == "informations_personnelles":
            data["ine"] = check_ine(data["ine"]).ine if data["ine"] else None
            if principal.realm == "candidate":
                domain.check_imported_fields_unchanged(stored, data)
        dossier = await _write(conn, dossier, section, data, stored.imported, _by(principal), now)
        imported = None
        if section == "informations_personnelles" and data["ine"] and data["ine"] != dossier.ine_importe:
            record = await store.registry_record(conn, data["ine"])
            if record is not None:
                if record["informations_personnelles"]["date_naissance"] != data["date_naissance"]:
                    raise InvalidInput(
                        "Cet INE est connu de l'université mais ne correspond pas à votre date de naissance.",
                        details=[
                            ErrorDetail(
                                field="ine", message="INE et date de naissance ne concordent pas.", code="ine_mismatch"
                            )
                        ],
                    )
                dossier, imported = await _import_record(conn, dossier, record, _by(principal), now)
        return SectionSaved(section=domain.view(dossier, section, principal), import_ine=imported)


async def _write(
    conn: asyncpg.Connection,
    dossier: Dossier,
    section: str,
    data: dict[str, Any],
    imported: tuple[str, ...],
    by: str,
    now: datetime,
) -> Dossier:
    stored = dossier.section(section)
    if stored.data == data and stored.imported == imported:
        return dossier
    new = domain.StoredSection(section, stored.version + 1, data, imported, now)
    if not await store.write_section(conn, dossier.account_id, new, stored.version, by, now):
        raise domain.stale(stored.version)  # the row moved under us
    return dossier.with_section(new)


async def _import_record(
    conn: asyncpg.Connection, dossier: Dossier, record: dict[str, Any], by: str, now: datetime
) -> tuple[Dossier, IneImport]:
    """Bring the registry's data into the dossier; the imported parts become read-only."""
    current = dossier.section("informations_personnelles").data or {}
    identity = {
        **current,
        **record["informations_personnelles"],
        "telephone": current.get("telephone"),
        "portable": current.get("portable"),
    }
    dossier = await _write(conn, dossier, "informations_personnelles", identity, IMPORTED_IDENTITY_FIELDS, by, now)
    sections = ["informations_personnelles"]
    for section in ("adresse", "baccalaureat", "cursus_interne"):
        if record.get(section):
            dossier = await _write(conn, dossier, section, record[section], (WHOLE_SECTION,), by, now)
            sections.append(section)
    await store.set_ine_importe(conn, dossier.account_id, record["ine"])
    log.info("student records imported", extra={"account_id": str(dossier.account_id), "sections": sections})
    return replace(dossier, ine_importe=record["ine"]), IneImport(ine=record["ine"], sections=sections)


# -- registry import ------------------------------------------------------------------------------


def _csv_bytes(req: ImportRegistry) -> bytes:
    refused = InvalidInput("Le fichier envoyé est illisible.", code="bad_request")
    try:
        packed = base64.b64decode(req.csv_gzip_base64, validate=True)
        inflater = zlib.decompressobj(wbits=31)
        raw = inflater.decompress(packed, MAX_CSV_BYTES + 1)
    except (binascii.Error, zlib.error):
        raise refused from None
    if len(raw) > MAX_CSV_BYTES or inflater.unconsumed_tail:
        raise InvalidInput(f"Le fichier dépasse {MAX_CSV_BYTES // (1024 * 1024)} Mo.", code="too_large")
    return raw


async def import_registry(
    pool: asyncpg.Pool, req: ImportRegistry, refs: Referentiels, clock: Clock
) -> RegistryImportReport:
    access.require(
        req.principal, access.REGISTRY_ADMINS, "Seul un administrateur peut charger le registre des étudiants."
    )
    now = clock.now()
    parsed = registry.parse(_csv_bytes(req), refs, now.date())
    if parsed.errors:
        refused = len(parsed.refused_lines)
        raise InvalidInput(
            f"Import refusé : {refused} ligne(s) en erreur sur {max(parsed.lines, 1)}, rien n'a été importé.",
            details=parsed.errors,
            lignes=parsed.lines,
            lignes_en_erreur=refused,
        )
    by = _by(req.principal)
    async with pool.acquire() as conn, conn.transaction():
        created, updated, unchanged = await store.upsert_registry(conn, parsed.records, now)
        by_ine = {r["ine"]: r for r in parsed.records}
        imported = 0
        for account_id in await store.dossiers_declaring(conn, list(by_ine)):
            dossier = await store.load_dossier(conn, account_id, for_update=True)
            identity = (dossier.section("informations_personnelles").data if dossier else None) or {}
            record = by_ine.get(identity.get("ine"))
            if (
                dossier
                and record
                and record["informations_personnelles"]["date_naissance"] == identity.get("date_naissance")
            ):
                await _import_record(conn, dossier, record, by, now)
                imported += 1
    log.info("registry loaded", extra={"lines": parsed.lines, "inserted": created, "updated": updated})
    return RegistryImportReport(
        lignes=parsed.lines, crees=created, mis_a_jour=updated, inchanges=unchanged, dossiers_importes=imported
    )


# -- events -----------------------------------------------------------------------------------------


def _fold(text: str | None) -> str:
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if c.isalnum()).casefold()


async def on_account_created(conn: asyncpg.Connection, event: AccountCreated, clock: Clock) -> None:
    """An INE given at account creation imports the student records when the names match too; an
    INE released by the university's ENT (`via_ent`: the university vouches for it) imports them as is."""
    if not event.ine or not check_ine(event.ine).valid:
        return
    record = await store.registry_record(conn, check_ine(event.ine).ine)
    if record is None:
        return
    identity = record["informations_personnelles"]
    same_name = _fold(event.nom) in {_fold(identity.get("nom_naissance")), _fold(identity.get("nom_usage"))}
    same_first = _fold(event.prenom) == _fold((identity.get("prenoms") or "").split(" ")[0].split(",")[0])
    if not event.via_ent and not (same_name and same_first):
        log.info(
            "INE given at account creation does not match the records' names",
            extra={"account_id": str(event.account_id)},
        )
        return
    await _import_on_event(conn, event.account_id, record, "ent" if event.via_ent else "event:account.created", clock)


async def on_account_linked_to_ent(conn: asyncpg.Connection, event: AccountLinkedToEnt, clock: Clock) -> None:
    """An account linked to the ENT: the INE the ENT released imports the student records (once)."""
    if not event.ine or not check_ine(event.ine).valid:
        return
    record = await store.registry_record(conn, check_ine(event.ine).ine)
    if record is not None:
        await _import_on_event(conn, event.account_id, record, "ent", clock)


async def _import_on_event(conn: asyncpg.Connection, account_id, record: dict[str, Any], by: str, clock: Clock) -> None:
    now = clock.now()
    if not await store.ensure_dossier(conn, account_id, now):
        return
    dossier = await store.load_dossier(conn, account_id, for_update=True)
    if dossier is not None and dossier.ine_importe is None:
        await _import_record(conn, dossier, record, by, now)


async def on_candidature_created(conn: asyncpg.Connection, event: CandidatureCreated, clock: Clock) -> None:
    await store.add_candidature(
        conn,
        event.candidature_id,
        event.account_id,
        event.centre_code,
        event.commission_code,
        event.revision,
        clock.now(),
    )


async def on_account_purged(conn: asyncpg.Connection, event: AccountPurged, clock: Clock) -> None:
    erased = await store.erase(conn, event.account_id, clock.now())
    log.info("dossier erased", extra={"account_id": str(event.account_id), "dossiers": erased})
