"""What every page needs about the person's browser session: CSRF, flash messages, the way back
after a login.

- **CSRF (double submit)**: the `ecandidat_csrf` cookie (the API's, or one set here before any
  login) and the hidden `csrf` field of every form must be equal; the token is then also sent to
  the API as `X-CSRF-Token`, which checks it again for the session's changes.
- **Flash**: after a form post the page redirects (post/redirect/get) and the message to show
  travels in a short-lived cookie holding a *key* of `MESSAGES` (never free text).
- **Login and back**: `login_url(next)` keeps the page the person was on; `safe_next` accepts
  only a local path.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import quote, unquote, urlsplit

from aiohttp import web

from .api import CSRF_COOKIE, CSRF_TOKEN, SESSION_COOKIE, SESSION_END_COOKIE
from .i18n import N_, NP_, gettext, ngettext

FLASH_COOKIE = "ecandidat_message"
CSRF_FIELD = "csrf"
NEW_CSRF = web.RequestKey("new_csrf", str)
SECURE = web.AppKey("secure_cookies", bool)

# key → (DSFR alert type, message); `%(valeur)s` is the flash's parameter, shown escaped. A message
# with its plural (`NP_`) counts: its parameter is the number, which chooses the form.
MESSAGES: dict[str, tuple[str, str | tuple[str, str]]] = {
    "compte_cree": (
        "success",
        N_("Votre compte a été créé avec succès, veuillez consulter vos courriels pour le valider."),
    ),
    "compte_active": (
        "success",
        N_(
            "Votre compte est activé. Connectez-vous avec votre numéro de dossier %(valeur)s (ou votre adresse mail) et votre mot de passe."
        ),
    ),
    "activation_renvoyee": (
        "info",
        N_(
            "Si un compte en attente d'activation existe pour cette adresse, un nouveau lien d'activation vient de lui être envoyé."
        ),
    ),
    "identifiants_envoyes": (
        "info",
        N_(
            "Si un compte existe pour cette adresse, un courriel vient de lui être envoyé avec votre numéro de dossier et un lien pour choisir un nouveau mot de passe."
        ),
    ),
    "mot_de_passe_change": (
        "success",
        N_("Votre mot de passe a été changé. Connectez-vous avec votre nouveau mot de passe."),
    ),
    "adresse_demandee": (
        "info",
        N_(
            "Un lien de validation a été envoyé à votre nouvelle adresse. Vous avez été déconnecté : validez la nouvelle adresse puis reconnectez-vous."
        ),
    ),
    "adresse_confirmee": ("success", N_("Votre nouvelle adresse mail est validée. Vous pouvez vous reconnecter.")),
    "deconnecte": ("info", N_("Vous êtes déconnecté.")),
    "compte_supprime": (
        "success",
        N_("Votre compte et votre dossier sont supprimés. Un mail vous le confirme."),
    ),
    "session_expiree": (
        "warning",
        N_("Votre session a expiré. Reconnectez-vous pour revenir à la page où vous étiez."),
    ),
    "connexion_requise": ("info", N_("Connectez-vous pour accéder à cette page.")),
    "rubrique_enregistree": ("success", N_("La rubrique « %(valeur)s » est enregistrée.")),
    "candidature_creee": (
        "success",
        N_("Votre candidature est créée. Déposez vos pièces justificatives puis transmettez votre candidature."),
    ),
    "deja_candidat": ("info", N_("Vous avez déjà candidaté à cette formation : voici votre candidature.")),
    "piece_deposee": ("success", N_("Le fichier « %(valeur)s » est déposé.")),
    "piece_supprimee": ("success", N_("Le fichier est supprimé.")),
    "piece_non_concernee": ("success", N_("La pièce est notée « non concerné ».")),
    "piece_concernee": ("success", N_("La pièce est de nouveau demandée.")),
    "candidature_transmise": (
        "success",
        N_("Votre candidature est transmise. Un courriel accuse réception de votre dossier."),
    ),
    "candidature_annulee": ("success", N_("Votre candidature est annulée.")),
    "admission_confirmee": ("success", N_("Vous avez confirmé votre candidature. Un courriel vous le confirme.")),
    "desistement_enregistre": ("success", N_("Votre désistement est enregistré. Un courriel vous le confirme.")),
    # Espace gestion
    "selection_vide": ("warning", N_("Cochez au moins une candidature avant de choisir une action.")),
    "statut_change": (
        "success",
        NP_(
            "Statut du dossier changé pour %(valeur)s candidature.",
            "Statut du dossier changé pour %(valeur)s candidatures.",
        ),
    ),
    "type_traitement_change": (
        "success",
        NP_(
            "Type de traitement changé pour %(valeur)s candidature.",
            "Type de traitement changé pour %(valeur)s candidatures.",
        ),
    ),
    "decisions_validees": (
        "success",
        NP_(
            "Décision validée pour %(valeur)s candidature : le candidat est prévenu.",
            "Décisions validées pour %(valeur)s candidatures : les candidats sont prévenus.",
        ),
    ),
    "rien_n_a_change": ("info", N_("Aucune des candidatures cochées n'a changé : l'action ne les concernait pas.")),
    "fin_de_liste": ("info", N_("C'était la dernière candidature de la liste.")),
    "action_refusee": ("error", N_("Action refusée : %(valeur)s")),
    "commentaire_requis": ("error", N_("Pour refuser une pièce, écrivez un commentaire : il est envoyé au candidat.")),
    "piece_validee": ("success", N_("Pièce validée.")),
    "piece_refusee": ("success", N_("Pièce refusée : le candidat reçoit votre commentaire par courriel.")),
    "decision_saisie": ("success", N_("Décision saisie : elle sera communiquée au candidat une fois validée.")),
    "note_ajoutee": ("success", N_("Note ajoutée au bloc-notes.")),
    "etiquettes_enregistrees": ("success", N_("Les étiquettes de la candidature sont enregistrées.")),
    "compte_invite": ("success", N_("Invitation envoyée à %(valeur)s : le lien d'activation est dans son courriel.")),
    "compte_modifie": ("success", N_("Le compte de %(valeur)s est modifié.")),
    "compte_desactive": (
        "success",
        N_("Le compte de %(valeur)s est désactivé : ses sessions sont fermées et il ne peut plus se connecter."),
    ),
    "compte_reactive": ("success", N_("Le compte de %(valeur)s est réactivé.")),
    "offre_creee": ("success", N_("« %(valeur)s » est créé.")),
    "offre_enregistree": ("success", N_("Les modifications de « %(valeur)s » sont enregistrées.")),
    "prolongation_appliquee": (
        "success",
        NP_(
            "Prolongation enregistrée : %(valeur)s candidature prolongée, son candidat est prévenu par courriel.",
            "Prolongation enregistrée : %(valeur)s candidatures prolongées, leurs candidats sont prévenus par courriel.",
        ),
    ),
    "prolongation_sans_candidature": (
        "info",
        N_("Prolongation enregistrée : aucune candidature n'avait de date limite ouverte à l'heure de l'incident."),
    ),
    "prolongation_deja_appliquee": ("info", N_("Cet incident avait déjà été pris en compte : rien n'a changé.")),
    "modele_depose": ("success", N_("Le modèle « %(valeur)s » est déposé : il est proposé aux candidats.")),
    "modele_retire": ("success", N_("Le modèle est retiré.")),
    "lettre_rejouee": ("success", N_("L'événement %(valeur)s est rejoué.")),
}


def set_flash(response: web.StreamResponse, key: str, value: str = "", *, secure: bool = False) -> None:
    assert key in MESSAGES, key
    payload = key if not value else f"{key}:{quote(value[:200])}"
    response.set_cookie(FLASH_COOKIE, payload, max_age=120, path="/", httponly=True, secure=secure, samesite="Lax")


def take_flash(request: web.Request) -> tuple[str, str] | None:
    """The message to show once (the cookie is cleared by the page's response)."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    key, _, value = raw.partition(":")
    if key not in MESSAGES:
        return None
    kind, message = MESSAGES[key]
    value = unquote(value)
    if isinstance(message, tuple):
        return kind, ngettext(*message, int(value) if value.isdigit() else 0, valeur=value)
    return kind, gettext(message, valeur=value) if "%(valeur)s" in message else gettext(message)


def csrf_token(request: web.Request) -> str:
    """The token the page's forms carry: the browser's cookie, or a new one set with the page."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing and 16 <= len(existing) <= 200:
        return existing
    if NEW_CSRF not in request:
        request[NEW_CSRF] = secrets.token_urlsafe(32)
    return request[NEW_CSRF]


def check_csrf(request: web.Request, sent: str | None) -> bool:
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not sent or not hmac.compare_digest(expected.encode(), sent.encode()):
        return False
    request[CSRF_TOKEN] = sent
    return True


def has_session_cookie(request: web.Request) -> bool:
    return SESSION_COOKIE in request.cookies


def safe_next(value: str | None, default: str = "/") -> str:
    """A local path to go back to after the login; anything else is the default."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def login_url(next_path: str, realm_login: str = "/connexion") -> str:
    return f"{realm_login}?suite={quote(next_path, safe='/')}"


def clear_session_cookies(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/")
    response.del_cookie(SESSION_COOKIE, path="/api/")
    response.del_cookie(SESSION_END_COOKIE, path="/")
