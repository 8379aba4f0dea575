"""The candidature PDF ("Télécharger mon dossier"), generated on request: the récapitulatif
(formation, statuts, dates, contact — asked of candidatures), the dossier's sections (asked of
dossiers), the pieces and their statuts, then the deposited files themselves (PDFs appended,
images as pages). Built in a temporary folder that is removed once it has been sent."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pypdf import PdfReader, PdfWriter
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas
from reportlab.platypus import SimpleDocTemplate, Spacer, Table, TableStyle

from ecandidat.contracts.candidatures import CandidatureView, GetCandidature
from ecandidat.contracts.dossiers import Bloc, DossierView, GetDossier
from ecandidat.contracts.errors import ServiceError
from ecandidat.runtime.french import date_longue, limite_longue

from . import store
from .context import Deps
from .domain import STATUTS
from .pdftext import paragraph
from .storage import ObjectMissing

if TYPE_CHECKING:
    from .tickets import Ticket

log = logging.getLogger(__name__)

UNAVAILABLE = "Dossier indisponible pour le moment : ses rubriques n'ont pas pu être lues."


@dataclass
class RecapData:
    """The candidature PDF's text, in the order of the guide's « Récapitulatif de votre candidature »:
    informations détaillées, dates utiles, adresse de contact, then the dossier's sections (in the
    order of the candidate's menu) and the pieces."""

    numero_dossier: str
    formation: str
    candidat: str
    details: list[tuple[str, str]]
    dates: list[tuple[str, str]]
    contact: list[str]
    sections: list[tuple[str, list[Bloc]]] | None
    pieces: list[tuple[str, str, str, str]]
    files: list[tuple[str, Path, str]] = field(default_factory=list)


@contextlib.asynccontextmanager
async def generated(deps: Deps, ticket: Ticket, request_id: str | None) -> AsyncIterator[tuple[Path, str]]:
    with tempfile.TemporaryDirectory(prefix="recap-", dir=deps.settings.documents_spool_dir) as tmp:
        folder = Path(tmp)
        async with deps.pool.acquire() as conn:
            cand = await store.candidature(conn, ticket.candidature)
            slots = await store.slots(conn, ticket.candidature)
        if cand is None:
            raise ServiceError("Cette candidature n'existe plus.", code="not_found")
        view = await _ask(
            deps,
            GetCandidature(principal=ticket.on_behalf_of(), candidature_id=cand["candidature_id"]),
            CandidatureView,
            request_id,
        )
        dossier = await _ask(
            deps,
            GetDossier(principal=ticket.on_behalf_of(), account_id=cand["account_id"], lisible=True),
            DossierView,
            request_id,
        )
        data = _data(cand, view, dossier, slots)
        for i, row in enumerate(s for s in slots if s["file_key"]):
            path = folder / f"file-{i}"
            try:
                await deps.storage.download_to(row["file_key"], path)
            except ObjectMissing:  # replaced or deleted while the PDF was being made: left out of this one
                log.warning("recap: a piece's file vanished meanwhile", extra={"key": row["file_key"]})
                continue
            data.files.append((row["libelle"], path, row["content_type"]))
        out = folder / "candidature.pdf"
        await asyncio.get_running_loop().run_in_executor(deps.inspector, build_pdf, data, out)
        yield out, f"candidature-{cand['numero_dossier']}-{cand['formation_code']}.pdf"


async def _ask(deps: Deps, request: Any, reply: type, request_id: str | None) -> Any:
    try:
        return await deps.rpc.call(request, reply, request_id=request_id)
    except ServiceError as err:
        log.warning("recap: a service did not answer", extra={"rpc": type(request).__name__, "code": err.code})
        return None


