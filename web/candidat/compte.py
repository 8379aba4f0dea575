"""Étape 1 of the guide: create the account, activate it from the mail, log in; lost activation
link, forgotten identifiers, password reset, change of email and its confirmation, my account and
its deletion."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web

from ..api import CSRF_COOKIE, CSRF_TOKEN, Problem, Reply
from ..i18n import N_
from ..i18n import gettext as _
from ..pages import (
    RECENT,
    api,
    fetch,
    field_errors,
    log_out,
    me,
    read_form,
    redirect,
    relay_cookies,
    session_key,
    text_values,
)
from ..render import render
from ..session import SECURE, clear_session_cookies, safe_next
from .ent import MOTIFS

CREATION_FIELDS = ("nom", "prenom", "email", "email_confirmation", "password", "password_confirmation", "ine")
routes = web.RouteTableDef()


def _optional(form, *names: str) -> dict[str, str]:
    return {name: form.get(name, "").strip() for name in names if form.get(name, "").strip()}


# -- login / logout -------------------------------------------------------------------------------


@routes.get("/connexion")
async def login_page(request: web.Request) -> web.Response:
    values = {"login": request.query.get("identifiant", ""), "suite": safe_next(request.query.get("suite"), "/dossier")}
    motif = request.query.get("ent")
    return render(
        request,
        "candidat/connexion.html",
        {
            "values": values,
            "breadcrumb": [("/", _("Accueil")), ("", _("Connexion"))],
            "ent_motif": _(MOTIFS[motif]) if motif in MOTIFS else None,
            "ent_indisponible": motif == "indisponible",
        },
    )


@routes.post("/connexion")
async def login(request: web.Request) -> web.Response:
    form = await read_form(request)
    values = text_values(form, ("login", "suite"))
    suite = safe_next(values.get("suite"), "/dossier")
    body = {"login": form.get("login", "").strip(), "password": form.get("password", ""), "session_cookie": True}
    try:
        reply = await api(request).call(request, "POST", "/sessions", json_body=body, public=True)
    except Problem as problem:
        errors, summary = field_errors(problem, ("login", "password"))
        if not errors and problem.status in (401, 403, 429):
            errors = {"password": problem.detail}
        return render(
            request,
            "candidat/connexion.html",
            {
                "values": values,
                "errors": errors,
                "problem": summary,
                "not_activated": problem.status == 403,
                "breadcrumb": [("/", _("Accueil")), ("", _("Connexion"))],
            },
            status=problem.status,
        )
    return relay_cookies(reply, redirect(suite))


@routes.post("/deconnexion")
async def logout(request: web.Request) -> web.Response:
    return await log_out(request, "/sessions/current", "/", session_key(request))


# -- account creation and activation ------------------------------------------------------------


@routes.get("/compte/creation")
async def creation_page(request: web.Request) -> web.Response:
    return render(
        request, "candidat/creation.html", {"breadcrumb": [("/", _("Accueil")), ("", _("Création de compte"))]}
    )


@routes.post("/compte/creation")
async def creation(request: web.Request) -> web.Response:
    form = await read_form(request)
    body = {name: form.get(name, "") for name in CREATION_FIELDS if name != "ine"}
    for name in ("nom", "prenom", "email", "email_confirmation"):
        body[name] = body[name].strip()
    body.update(_optional(form, "ine"))
    try:
        await api(request).call(request, "POST", "/accounts", json_body=body)
    except Problem as problem:
        errors, summary = field_errors(problem, CREATION_FIELDS)
        if problem.code in ("email_taken", "conflict") and not errors:
            errors = {"email": problem.detail}
        return render(
            request,
            "candidat/creation.html",
            {
                "values": text_values(form),
                "errors": errors,
                "problem": summary,
                "breadcrumb": [("/", _("Accueil")), ("", _("Création de compte"))],
            },
            status=problem.status,
        )
    return redirect("/connexion", "compte_cree", request=request)


async def _token_page(request: web.Request, path: str, template: str, flash: str, title: str) -> web.Response:
    """A mail's link: `?jeton=` is given to the API at once; the result is a redirect or a page saying why not."""
    token = request.query.get("jeton", "").strip()
    problem = None
    if token:
        try:
            reply = await api(request).call(request, "POST", path, json_body={"token": token})
        except Problem as refused:
            problem = refused
        else:
            value = (reply.body or {}).get("numero_dossier", "")
            target = f"/connexion?identifiant={value}" if value else "/connexion"
            return redirect(target, flash, value, request=request)
    else:
        problem = Problem(
            400, "bad_request", _("Ce lien est incomplet : copiez-collez l'adresse entière reçue par courriel.")
        )
    return render(
        request,
        template,
        {"problem": problem.detail, "breadcrumb": [("/", _("Accueil")), ("", title)]},
        status=problem.status,
    )


