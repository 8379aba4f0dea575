"""French first, English on request: one Babel catalogue, dates the French way, in Europe/Paris.

Templates and code are written in French; those strings are the catalogue's message ids. The
English translations live in `web/locale/en/LC_MESSAGES/messages.po` (committed), compiled in
memory when the process starts, so there is no build artefact to forget.

    python -m web.i18n extract     # after changing a template: add the new messages to the .po
    python -m web.i18n check       # every message has its English translation (a test runs it)

The person's language is the `ecandidat_langue` cookie (set by the FR/EN switch), else French.
"""

from __future__ import annotations

import contextvars
import io
import sys
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.support import NullTranslations, Translations

from ecandidat.runtime.french import date_longue, typographie

HERE = Path(__file__).resolve().parent
LOCALE_DIR = HERE / "locale"
LANGUAGES = ("fr", "en")
DEFAULT = "fr"
COOKIE = "ecandidat_langue"
PARIS = ZoneInfo("Europe/Paris")

_current: contextvars.ContextVar[str] = contextvars.ContextVar("langue", default=DEFAULT)


def _po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"


class French(NullTranslations):
    """The message ids are French: they are the translation, with French typography's no-break
    spaces (`typographie`)."""

    def gettext(self, message: str) -> str:
        return typographie(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """French takes the singular for 0 and 1 (« 0 événement »; gettext's default: for 1 alone)."""
        return typographie(singular if n < 2 else plural)


def _compile(language: str) -> NullTranslations:
    if language == DEFAULT:
        return French()
    with _po_path(language).open("rb") as stream:
        catalog = read_po(stream, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


_TRANSLATIONS = {language: _compile(language) for language in LANGUAGES}
_LOCALES = {"fr": Locale.parse("fr_FR"), "en": Locale.parse("en_GB")}


def set_language(language: str) -> contextvars.Token:
    return _current.set(language if language in LANGUAGES else DEFAULT)


def reset_language(token: contextvars.Token) -> None:
    _current.reset(token)


def current_language() -> str:
    return _current.get()


def gettext(message: str, **params: object) -> str:
    text = _TRANSLATIONS[_current.get()].gettext(message)
    return text % params if params else text


def plural_form(singular: str, plural: str, n: int) -> str:
    """The translation of the form for `n`, its placeholders left as they are."""
    return _TRANSLATIONS[_current.get()].ngettext(singular, plural, n)


def ngettext(singular: str, plural: str, n: int, **params: object) -> str:
    return plural_form(singular, plural, n) % {"num": n, **params}


_ = gettext


def N_(message: str) -> str:
    """Marks a message for extraction; translated where it is shown."""
    return message


def NP_(singular: str, plural: str) -> tuple[str, str]:
    """Marks a message with its plural for extraction; its form is chosen where it is shown
    (`ngettext`)."""
    return singular, plural


# -- dates: Europe/Paris, written as people write them ------------------------------------------


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        return value.astimezone(PARIS).date() if value.tzinfo else value.date()
    return value


def date_long(value: date | datetime | str | None) -> str:
    """« 10 décembre 2026 », « 1er février 2027 » (« 10 December 2026 »), the day kept with its
    month on one line."""
    if value is None:
        return ""
    day = _as_date(value)
    if _current.get() == "fr":
        return typographie(date_longue(day))  # as the letters write it
    return format_date(day, "d MMMM y", locale=_LOCALES[_current.get()])


def datetime_long(value: datetime | str | None) -> str:
    """« 10 décembre 2026 à 14:30 », Paris time."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = value.astimezone(PARIS)
    heure = format_time(local, "HH:mm", locale=_LOCALES[_current.get()])
    return gettext("%(date)s à %(heure)s", date=date_long(local), heure=heure)


def until(value: date | datetime | str | None) -> str:
    """« jusqu'au 10 décembre 2026 inclus »: a deadline, its last day included."""
    if value is None:
        return ""
    return gettext("jusqu'au %(date)s inclus", date=date_long(value))


# -- catalogue maintenance ------------------------------------------------------------------------


def extract() -> Catalog:
    from babel.messages.extract import extract_from_dir

    catalog = Catalog(project="eCandidat web", locale=None)
    method_map = [("web/**.py", "python"), ("web/templates/**.html", "jinja2")]
    options = {"web/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "NP_": (1, 2)}
    for filename, lineno, message, comments, context in extract_from_dir(
        HERE.parent, method_map=method_map, options_map=options, keywords=keywords
    ):
        if not str(filename).startswith("web/"):
            continue
        catalog.add(message, locations=[(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def update() -> int:
    """Merge the extracted messages into every translation; returns how many are untranslated."""
    template = extract()
    missing = 0
    for language in LANGUAGES:
        if language == DEFAULT:
            continue
        path = _po_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("rb") as stream:
                catalog = read_po(stream, locale=language)
        else:
            catalog = Catalog(locale=language, project="eCandidat web")
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        with path.open("wb") as stream:
            write_po(stream, catalog, width=100, omit_header=False, sort_output=True, include_lineno=False)
        missing += len(untranslated(language))
    return missing


def untranslated(language: str) -> list[str]:
    """Messages used by the code or the templates that the language's catalogue does not translate."""
    with _po_path(language).open("rb") as stream:
        catalog = read_po(stream, locale=language)
    out = []
    for message in extract():
        if not message.id:
            continue
        found = catalog.get(message.id)
        if (
            found is None
            or not found.string
            or found.fuzzy
            or (isinstance(found.string, tuple) and not all(found.string))
        ):
            out.append(message.id if isinstance(message.id, str) else message.id[0])
    return out


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "extract":
        count = update()
        print(f"catalogue updated; messages to translate: {count}")
        return 0
    missing = [m for language in LANGUAGES if language != DEFAULT for m in untranslated(language)]
    for message in missing:
        print(f"untranslated: {message!r}")
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
