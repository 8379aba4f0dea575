"""The lean wire form of a mail without attachment reads back as the EmailMessage form did."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import pytest

from services.mailer.sender import lean_message

HEADERS = [
    ("From", "eCandidat <ne-pas-repondre@ecandidat.localhost>"),
    ("To", "elodie@example.org"),
    ("Subject", "Pièce refusée : « Relevé de notes » — un sujet assez long pour être replié sur deux lignes"),
    ("Message-ID", "<0d2a.0@ecandidat.localhost>"),
]


def test_a_lean_message_reads_back_unchanged():
    text = "Bonjour Élodie,\n\nvotre pièce « Relevé de notes » a été refusée : illisible.\n" + "x" * 200 + "\n"
    html = "<p>Bonjour Élodie,<br>votre pièce a été refusée.</p>\n"
    raw = lean_message(HEADERS, text, html)
    assert raw.isascii() and b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78  # headers folded, bodies' lines broken
    mail = BytesParser(policy=policy.default).parsebytes(raw)
    for name, value in HEADERS:
        assert mail[name] == value
    assert mail.get_content_type() == "multipart/alternative"
    assert mail.get_body(("plain",)).get_content().replace("\r\n", "\n") == text
    assert mail.get_body(("html",)).get_content().replace("\r\n", "\n") == html


@pytest.mark.parametrize(
    "value",
    [
        "é",
        "Votre candidature n° 2026-000123",
        "€" * 40 + " " + "𝄞" * 30,  # three- and four-byte characters across word boundaries
        "Réponse à votre candidature au " + "Master 1 Biologie végétale, parcours " * 4,
        "x" * 200 + " ç",  # a long ASCII run before the first non-ASCII character
    ],
)
def test_a_non_ascii_subject_reads_back_unchanged_in_words_and_lines_of_rfc_length(value):
    raw = lean_message([("Subject", value)], "texte", "<p>texte</p>")
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii() and max(len(line) for line in head.split(b"\r\n")) <= 78
    assert all(len(word) <= 75 for word in head.split() if word.startswith(b"=?"))
    assert BytesParser(policy=policy.default).parsebytes(raw)["Subject"] == value


@pytest.mark.parametrize("value", ["Objet\r\nBcc: victime@example.org", "Objet\nX-Injected: 1"])
def test_a_header_with_a_line_break_is_refused(value):
    with pytest.raises(ValueError):
        lean_message([("Subject", value)], "texte", "<p>texte</p>")
