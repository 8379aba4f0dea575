"""Text for ReportLab's paragraphs (the admission letters, the dossier's summary): escaped for its
markup, in French typography (`typographie`: ReportLab does not end a line at a no-break space, so
« Motif : … » keeps its colon)."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from reportlab.platypus import Paragraph

from ecandidat.runtime.french import typographie


def paragraph(text: str, style: Any, *, line_breaks: bool = False) -> Paragraph:
    markup = escape(typographie(text))
    return Paragraph(markup.replace("\n", "<br/>") if line_breaks else markup, style)
