"""One function per command and event: load → domain rules → save, in one transaction."""

from __future__ import annotations

from ecandidat.contracts.envelope import CloudEvent

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
from ecandidat.contracts import dossiers as c
from ecandidat.contracts.candidatures import (
    CandidatureCreated,
    CandidatureErased,
    CandidatureStatusChanged,
    CandidatureTransmitted,
)
from ecandidat.contracts.dossiers import (
    SECTIONS,
    Completeness,
    DossierView,
    GetCompleteness,
    GetDossier,
    GetSection,
    ImportRegistry,
    IneImport,
    RegistryImportReport,
    SaveSection,
    SectionSaved,
    SectionView,
)
from ecandidat.contracts.errors import ErrorDetail, InvalidInput, NotFound
from ecandidat.runtime.rpc import Encoded

from . import domain, registry, store
from .context import Deps
from .domain import IMPORTED_IDENTITY_FIELDS, WHOLE_SECTION, Dossier
from .ine import check_ine
from .lisible import blocs
from .referentiels import Referentiels, fold
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


MAX_KEPT_VIEWS = 2048  # candidates' dossier views kept by a replica (~4 KB each)


async def get_dossier(deps: Deps, req: GetDossier) -> DossierView | Encoded:
    """The dossier; with `lisible`, each section as people read it (codes named from the reference data).

    A candidate's own view (without `lisible`) is a function of the dossier's state alone, which
    every write changes (each section's version and time, the lock, the imported INE, the
    candidatures' scopes): it is read from the database every time, and its JSON is built once per
    state (`dossier_state`), so that reading an unchanged dossier again costs no validation and no
    serialisation. When a view is kept, the state is read first without the sections' data: an
    unchanged dossier costs neither their transfer nor their decoding. A staff member's view
    depends on their scope too: built every time."""
    own = req.principal.realm == "candidate" and not req.lisible and req.principal.account_id == req.account_id
    async with deps.pool.acquire() as conn:
        kept = deps.views.get(req.account_id) if own else None
        if kept is not None:
            outline = await store.load_dossier(conn, req.account_id, contents=False) or Dossier(req.account_id)
            if domain.dossier_state(outline) == kept[0]:
                return Encoded(kept[1])
        dossier = await _dossier_for(conn, req.principal, req.account_id)
    if not own:
        return _dossier_view(deps, req, dossier)
    state = domain.dossier_state(dossier)
    body = _dossier_view(deps, req, dossier).model_dump_json().encode()
    deps.views.pop(dossier.account_id, None)
    if len(deps.views) >= MAX_KEPT_VIEWS:
        deps.views.pop(next(iter(deps.views)))
    deps.views[dossier.account_id] = (state, body)
    return Encoded(body)


def _dossier_view(deps: Deps, req: GetDossier, dossier: Dossier) -> DossierView:
    sections = [domain.view(dossier, s, req.principal) for s in SECTIONS]
    if req.lisible:
        sections = [v.model_copy(update={"lisible": blocs(v.section, v.donnees, deps.refs)}) for v in sections]
    return DossierView(
        account_id=dossier.account_id,
        informations_personnelles_verrouillees=dossier.locked,
        ine_importe=dossier.ine_importe,
        completude=domain.completeness(dossier),
        sections=sections,
    )


async def get_section(deps: Deps, req: GetSection) -> SectionView:
    async with deps.pool.acquire() as conn:
        dossier = await _dossier_for(conn, req.principal, req.account_id)
    return domain.view(dossier, req.section, req.principal)


async def completeness(deps: Deps, req: GetCompleteness) -> Completeness:
    async with deps.pool.acquire() as conn:
        dossier = await store.load_dossier(conn, req.account_id) or Dossier(req.account_id)
    return domain.completeness(dossier, req.exigees)


async def save_section(deps: Deps, req: SaveSection) -> SectionSaved:
    principal, account_id, section = req.principal, req.account_id, req.section
    now = deps.now()
    async with deps.pool.acquire() as conn, conn.transaction():
        if principal.realm == "candidate":
            await store.ensure_dossier(conn, account_id, now)
        dossier = await store.load_dossier(conn, account_id, for_update=True)
        if dossier is None:
            raise NotFound("Ce dossier n'existe pas ou ne vous est pas accessible.")
        domain.check_can_write(principal, dossier, section)
        stored = dossier.section(section)
        domain.check_version(stored, req.expected_version)
        born = (dossier.section("informations_personnelles").data or {}).get("date_naissance")
        details = check_section(section, req.content, deps.refs, now.date(), date.fromisoformat(born) if born else None)
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
        deps.changes.after_commit(conn, account_id)
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


