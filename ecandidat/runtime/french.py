"""Dates written in French words, as a form or a letter shows them: « 12 avril 1990 »."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
MOIS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre",
        "décembre")


def date_longue(value: date | datetime) -> str:
    """« 1er mars 2026 », « 12 avril 1990 »; a datetime is read in Paris time, « à 14 h 30 » added
    unless it is midnight."""
    moment = value.astimezone(PARIS) if isinstance(value, datetime) and value.tzinfo else value
    day = "1er" if moment.day == 1 else str(moment.day)
    text = f"{day} {MOIS[moment.month - 1]} {moment.year}"
    if isinstance(moment, datetime) and (moment.hour, moment.minute) != (0, 0):
        text += f" à {moment.hour} h {moment.minute:02d}"
    return text
