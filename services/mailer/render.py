"""Rendering of the French mail templates (Jinja2, text and HTML)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import jinja2.ext
from jinja2.lexer import Token, TokenStream

from ecandidat.runtime.french import avant_limite, typeset, typographie

TEMPLATES = Path(__file__).with_name("templates")
PARIS = ZoneInfo("Europe/Paris")


def date_fr(value: date | datetime | str | None, with_time: bool = True) -> str:
    """`20/06/2022` or `20/06/2022 à 14:30`, in Paris time, as the guide's mails write dates."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        local = value.astimezone(PARIS) if value.tzinfo else value
        return local.strftime("%d/%m/%Y à %H:%M") if with_time else local.strftime("%d/%m/%Y")
    return value.strftime("%d/%m/%Y")


def day_fr(value: date | datetime | str | None) -> str:
    return date_fr(value, with_time=False)


def limite_fr(value: datetime | str | None) -> str:
    """A deadline instant in a sentence: « jusqu'au 08/12/2026 inclus », or « avant le 08/12/2026 à 14:30 »."""
    if value is None:
        return ""
    return avant_limite(datetime.fromisoformat(value) if isinstance(value, str) else value)


class FrenchTypography(jinja2.ext.Extension):
    """The templates' own text with French typography's no-break spaces (« Statut : … » never
    leaves the colon at the start of a line), set once when a template compiles; the values put
    into it (names, titles) are typeset as they are written in (`typeset`)."""

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        for token in stream:
            yield Token(token.lineno, "data", typographie(token.value)) if token.type == "data" else token


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


class Renderer:
    def __init__(self, folder: Path = TEMPLATES) -> None:
        loader = jinja2.FileSystemLoader(folder)
        self._text, self._html = (
            jinja2.Environment(  # compiled once: the templates are code, deployed with it (no stat per mail)
                loader=loader,
                undefined=jinja2.StrictUndefined,
                keep_trailing_newline=True,
                autoescape=autoescape,
                auto_reload=False,
                extensions=[FrenchTypography],
                finalize=typeset,
            )
            for autoescape in (False, True)
        )
        for env in (self._text, self._html):
            env.filters["date_fr"] = date_fr
            env.filters["day_fr"] = day_fr
            env.filters["limite_fr"] = limite_fr

    def render(self, template: str, context: dict[str, Any]) -> Rendered:
        subject = self._text.get_template(f"{template}.subject.j2").render(context)
        subject = " ".join(subject.split())  # one line of plain spaces: no header injection, nothing to wrap
        text = self._text.get_template(f"{template}.txt.j2").render(context)
        html = self._html.get_template(f"{template}.html.j2").render({**context, "subject": subject})
        return Rendered(subject=subject, text=text.strip() + "\n", html=html)

    def templates(self) -> list[str]:
        return sorted({p.name.split(".")[0] for p in TEMPLATES.glob("*.subject.j2")})