def _data(cand: Any, view: CandidatureView | None, dossier: DossierView | None, slots: list) -> RecapData:
    if view is not None:
        details = [
            ("Formation", view.formation_libelle),
            ("Centre de candidature", view.centre_libelle),
            ("Campagne", view.campagne_libelle),
            ("Statut du dossier", view.statut_libelle),
            ("Type de traitement", view.type_traitement_libelle + (" (Validé)" if view.type_traitement_valide else "")),
            ("Décision", view.decision_libelle),
        ]
        dates = [("Date limite de retour", limite_longue(view.limite_retour))]
        if view.date_reception:
            dates.append(("Date de réception", date_longue(view.date_reception)))
        if view.confirmation_deadline:
            dates.append(("Date limite de confirmation", date_longue(view.confirmation_deadline)))
        contact = [view.contact.libelle, *view.contact.adresse.splitlines()]
        if view.contact.mail:
            contact.append(f"Mail : {view.contact.mail}")
    else:
        details = [("Formation", cand["formation_libelle"]), ("Statut du dossier", "indisponible pour le moment")]
        dates = [("Date limite de retour", date_longue(cand["date_limite_retour"]))]
        contact = ["indisponible pour le moment"]
    sections = None
    candidat = ""
    if dossier is not None:
        sections = [(s.libelle, s.lisible) for s in dossier.sections]
        identite = next((s.donnees for s in dossier.sections if s.section == "informations_personnelles"), None) or {}
        candidat = " ".join(
            p for p in (identite.get("prenoms"), identite.get("nom_usage") or identite.get("nom_naissance")) if p
        )
    pieces = [(s["libelle"], s["file_name"] or "", STATUTS[s["statut"]], s["comment"] or "") for s in slots]
    return RecapData(
        cand["numero_dossier"], cand["formation_libelle"], candidat, details, dates, contact, sections, pieces
    )


# -- rendering (runs in a worker thread) ------------------------------------------------------------


def build_pdf(data: RecapData, out: Path) -> None:
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(_recap_pages(data))))
    for libelle, path, content_type in data.files:
        if content_type == "application/pdf":
            writer.append(PdfReader(path))
        else:
            writer.append(PdfReader(io.BytesIO(_image_page(libelle, path))))
    writer.add_metadata({"/Title": f"Candidature {data.numero_dossier} - {data.formation}", "/Producer": "eCandidat"})
    with out.open("wb") as f:
        writer.write(f)


def _recap_pages(data: RecapData) -> bytes:
    styles = getSampleStyleSheet()
    body, small = styles["BodyText"], styles["BodyText"].clone("small", fontSize=8.5, leading=10.5)
    entry = styles["Heading4"].clone("entry", fontSize=9, spaceBefore=4, spaceAfter=2)
    who = f"{data.candidat} ({data.numero_dossier})" if data.candidat else data.numero_dossier
    story: list[Any] = [
        paragraph(f"Récapitulatif de votre candidature - {who}", styles["Title"]),
        paragraph("Informations détaillées", styles["Heading2"]),
        _table([[paragraph(k, body), paragraph(v, body)] for k, v in data.details], [5 * cm, 11 * cm]),
        paragraph("Dates utiles", styles["Heading2"]),
        _table([[paragraph(k, body), paragraph(v, body)] for k, v in data.dates], [5 * cm, 11 * cm]),
        paragraph("Adresse de contact", styles["Heading2"]),
        *[paragraph(line, body) for line in data.contact],
        paragraph("Dossier", styles["Heading2"]),
    ]
    if data.sections is None:
        story.append(paragraph(UNAVAILABLE, body))
    for libelle, blocs in data.sections or []:
        story.append(paragraph(libelle, styles["Heading3"]))
        if not blocs:
            story.append(paragraph("Rubrique non renseignée.", small))
        for bloc in blocs:
            if bloc.titre:
                story.append(paragraph(bloc.titre, entry))
            rows = [[paragraph(c.libelle, small), paragraph(c.valeur, small)] for c in bloc.champs]
            if rows:
                story.append(_table(rows, [6 * cm, 10 * cm]))
    story += [Spacer(1, 0.4 * cm), paragraph("Pièces justificatives", styles["Heading2"])]
    header = [paragraph(h, small) for h in ("Pièce justificative", "Fichier", "Statut", "Commentaire")]
    rows = [[paragraph(c, small) for c in piece] for piece in data.pieces]
    story.append(_table([header, *rows], [7 * cm, 4 * cm, 2.2 * cm, 3.8 * cm], header=True))
    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"Candidature {data.numero_dossier}",
        author="eCandidat",
        leftMargin=2 * cm,
        rightMargin=2 * cm,
    ).build(story)
    return buffer.getvalue()


def _table(rows: list, widths: list[float], header: bool = False) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    style = [("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey))
    table.setStyle(TableStyle(style))
    return table


def _image_page(libelle: str, path: Path) -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4)
    width, height = A4
    page.setFont("Helvetica", 9)
    page.drawString(1 * cm, height - 1 * cm, libelle[:110])
    image = ImageReader(str(path))
    iw, ih = image.getSize()
    scale = min((width - 2 * cm) / iw, (height - 3 * cm) / ih)
    page.drawImage(image, 1 * cm, height - 1.5 * cm - ih * scale, iw * scale, ih * scale)
    page.showPage()
    page.save()
    return buffer.getvalue()
