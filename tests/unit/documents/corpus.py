"""Files built by the tests themselves: legitimate ones of varied origin (several PDF producers,
photos, scans, image modes) and a hostile corpus, each with the refusal reason it must get."""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Callable

from PIL import Image, ImageDraw, PngImagePlugin
from pypdf import PdfReader, PdfWriter
from pypdf.actions import JavaScript
from pypdf.generic import DictionaryObject, NameObject, TextStringObject
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.pdfgen import canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
MB = 1024 * 1024


# -- images --------------------------------------------------------------------------------------


def photo(size=(640, 480), mode="RGB", seed=1) -> Image.Image:
    rnd = random.Random(seed)
    im = Image.new("RGB", size, (rnd.randrange(256), 120, 200))
    draw = ImageDraw.Draw(im)
    for _ in range(60):
        x, y = rnd.randrange(size[0]), rnd.randrange(size[1])
        draw.ellipse(
            (x, y, x + rnd.randrange(10, 120), y + rnd.randrange(10, 120)),
            fill=(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)),
        )
    draw.text((10, 10), "Carte nationale d'identité", fill=(0, 0, 0))
    return im.convert(mode) if mode != "RGB" else im


def scan(size=(1240, 1754)) -> Image.Image:
    im = Image.new("L", size, 250)
    draw = ImageDraw.Draw(im)
    for line in range(40, size[1] - 40, 28):
        draw.text((60, line), "Relevé de notes - Baccalauréat session 2021 - mention bien", fill=10)
    return im


def image_bytes(im: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **options)
    return out.getvalue()


# -- PDFs ----------------------------------------------------------------------------------------


def reportlab_pdf(text: str = "Curriculum vitae", pages: int = 1, **options) -> bytes:
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=options.pop("pagesize", A4), **options)
    for n in range(pages):
        c.drawString(72, 750, f"{text} - page {n + 1}")
        c.drawString(72, 730, "Lettre de motivation : développer votre projet professionnel.")
        c.showPage()
    c.save()
    return out.getvalue()


def platypus_pdf() -> bytes:
    out = io.BytesIO()
    styles = getSampleStyleSheet()
    story = [Paragraph("Dossier complémentaire de pré-inscription", styles["Title"])]
    story += [
        Paragraph(f"Paragraphe {i} : expériences professionnelles, stages, cursus.", styles["BodyText"])
        for i in range(80)
    ]
    story.append(Table([["Année", "Établissement"], ["2020", "Université Toulouse Jean Jaurès"]]))
    SimpleDocTemplate(out, pagesize=A4).build(story)
    return out.getvalue()


def reportlab_with_image() -> bytes:
    from reportlab.lib.utils import ImageReader

    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    c.drawImage(ImageReader(io.BytesIO(image_bytes(scan((600, 800)), "JPEG", quality=70))), 40, 40, 500, 700)
    c.showPage()
    c.save()
    return out.getvalue()


def reportlab_form() -> bytes:
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    c.drawString(72, 780, "Fiche client")
    c.acroForm.textfield(name="nom", tooltip="Nom", x=72, y=700, width=300, height=20)
    c.acroForm.checkbox(name="financement", x=72, y=650)
    c.showPage()
    c.save()
    return out.getvalue()


def pypdf_rewrite(data: bytes, **metadata: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    if metadata:
        writer.add_metadata(metadata)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pypdf_merge(*docs: bytes) -> bytes:
    writer = PdfWriter()
    for doc in docs:
        writer.append(PdfReader(io.BytesIO(doc)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pypdf_blank(pages: int = 2) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pypdf_with_link() -> bytes:
    from pypdf.annotations import Link

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(reportlab_pdf("Lien"))))
    writer.add_annotation(0, Link(rect=(50, 50, 200, 80), url="https://www.univ-tlse2.fr"))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pillow_pdf(*images: Image.Image, **options) -> bytes:
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=len(images) > 1, append_images=list(images[1:]), **options)
    return out.getvalue()


