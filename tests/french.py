"""Reading French text as a person reads it: the no-break spaces of French typography
(`ecandidat.runtime.french.typographie`) are spaces to the reader, so a test of the wording
compares words, and the typography has tests of its own."""

from __future__ import annotations

from ecandidat.runtime.french import NBSP


def as_read(text: str) -> str:
    return text.replace(NBSP, " ")
