"""Dates written in French words, as a form or a letter shows them: « 12 avril 1990 »."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
MOIS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def date_longue(value: date | datetime) -> str:
    """« 1er mars 2026 », « 12 avril 1990 »; a datetime is read in Paris time, « à 14 h 30 » added
    unless it is midnight."""
    moment = value.astimezone(PARIS) if isinstance(value, datetime) and value.tzinfo else value
    day = "1er" if moment.day == 1 else str(moment.day)
    text = f"{day} {MOIS[moment.month - 1]} {moment.year}"
    if isinstance(moment, datetime) and (moment.hour, moment.minute) != (0, 0):
        text += f" à {moment.hour} h {moment.minute:02d}"
    return text


def dernier_jour(limite: datetime) -> date:
    """The last day on which something ending at the instant `limite` can still be done (Paris)."""
    return (limite.astimezone(PARIS) - timedelta(microseconds=1)).date()


def limite_courte(limite: datetime) -> str:
    """An end instant as the guide writes a deadline: « 20/06/2022 » when it is the end of that day
    (midnight, Paris), « 21/06/2022 à 06:00 » otherwise."""
    local = limite.astimezone(PARIS)
    if (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0):
        return f"{dernier_jour(limite):%d/%m/%Y}"
    return f"{local:%d/%m/%Y à %H:%M}"


def limite_longue(limite: datetime) -> str:
    """The same in words: « 20 juin 2022 », or « 21 juin 2022 à 6 h 00 »."""
    local = limite.astimezone(PARIS)
    if (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0):
        return date_longue(dernier_jour(limite))
    return date_longue(local)


def avant_limite(limite: datetime) -> str:
    """A deadline in a sentence, as the guide's mails write one: « jusqu'au 08/12/2026 inclus » when
    it ends with a day (midnight, Paris), « avant le 08/12/2026 à 14:30 » otherwise (never
    « avant le 09/12/2026 à 00:00 », which people read as one day too many)."""
    courte = limite_courte(limite)
    return f"avant le {courte}" if " à " in courte else f"jusqu'au {courte} inclus"