@routes.get("/compte/activation")
async def activation(request: web.Request) -> web.Response:
    return await _token_page(
        request, "/accounts/activation", "candidat/activation.html", "compte_active", _("Activation du compte")
    )


@routes.get("/compte/adresse")
async def email_confirmation(request: web.Request) -> web.Response:
    return await _token_page(
        request,
        "/accounts/email-confirmation",
        "candidat/adresse_confirmation.html",
        "adresse_confirmee",
        _("Validation de l'adresse mail"),
    )


# -- lost activation link, forgotten identifiers, password reset -------------------------------


@dataclass(frozen=True)
class ByEmail:
    """A page asking only an address, whose answer is the same whether an account exists or not."""

    action: str
    api_path: str
    flash: str
    title: str
    text: str
    button: str


BY_EMAIL = (
    ByEmail(
        "/compte/code-activation",
        "/accounts/activation/resend",
        "activation_renvoyee",
        N_("J'ai perdu mon code d'activation"),
        N_(
            "Saisissez l'adresse mail de votre compte : un nouveau lien d'activation vous sera envoyé. "
            "Les liens envoyés précédemment ne fonctionneront plus."
        ),
        N_("Envoyer un nouveau lien"),
    ),
    ByEmail(
        "/compte/identifiants",
        "/accounts/credentials",
        "identifiants_envoyes",
        N_("J'ai oublié mes identifiants"),
        N_(
            "Saisissez l'adresse mail que vous avez indiquée dans votre dossier : un message vous sera envoyé avec "
            "votre numéro de dossier et un lien pour choisir un nouveau mot de passe."
        ),
        N_("Recevoir mes identifiants"),
    ),
)


def _by_email(page: ByEmail):
    def context(**more) -> dict:
        return {
            "page": page,
            "breadcrumb": [("/", _("Accueil")), ("/connexion", _("Connexion")), ("", _(page.title))],
            **more,
        }

    async def show(request: web.Request) -> web.Response:
        return render(request, "candidat/par_adresse.html", context())

    async def post(request: web.Request) -> web.Response:
        form = await read_form(request)
        try:
            await api(request).call(request, "POST", page.api_path, json_body={"email": form.get("email", "").strip()})
        except Problem as problem:
            errors, summary = field_errors(problem, ("email",))
            return render(
                request,
                "candidat/par_adresse.html",
                context(values=text_values(form), errors=errors or {"email": problem.detail}, problem=summary),
                status=problem.status,
            )
        return redirect("/connexion", page.flash, request=request)

    return show, post


for _page in BY_EMAIL:
    _show, _post = _by_email(_page)
    routes.get(_page.action)(_show)
    routes.post(_page.action)(_post)


@routes.get("/compte/mot-de-passe")
async def reset_page(request: web.Request) -> web.Response:
    return render(
        request,
        "candidat/mot_de_passe.html",
        {"jeton": request.query.get("jeton", ""), "breadcrumb": [("/", _("Accueil")), ("", _("Nouveau mot de passe"))]},
    )


