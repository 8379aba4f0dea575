"""Jinja2 pages: one environment, the i18n extension bound to the person's language, the layout's
context (who is logged in, the CSRF token, the flash message, the asset URLs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import jinja2
import jinja2.runtime
from aiohttp import web

from ecandidat.runtime.french import typeset

from . import i18n
from .assets import ASSETS
from .inactivite import IDLE_TIMEOUT
from .sections import BY_KEY
from .session import FLASH_COOKIE, csrf_token, has_session_cookie, take_flash
from .settings import WebSettings

SETTINGS = web.AppKey("settings", WebSettings)
ENV = web.AppKey("jinja", jinja2.Environment)
USER = web.RequestKey("user", dict)  # the /me of the logged-in person, when a page asked for it
COMPRESS_INLINE_BELOW = 512 * 1024  # bytes of HTML; a larger page is compressed in a thread

STATUT_BADGES = {
    "en_attente": "info",
    "receptionne": "new",
    "complet": "success",
    "incomplet": "warning",
    "annulee": "error",
    "transmise": "new",
    "validee": "success",
    "refusee": "error",
    "non_concerne": "info",
}


def navigation(logged_in: bool, ent_url: str | None = None) -> list[tuple[str, str]]:
    items = [("/", i18n.gettext("Accueil")), ("/offre", i18n.gettext("Offre de formation"))]
    if ent_url and not logged_in:
        items.append((ent_url, i18n.gettext("Connexion via l'ENT")))
    if logged_in:
        items += [
            ("/dossier", i18n.gettext("Mon dossier")),
            ("/candidatures", i18n.gettext("Mes candidatures")),
            ("/compte", i18n.gettext("Mon compte")),
        ]
    return items


class AsTyped(str):
    """A value going back into a form field (`|as_typed`): kept exactly as the person typed it, not
    typeset as what the page shows (`typeset`: the page's values in French typography)."""


def _typeset_placeholders(message: Callable[..., str]) -> Callable[..., str]:
    """A message's placeholders' values typeset like any value the page shows: « la formation
    « %(formation)s » » is the message's typography and the title's."""

    @jinja2.pass_context
    def call(context: jinja2.runtime.Context, *args: Any, **variables: Any) -> str:
        return message(context, *args, **{name: typeset(value) for name, value in variables.items()})

    return call


def _section_name(section: str) -> str:
    """A dossier section's name (`experiences_professionnelles` → « Expériences professionnelles »),
    translated; a section this process does not know yet (a newer API) keeps its key."""
    known = BY_KEY.get(section)
    return i18n.gettext(known.label) if known is not None else section


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(i18n.HERE / "templates")),
        autoescape=jinja2.select_autoescape(("html",)),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        enable_async=False,
        finalize=typeset,
    )
    # Newstyle: Jinja fills the placeholders (`num` and the call's own) once the form is chosen.
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: i18n.gettext(message),
        lambda singular, plural, n: i18n.plural_form(singular, plural, n),
        newstyle=True,
    )
    for name in ("gettext", "_", "ngettext"):  # `_()` and {% trans %} alike
        env.globals[name] = _typeset_placeholders(cast(Callable[..., str], env.globals[name]))
    env.filters.update(
        date_long=i18n.date_long,
        datetime_long=i18n.datetime_long,
        until=i18n.until,
        as_typed=AsTyped,
        rubrique=_section_name,
    )
    env.globals.update(badge=lambda statut: STATUT_BADGES.get(statut or "", "info"))
    return env


def render(
    request: web.Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> web.Response:
    app = request.app
    settings = app[SETTINGS]
    flash = take_flash(request)
    logged_in = has_session_cookie(request)
    page = {
        "logged_in": logged_in,
        "espace": "candidat",
        "nav": navigation(logged_in, settings.web_ent_url),
        "section": None,
        "breadcrumb": None,
        "settings": settings,
        "request": request,
        "path": request.path,
        "path_qs": request.path_qs,
        "lang": i18n.current_language(),
        "csrf": csrf_token(request),
        "user": request.get(USER),
        "idle_timeout": request.get(IDLE_TIMEOUT) if logged_in else None,
        "flash": flash,
        "asset": app[ASSETS].url,
        "errors": {},
        "values": {},
        "problem": None,
        **(context or {}),
    }
    body = app[ENV].get_template(template).render(page)
    # gzip when the browser accepts it (about a tenth of the bytes), in the event loop: a page
    # compresses in a fraction of a millisecond, less than handing it to a thread and back costs.
    response = web.Response(
        text=body, status=status, content_type="text/html", charset="utf-8", zlib_executor_size=COMPRESS_INLINE_BELOW
    )
    response.enable_compression()
    if FLASH_COOKIE in request.cookies:
        response.del_cookie(FLASH_COOKIE, path="/")
    return response
