"""What a deposited file really is, decided by its content, never by its name or declared type.

`inspect_file(path, size)` runs in a worker thread (pypdf and Pillow are CPU-bound and blocking):
magic bytes first (PDF, JPEG or PNG only), then a scan for other formats hidden in the same bytes
(a ZIP directory, HTML or script, a PDF header inside an image, data after the end of a PDF or a
PNG), then the structure: the PDF must parse, not be encrypted and carry no JavaScript, launch
action or embedded file; the image must decode completely. Each refusal is a `FileRefused` with a
French message telling the candidate what to do, and a `reason` for logs and tests.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from ecandidat.contracts.documents import file_too_large_message
from ecandidat.contracts.errors import ServiceError

MB = 1024 * 1024
_TAIL = 64 * 1024 + 22  # where a ZIP reader looks for its end-of-central-directory record
MAX_PDF_OBJECTS = 500_000
MAX_DECODED_BYTES = 96 * MB  # an image whose pixels would take more is refused, not decoded

logging.getLogger("pypdf").setLevel(logging.ERROR)


class FileRefused(ServiceError):
    code = "invalid"


def too_large(limit: int) -> FileRefused:
    return FileRefused(
        file_too_large_message(limit),
        code="too_large",
        reason="trop_volumineux",
    )


def empty() -> FileRefused:
    return FileRefused("Le fichier envoyé est vide : vérifiez-le, puis déposez-le à nouveau.", reason="vide")


@dataclass(frozen=True)
class Inspected:
    content_type: str  # application/pdf, image/jpeg or image/png
    pages: int = 1


_PDF = b"%PDF-"
_JPEG = b"\xff\xd8\xff"
_PNG = b"\x89PNG\r\n\x1a\n"

_OTHER_KINDS = [
    (b"PK\x03\x04", "une archive ZIP ou un document bureautique (Word, OpenOffice…)"),
    (b"\xd0\xcf\x11\xe0", "un document bureautique ancien (Word, Excel…)"),
    (b"GIF8", "une image GIF"),
    (b"RIFF", "une image WEBP ou un fichier multimédia"),
    (b"II*\x00", "une image TIFF"),
    (b"MM\x00*", "une image TIFF"),
    (b"BM", "une image BMP"),
    (b"MZ", "un programme"),
    (b"\x7fELF", "un programme"),
    (b"{\\rtf", "un document RTF"),
]
_MARKUP = re.compile(rb"^\s*(?:\xef\xbb\xbf)?\s*<(?:\?xml|svg|!doctype|html|head|body|script)", re.I)
_HIDDEN_MARKUP = re.compile(rb"<(?:script|html|svg|iframe|\?php|body)[\s>/]", re.I)
_ZIP_END = b"PK\x05\x06"

_CONVERT = "Enregistrez ou exportez votre document en PDF (ou votre image en JPG ou PNG), puis déposez-le à nouveau."


def sniff(head: bytes) -> str | None:
    if head.startswith(_PDF):
        return "application/pdf"
    if head.startswith(_JPEG):
        return "image/jpeg"
    if head.startswith(_PNG):
        return "image/png"
    return None


def _describe(head: bytes) -> str:
    if _MARKUP.match(head):
        return "une page web, du XML ou une image SVG"
    for magic, kind in _OTHER_KINDS:
        if head.startswith(magic):
            return kind
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "une image HEIC ou une vidéo"
    return "d'un type non reconnu"


def unsupported(head: bytes) -> FileRefused:
    return FileRefused(
        f"Seuls les fichiers PDF, JPG et PNG sont acceptés ; ce fichier est {_describe(head)}. {_CONVERT}",
        code="unsupported_media_type",
        reason="type_refuse",
    )


def _polyglot() -> FileRefused:
    return FileRefused(
        "Ce fichier contient, en plus du document, des données d'un autre format : il n'est pas accepté. "
        "Ouvrez-le et enregistrez-en une nouvelle copie en PDF, JPG ou PNG, puis déposez-la.",
        reason="polyglotte",
    )


def inspect_file(path: Path, limit: int) -> Inspected:
    data = path.read_bytes()
    if not data:
        raise empty()
    if len(data) > limit:
        raise too_large(limit)
    kind = sniff(data[:16])
    if kind is None:
        raise unsupported(data[:1024])
    _check_hidden_formats(data, kind)
    if kind == "application/pdf":
        from .pdfcheck import check_pdf, check_pdf_bytes

        check_pdf_bytes(data)
        del data  # the structural checks read the file again, one piece at a time
        return Inspected(kind, check_pdf(path))
    del data
    from .imagecheck import check_image

    check_image(path, kind)
    return Inspected(kind)


def _check_hidden_formats(data: bytes, kind: str) -> None:
    if _ZIP_END in data[-_TAIL:]:
        raise _polyglot()
    if kind == "application/pdf":
        eof = data.rfind(b"%%EOF")
        if eof >= 0 and len(data[eof + 5 :].strip(b"\r\n\t \x00")) > 0:
            raise _polyglot()
        return
    if _PDF in data or _HIDDEN_MARKUP.search(data):
        raise _polyglot()
    if kind == "image/png":
        end = data.rfind(b"IEND")
        if end >= 0 and len(data) > end + 8:  # IEND, its CRC, then nothing
            raise _polyglot()
