"""The content decides: legitimate files of varied origin pass, the hostile corpus is refused with
the reason and a French message that says what to do."""

from __future__ import annotations

import pytest

from services.documents.domain import sanitize_file_name
from services.documents.inspection import FileRefused, inspect_file

from . import corpus

LIMIT = 5 * 1024 * 1024
LEGITIMATE = corpus.legitimate()
HOSTILE = corpus.hostile()


def test_the_legitimate_corpus_is_large_and_varied():
    assert len(LEGITIMATE) >= 30
    assert {n.rsplit(".", 1)[1] for n in LEGITIMATE} == {"pdf", "jpg", "png"}


@pytest.mark.parametrize("name", sorted(LEGITIMATE))
def test_legitimate_files_are_accepted(name, tmp_path):
    path = tmp_path / name
    path.write_bytes(LEGITIMATE[name])
    found = inspect_file(path, LIMIT)
    expected = {"pdf": "application/pdf", "jpg": "image/jpeg", "png": "image/png"}[name.rsplit(".", 1)[1]]
    assert found.content_type == expected


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_are_refused_with_a_reason(name, tmp_path):
    data, reason = HOSTILE[name]
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(FileRefused) as refused:
        inspect_file(path, LIMIT)
    assert refused.value.extra["reason"] == reason
    assert refused.value.code in {"invalid", "unsupported_media_type"}
    assert (
        "déposez" in refused.value.message
        or "déposer" in refused.value.message
        or "Enregistrez" in refused.value.message
    )


def test_one_byte_over_the_limit_is_refused_as_too_large(tmp_path):
    path = tmp_path / "gros.pdf"
    path.write_bytes(corpus.oversized(LIMIT))
    with pytest.raises(FileRefused) as refused:
        inspect_file(path, LIMIT)
    assert refused.value.code == "too_large"
    assert refused.value.message.startswith("Le fichier dépasse 5 Mo : compressez-le")
    path.write_bytes(corpus.sized_pdf(LIMIT))
    assert inspect_file(path, LIMIT).content_type == "application/pdf"


def test_the_type_comes_from_the_content_not_the_name(tmp_path):
    path = tmp_path / "photo.pdf"
    path.write_bytes(LEGITIMATE["photo.jpg"])
    assert inspect_file(path, LIMIT).content_type == "image/jpeg"


@pytest.mark.parametrize(
    "raw, content_type, expected",
    [
        ("../../etc/passwd", "application/pdf", "passwd.pdf"),
        ("C:\\Users\\moi\\CNI recto.jpeg", "image/jpeg", "CNI recto.jpg"),
        ("relevé<script>.png", "image/png", "relevé_script.png"),
        ("\x00\x1b[31mrouge.pdf", "application/pdf", "31mrouge.pdf"),
        ("", "application/pdf", "document.pdf"),
        ("...", "image/png", "document.png"),
        ("cv.exe", "application/pdf", "cv.pdf"),
        ("a" * 300 + ".pdf", "application/pdf", "a" * 100 + ".pdf"),
    ],
)
def test_file_names_are_sanitised(raw, content_type, expected):
    assert sanitize_file_name(raw, content_type) == expected


def _escaped(name: str) -> str:
    return "/" + "".join(f"#{ord(ch):02x}" for ch in name[1:])


ACTIVE_NAMES = {
    "/JavaScript": "javascript",
    "/JS": "javascript",
    "/Launch": "launch",
    "/EmbeddedFile": "fichier_joint",
    "/EmbeddedFiles": "fichier_joint",
    "/RichMedia": "multimedia",
}


@pytest.mark.parametrize("spelling", ["plain", "escaped"])
@pytest.mark.parametrize("name", sorted(ACTIVE_NAMES))
def test_every_active_name_in_the_raw_bytes_is_refused_however_it_is_spelt(name, spelling, tmp_path):
    written = name if spelling == "plain" else _escaped(name)
    pdf = corpus.sized_pdf(4096)
    header, rest = pdf.split(b"\n", 1)
    path = tmp_path / "actif.pdf"
    path.write_bytes(header + b"\n% " + written.encode() + b" (x)\n" + rest)
    with pytest.raises(FileRefused) as refused:
        inspect_file(path, LIMIT)
    assert refused.value.extra["reason"] == ACTIVE_NAMES[name]


def test_a_longer_name_that_only_begins_like_an_active_one_is_not_refused(tmp_path):
    pdf = corpus.sized_pdf(4096)
    header, rest = pdf.split(b"\n", 1)
    path = tmp_path / "inerte.pdf"
    path.write_bytes(header + b"\n% /JSX /Launcher /EmbeddedFilesList /J#61vaScripts\n" + rest)
    assert inspect_file(path, LIMIT).content_type == "application/pdf"
