"""The PDFs' paragraphs keep French typography's no-break spaces: ReportLab does not end a line there."""

from __future__ import annotations

from reportlab.lib.styles import getSampleStyleSheet
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Paragraph

from services.documents.pdftext import paragraph

STYLE = getSampleStyleSheet()["BodyText"]


def lines(flowable: Paragraph, width: float) -> list[str]:
    flowable.wrap(width, 1000)
    return [" ".join(words) for _, words in flowable.blPara.lines]


def test_a_colon_never_starts_a_line_of_a_letter():
    text = "Votre motif : prérequis non satisfaits"
    # wide enough for « Votre motif », not for « Votre motif : »
    width = stringWidth("Votre motif ", STYLE.fontName, STYLE.fontSize) + 1
    assert lines(Paragraph(text, STYLE), width)[1].startswith(":")  # what an ordinary space does
    typeset = lines(paragraph(text, STYLE), width)
    assert not any(line.startswith(":") for line in typeset), typeset
    assert typeset[0] == "Votre" and typeset[1].startswith("motif\u00a0:"), typeset


def test_text_is_escaped_and_keeps_its_line_breaks_when_asked():
    assert paragraph("a < b & c", STYLE).text == "a &lt; b &amp; c"
    assert paragraph("un\ndeux", STYLE, line_breaks=True).text == "un<br/>deux"