async def import_registry(deps: Deps, req: ImportRegistry) -> RegistryImportReport:
    access.require(
        req.principal, access.REGISTRY_ADMINS, "Seul un administrateur peut charger le registre des étudiants."
    )
    now = deps.now()
    parsed = registry.parse(_csv_bytes(req), deps.refs, now.date())
    if parsed.errors:
        refused = len(parsed.refused_lines)
        raise InvalidInput(
            f"Import refusé : {refused} {'ligne' if refused < 2 else 'lignes'} en erreur sur {max(parsed.lines, 1)}, "
            "rien n'a été importé.",
            details=parsed.errors,
            lignes=parsed.lines,
            lignes_en_erreur=refused,
        )
    by = _by(req.principal)
    async with deps.pool.acquire() as conn, conn.transaction():
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
                deps.changes.after_commit(conn, account_id)
                imported += 1
    log.info("registry loaded", extra={"lines": parsed.lines, "inserted": created, "updated": updated})
    return RegistryImportReport(
        lignes=parsed.lines, crees=created, mis_a_jour=updated, inchanges=unchanged, dossiers_importes=imported
    )


# -- reference lookups -----------------------------------------------------------------------------


def reference_lists(refs: Referentiels) -> c.Referentiels:
    """The countries (by French name) and départements the forms offer."""
    return c.Referentiels(
        pays=[c.CodeLibelle(code=k, nom=v) for k, v in sorted(refs.pays.items(), key=lambda kv: fold(kv[1]))],
        departements=[c.CodeLibelle(code=k, nom=v) for k, v in sorted(refs.departements.items())],
        source="ISO 3166-1 (pycountry) ; INSEE, Code officiel géographique 2026 et La Poste, base officielle des codes postaux",
    )


async def referentiels(deps: Deps, req: c.GetReferentiels) -> c.Referentiels:
    return deps.listes


async def search_communes(deps: Deps, req: c.SearchCommunes) -> c.Communes:
    found = deps.refs.search(
        code=req.code, code_postal=req.code_postal, departement=req.departement, nom=req.nom, limit=req.limit
    )
    return c.Communes(
        items=[
            c.CommuneRef(
                code=x.code, nom=x.nom, departement=x.departement, type=x.type, codes_postaux=list(x.codes_postaux)
            )
            for x in found
        ]
    )


# -- events (`consumers.py`) ---------------------------------------------------------------------


def _fold(text: str | None) -> str:
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(ch for ch in decomposed if ch.isalnum()).casefold()


async def account_created(deps: Deps, conn: asyncpg.Connection, event: AccountCreated, meta: CloudEvent) -> None:
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
    by = "ent" if event.via_ent else "event:account.created"
    await _import_on_event(deps, conn, event.account_id, record, by)


async def account_linked_to_ent(
    deps: Deps, conn: asyncpg.Connection, event: AccountLinkedToEnt, meta: CloudEvent
) -> None:
    """An account linked to the ENT: the INE the ENT released imports the student records (once)."""
    if not event.ine or not check_ine(event.ine).valid:
        return
    record = await store.registry_record(conn, check_ine(event.ine).ine)
    if record is not None:
        await _import_on_event(deps, conn, event.account_id, record, "ent")


async def _import_on_event(
    deps: Deps, conn: asyncpg.Connection, account_id: uuid.UUID, record: dict[str, Any], by: str
) -> None:
    now = deps.now()
    if not await store.ensure_dossier(conn, account_id, now):
        return
    dossier = await store.load_dossier(conn, account_id, for_update=True)
    if dossier is not None and dossier.ine_importe is None:
        await _import_record(conn, dossier, record, by, now)
        deps.changes.after_commit(conn, account_id)


async def account_purged(deps: Deps, conn: asyncpg.Connection, event: AccountPurged, meta: CloudEvent) -> None:
    erased = await store.erase(conn, event.account_id, deps.now())
    deps.changes.after_commit(conn, event.account_id)
    log.info("dossier erased", extra={"account_id": str(event.account_id), "dossiers": erased})


async def candidature_erased(deps: Deps, conn: asyncpg.Connection, event: CandidatureErased, meta: CloudEvent) -> None:
    """A destroyed candidature no longer locks the dossier nor opens it to its centre's staff."""
    await store.delete_candidature(conn, event.candidature_id, event.account_id, deps.now())
    deps.changes.after_commit(conn, event.account_id)


async def candidature_created(
    deps: Deps, conn: asyncpg.Connection, event: CandidatureCreated, meta: CloudEvent
) -> None:
    await store.add_candidature(
        conn,
        event.candidature_id,
        event.account_id,
        event.centre_code,
        event.commission_code,
        event.revision,
        deps.now(),
    )
    deps.changes.after_commit(conn, event.account_id)  # the dossier is locked now


async def candidature_transmitted(
    deps: Deps, conn: asyncpg.Connection, event: CandidatureTransmitted, meta: CloudEvent
) -> None:
    await store.set_candidature_statut(conn, event.candidature_id, "receptionne", event.revision)


async def candidature_status_changed(
    deps: Deps, conn: asyncpg.Connection, event: CandidatureStatusChanged, meta: CloudEvent
) -> None:
    await store.set_candidature_statut(conn, event.candidature_id, event.new_status, event.revision)


async def candidature_statuses_changed(
    deps: Deps, conn: asyncpg.Connection, items: list[tuple[CandidatureStatusChanged, CloudEvent]]
) -> None:
    """`candidature_status_changed` for a run of events, in one statement."""
    await store.set_candidature_statuts(conn, [(e.candidature_id, e.new_status, e.revision) for e, _ in items])