def handmade_pdf(
    newline: bytes = b"\n", extra_objects: bytes = b"", catalog_extra: bytes = b"", version: bytes = b"1.4"
) -> bytes:
    """A minimal PDF written byte by byte, with a correct xref table."""
    n = newline
    stream = b"BT /F1 18 Tf 72 720 Td (Attestation RSA) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b">>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>" + n + b"stream" + n + stream + n + b"endstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    if extra_objects:
        objects.append(extra_objects)
    out = b"%PDF-" + version + n + b"%\xe2\xe3\xcf\xd3" + n
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj".encode() + n + body + n + b"endobj" + n
    xref = len(out)
    out += b"xref" + n + f"0 {len(objects) + 1}".encode() + n + b"0000000000 65535 f\r\n"
    out += b"".join(f"{o:010d} 00000 n\r\n".encode() for o in offsets)
    out += b"trailer" + n + f"<< /Size {len(objects) + 1} /Root 1 0 R >>".encode() + n
    out += b"startxref" + n + str(xref).encode() + n + b"%%EOF" + n
    return out


def incremental_update() -> bytes:
    base = reportlab_pdf("Avis d'imposition")
    writer = PdfWriter(io.BytesIO(base), incremental=True)
    writer.add_metadata({"/Subject": "mise à jour"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def legitimate() -> dict[str, bytes]:
    """At least 30 files a candidate may really send; each must be accepted."""
    files = {
        "cv-reportlab.pdf": reportlab_pdf(),
        "lettre-3-pages.pdf": reportlab_pdf("Lettre de motivation", pages=3),
        "non-compresse.pdf": reportlab_pdf("Pièce d'identité", pageCompression=0),
        "paysage.pdf": reportlab_pdf("Relevé", pagesize=landscape(A4)),
        "dossier-platypus.pdf": platypus_pdf(),
        "scan-dans-pdf.pdf": reportlab_with_image(),
        "fiche-client-formulaire.pdf": reportlab_form(),
        "pypdf-reecrit.pdf": pypdf_rewrite(platypus_pdf(), **{"/Producer": "LibreOffice 7.5", "/Title": "CV"}),
        "pypdf-fusion.pdf": pypdf_merge(reportlab_pdf("A"), pillow_pdf(photo()), platypus_pdf()),
        "pypdf-blanc.pdf": pypdf_blank(),
        "pypdf-lien.pdf": pypdf_with_link(),
        "pillow-photo.pdf": pillow_pdf(photo()),
        "pillow-multipage.pdf": pillow_pdf(photo(seed=2), photo(seed=3), scan((600, 800))),
        "pillow-gris.pdf": pillow_pdf(scan((800, 1100)), resolution=150.0),
        "pillow-1bit.pdf": pillow_pdf(scan((800, 1100)).convert("1")),
        "fait-main.pdf": handmade_pdf(),
        "fait-main-crlf.pdf": handmade_pdf(b"\r\n", version=b"1.7"),
        "mise-a-jour-incrementale.pdf": incremental_update(),
        "photo.jpg": image_bytes(photo(), "JPEG", quality=92),
        "photo-grise.jpg": image_bytes(photo(mode="L"), "JPEG"),
        "photo-cmjn.jpg": image_bytes(photo(mode="CMYK"), "JPEG"),
        "photo-progressive.jpg": image_bytes(photo(seed=4), "JPEG", progressive=True, optimize=True),
        "photo-exif.jpg": image_bytes(photo(seed=5), "JPEG", exif=_exif()),
        "photo-444.jpg": image_bytes(photo(seed=6), "JPEG", subsampling=0, quality=100),
        "minuscule.jpg": image_bytes(Image.new("RGB", (1, 1), "white"), "JPEG"),
        "scan-a4-300dpi.jpg": image_bytes(scan((2480, 3508)), "JPEG", quality=60),
        "capture.png": image_bytes(photo(seed=7), "PNG"),
        "transparente.png": image_bytes(photo(seed=8, mode="RGBA"), "PNG"),
        "grise.png": image_bytes(photo(seed=9, mode="L"), "PNG"),
        "scan-1bit.png": image_bytes(scan().convert("1"), "PNG"),
        "palette.png": image_bytes(photo(seed=10).convert("P"), "PNG", optimize=True),
        "16-bits.png": image_bytes(Image.linear_gradient("L").resize((300, 300)).convert("I;16"), "PNG"),
        "avec-texte.png": image_bytes(photo(seed=11), "PNG", pnginfo=_pnginfo()),
    }
    return files


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Fairphone"  # Make
    exif[0x0110] = "FP4"  # Model
    return exif.tobytes()


def _pnginfo() -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "Capture d'écran")
    return info


# -- hostile files -------------------------------------------------------------------------------


def _pypdf(modify: Callable[[PdfWriter], None]) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(reportlab_pdf("piégé"))))
    modify(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _launch(writer: PdfWriter) -> None:
    action = DictionaryObject({NameObject("/S"): NameObject("/Launch"), NameObject("/F"): TextStringObject("cmd.exe")})
    writer._root_object[NameObject("/OpenAction")] = writer._add_object(action)


def _encrypted(writer: PdfWriter) -> None:
    writer.encrypt("secret", algorithm="AES-128")


def _zip(name: str = "payload.txt") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(name, "malicious")
    return out.getvalue()


def _jpeg_with_comment(comment: bytes) -> bytes:
    data = image_bytes(photo(seed=12), "JPEG")
    segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    return data[:2] + segment + data[2:]


def hostile() -> dict[str, tuple[bytes, str]]:
    """name → (bytes, the refusal reason it must get)."""
    png = image_bytes(photo(seed=13), "PNG")
    jpeg = image_bytes(photo(seed=14), "JPEG")
    pdf = reportlab_pdf("document")
    return {
        "vide.pdf": (b"", "vide"),
        "texte.pdf": (b"Ceci n'est pas un PDF\n" * 20, "type_refuse"),
        "word.pdf": (_zip("word/document.xml"), "type_refuse"),
        "image.gif.png": (image_bytes(photo(), "GIF"), "type_refuse"),
        "svg-renomme.png": (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "type_refuse",
        ),
        "html-renomme.png": (
            b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>",
            "type_refuse",
        ),
        "html-renomme.pdf": (b"  <html><script>alert(1)</script></html>", "type_refuse"),
        "javascript.pdf": (_pypdf(lambda w: w.add_open_action(JavaScript("app.alert(1);"))), "javascript"),
        "javascript-nom-echappe.pdf": (
            handmade_pdf(
                catalog_extra=b"/OpenAction 6 0 R ", extra_objects=b"<< /S /J#61vaScript /J#53 (app.alert(1)) >>"
            ),
            "javascript",
        ),
        "launch.pdf": (_pypdf(_launch), "launch"),
        "fichier-joint.pdf": (_pypdf(lambda w: w.add_attachment("virus.exe", b"MZ\x90\x00")), "fichier_joint"),
        "chiffre.pdf": (_pypdf(_encrypted), "chiffre"),
        "pdf-zip-polyglotte.pdf": (pdf + _zip(), "polyglotte"),
        "jpeg-zip-polyglotte.jpg": (jpeg + _zip(), "polyglotte"),
        "png-html-apres-iend.png": (png + b"<html><script>alert(1)</script></html>", "polyglotte"),
        "jpeg-script-commentaire.jpg": (_jpeg_with_comment(b"<script>alert(1)</script>"), "polyglotte"),
        "png-pdf-polyglotte.png": (png[:-12] + b"%PDF-1.4 hidden" + png[-12:], "polyglotte"),
        "png-tronque.png": (png[: len(png) // 2], "image_illisible"),
        "jpeg-tronque.jpg": (jpeg[: len(jpeg) // 2], "image_illisible"),
        "pdf-tronque.pdf": (pdf[: len(pdf) // 2], "pdf_illisible"),
        "pdf-sans-pages.pdf": (handmade_pdf().replace(b"/Kids [3 0 R] /Count 1", b"/Kids [] /Count 0    "), "pdf_vide"),
    }


def oversized(limit: int = 5 * MB) -> bytes:
    """A real PDF padded with a comment to one byte over the limit."""
    body = reportlab_pdf("gros fichier")
    head, rest = body.split(b"\n", 1)
    padding = limit + 1 - len(body) - 2
    return head + b"\n%" + b"x" * padding + b"\n" + rest


def sized_pdf(size: int, seed: int = 0) -> bytes:
    """A valid PDF of exactly `size` bytes (an unreferenced stream of hex digits fills it), for benchmarks."""

    def build(n: int) -> bytes:
        filler = random.Random(seed).randbytes(n // 2 + 1).hex()[:n].encode()
        return handmade_pdf(extra_objects=b"<< /Length " + str(n).encode() + b" >>\nstream\n" + filler + b"\nendstream")

    n = max(0, size - len(build(0)))
    while len(data := build(n)) != size:
        n += size - len(data)
    return data