@routes.post("/compte/mot-de-passe")
async def reset(request: web.Request) -> web.Response:
    form = await read_form(request)
    token = form.get("jeton", "")
    body = {
        "token": token,
        "password": form.get("password", ""),
        "password_confirmation": form.get("password_confirmation", ""),
    }
    try:
        await api(request).call(request, "POST", "/accounts/password-reset", json_body=body)
    except Problem as problem:
        errors, summary = field_errors(problem, ("password", "password_confirmation"))
        return render(
            request,
            "candidat/mot_de_passe.html",
            {
                "jeton": token,
                "errors": errors,
                "problem": summary,
                "expired": problem.status == 410,
                "breadcrumb": [("/", _("Accueil")), ("", _("Nouveau mot de passe"))],
            },
            status=problem.status,
        )
    response = redirect("/connexion", "mot_de_passe_change", request=request)
    clear_session_cookies(response)
    return response


# -- my account ------------------------------------------------------------------------------------

EMAIL_FIELDS = ("new_email", "new_email_confirmation", "password")


@routes.get("/compte")
async def account(request: web.Request) -> web.Response:
    await me(request, fresh=True)
    return render(
        request,
        "candidat/compte.html",
        {"section": "/compte", "breadcrumb": [("/", _("Accueil")), ("", _("Mon compte"))]},
    )


@routes.post("/compte")
async def change_email(request: web.Request) -> web.Response:
    form = await read_form(request)
    body = {name: form.get(name, "").strip() if name != "password" else form.get(name, "") for name in EMAIL_FIELDS}
    try:
        reply = await api(request).call(request, "POST", "/me/email", json_body=body)
    except Problem as problem:
        await me(request)
        errors, summary = field_errors(problem, EMAIL_FIELDS)
        if not errors and problem.status in (401, 403, 409):
            errors = {"new_email" if problem.status == 409 else "password": problem.detail}
        return render(
            request,
            "candidat/compte.html",
            {
                "values": text_values(form),
                "errors": errors,
                "problem": summary,
                "section": "/compte",
                "breadcrumb": [("/", _("Accueil")), ("", _("Mon compte"))],
            },
            status=problem.status,
        )
    request.app[RECENT].forget(session_key(request))
    response = relay_cookies(reply, redirect("/connexion", "adresse_demandee", request=request))
    clear_session_cookies(response)
    return response


# -- deleting my account -----------------------------------------------------------------------------

DELETION_TRAIL = ("/compte", N_("Mon compte")), ("", N_("Supprimer mon compte"))


async def _deletion_page(request: web.Request, status: int = 200, **context) -> web.Response:
    """The page says what goes and, while candidatures stand in the way, why it cannot be done now."""
    [mine] = await fetch(request, "/candidatures")
    blocking = sum(1 for item in mine.get("items", []) if item.get("statut") != "annulee")
    breadcrumb = [("/", _("Accueil")), *((path, _(label)) for path, label in DELETION_TRAIL)]
    return render(
        request,
        "candidat/suppression.html",
        {"blocking": blocking, "section": "/compte", "breadcrumb": breadcrumb, **context},
        status=status,
    )


@routes.get("/compte/suppression")
async def deletion_page(request: web.Request) -> web.Response:
    return await _deletion_page(request)


async def _unconfirmed(request: web.Request, form) -> web.Response | None:
    """The page again when the box saying that all goes for good is not ticked."""
    if form.get("confirmation") == "oui":
        return None
    message = _("Cochez la case pour confirmer que votre compte et votre dossier seront supprimés.")
    return await _deletion_page(request, 422, errors={"confirmation": message}, problem=message)


@routes.post("/compte/suppression")
async def delete_account(request: web.Request) -> web.Response:
    form = await read_form(request)
    if (unconfirmed := await _unconfirmed(request, form)) is not None:
        return unconfirmed
    try:
        reply = await api(request).call(
            request, "POST", "/me/suppression", json_body={"password": form.get("password", "")}
        )
    except Problem as problem:
        if problem.status == 409:  # a candidature made meanwhile: the page now says why not
            return await _deletion_page(request, problem.status)
        errors, summary = field_errors(problem, ("password",))
        if not errors and problem.status in (401, 403, 429):
            errors = {"password": problem.detail}
        return await _deletion_page(request, problem.status, errors=errors, problem=summary)
    return _deleted(request, reply)


