"""French as it is written: dates in words (« 12 avril 1990 ») and the spaces that do not break a line."""

from __future__ import annotations

import functools
import re
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


# French typography: a space that must not break a line. Before a colon, a semicolon, a question
# or an exclamation mark, inside guillemets, between a number and its unit, a day and its month: a
# no-break space (U+00A0; the narrow one, U+202F, is a pixel or two wide in the DSFR's Marianne at
# body size, read as a missing space). Only spaces already written are replaced: the text's words
# are left as they are, and a text without such spaces (English) passes through unchanged.
NBSP = "\u00a0"
_CANDIDATE = re.compile(r" [:;!?»]|« |\d |1er ")  # where a space below may be: most texts have none
_NO_BREAK = re.compile(
    r"(?:(?<=\S)|\A) +(?=[:;!?](?:[\s»)]|\Z))"  # before a colon, a semicolon, a question or exclamation mark
    r"|(?<=«) +| +(?=»)"  # inside guillemets
    r"|(?:(?<=\d)|(?<=\b1er)) +(?=(?:Mo|Ko|Go|h|%s)\b)"  # a number and its unit, a day and its month
    r"|(?<=\d h) +(?=\d)" % "|".join(MOIS)  # « 14 h 30 »
)


@functools.lru_cache(maxsize=8192)  # a page's or a mail's texts are mostly the same few hundred
def typographie(text: str) -> str:
    """« Statut : complet ; pièce « CV » de 2 Mo » with the spaces that hold: the colon never starts
    a line, the guillemets never end or start one apart from their words."""
    if " " not in text or not _CANDIDATE.search(text):
        return text
    return _NO_BREAK.sub(NBSP, text)


def typeset(value: object) -> object:
    """Jinja's `finalize` for French output: every value a page or a mail shows (a formation's
    title, a piece's description written by the university, a comment) in the typography of the
    text around it. Anything but a plain `str` is left as it is: Markup (rendered already), or a
    `str` subclass that marks a value going back into a form field as the person typed it."""
    return typographie(value) if type(value) is str else value