def _deleted(request: web.Request, reply: Reply) -> web.Response:
    request.app[RECENT].forget(session_key(request))
    response = relay_cookies(reply, redirect("/", "compte_supprime", request=request))
    clear_session_cookies(response)
    response.del_cookie(ENT_DELETION_COOKIE, path=ENT_DELETION)
    return response


# An account created through the ENT has no password: its owner confirms the deletion by logging in
# to the ENT again (CAS `renew`). The CAS server sends the browser back to `…/retour`, a navigation
# started at the CAS server, which the session cookie (SameSite=Strict) does not follow; that page
# moves on by itself to `…/confirmation`, on this site, where it does. The deletion is asked only
# with the cookie set when the person sent this site's form (its CSRF token, sent again as such):
# a CAS login reached any other way deletes nothing.
ENT_DELETION = "/compte/suppression/ent"
ENT_DELETION_COOKIE = "ecandidat_suppression_ent"


ENT_UNAVAILABLE = N_("L'ENT ne répond pas pour le moment : rien n'est supprimé. Réessayez dans quelques minutes.")
NOT_ASKED_HERE = N_(
    "Cette confirmation par l'ENT n'a pas été demandée depuis cette page, ou elle a expiré : rien n'est "
    "supprimé. Recommencez ci-dessous."
)


@routes.post(ENT_DELETION)
async def delete_with_ent(request: web.Request) -> web.Response:
    form = await read_form(request)
    if (unconfirmed := await _unconfirmed(request, form)) is not None:
        return unconfirmed
    try:
        reply = await api(request).call(request, "POST", "/me/suppression/ent")
    except Problem as problem:
        if problem.status == 409:
            return await _deletion_page(request, problem.status)
        said = _(ENT_UNAVAILABLE) if problem.status in (503, 504) else problem.detail
        return await _deletion_page(request, problem.status, problem=said)
    # To the ENT by a page that moves on by itself: a form's answer may not send the browser to
    # another site (the Content-Security-Policy's form-action 'self').
    response = render(
        request, "candidat/ent_suppression_retour.html", {"suite": reply.body["login_url"], "vers_ent": True}
    )
    response.set_cookie(
        ENT_DELETION_COOKIE,
        f"{request[CSRF_TOKEN]}.{reply.body['etat']}",
        max_age=600,
        path=ENT_DELETION,
        httponly=True,
        secure=request.app[SECURE],
        samesite="Strict",
    )
    return response


@routes.get(ENT_DELETION + "/retour")
async def ent_deletion_back(request: web.Request) -> web.Response:
    suite = f"{ENT_DELETION}/confirmation?" + urlencode(
        {"ticket": request.query.get("ticket", "")[:256], "etat": request.query.get("etat", "")[:64]}
    )
    return render(request, "candidat/ent_suppression_retour.html", {"suite": suite})


@routes.get(ENT_DELETION + "/confirmation")
async def ent_deletion_confirmed(request: web.Request) -> web.Response:
    """The deletion, when this way back is the one the form of this session asked for: the cookie
    holds the form's CSRF token (still the session's) and the `etat` its way back carries."""
    csrf, _sep, etat = request.cookies.get(ENT_DELETION_COOKIE, "").partition(".")
    if not (csrf and etat and etat == request.query.get("etat") and csrf == request.cookies.get(CSRF_COOKIE)):
        page = await _deletion_page(request, 400, problem=_(NOT_ASKED_HERE))
        page.del_cookie(ENT_DELETION_COOKIE, path=ENT_DELETION)
        return page
    request[CSRF_TOKEN] = csrf
    body = {"ent_ticket": request.query.get("ticket", "")[:256] or None, "ent_etat": etat}
    try:
        reply = await api(request).call(request, "POST", "/me/suppression", json_body=body)
    except Problem as problem:
        page = await _deletion_page(request, problem.status, problem=None if problem.status == 409 else problem.detail)
        page.del_cookie(ENT_DELETION_COOKIE, path=ENT_DELETION)
        return page
    return _deleted(request, reply)
