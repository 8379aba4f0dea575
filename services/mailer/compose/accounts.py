"""Mails of the accounts service's events. Link tokens arrive sealed and stay sealed in the
delivery log (`services.mailer.links`): only the message sent carries them open."""

from __future__ import annotations

from ecandidat.contracts.accounts import (
    AccountActivationRequested,
    AccountCredentialsRequested,
    AccountDeleted,
    AccountEmailChanged,
    AccountEntReminded,
    AccountEmailChangeRequested,
    AccountPasswordChanged,
    StaffAccountInvited,
)
from ecandidat.contracts.envelope import CloudEvent
from ..catalogue import Mail, MailContext, composes
from ..links import sealed_link

# Pages of the web front that take the token and call the API (`POST /api/v1/...` with `token`).
LOGIN_PAGE = "/connexion"
ACTIVATION_PAGE = "/compte/activation"
RESET_PAGE = "/compte/mot-de-passe"
EMAIL_PAGE = "/compte/adresse"
STAFF_SETUP_PAGE = "/personnel/installation"


def _person(event) -> dict[str, str]:
    return {"nom": event.nom, "prenom": event.prenom}


@composes(AccountActivationRequested)
def _activation(event: AccountActivationRequested, meta: CloudEvent, ctx: MailContext) -> list[Mail]:
    """The welcome mail of a new account (with its numéro de dossier), or a new activation link."""
    context = {
        **_person(event),
        "numero_dossier": event.numero_dossier,
        "deadline": event.activation_deadline,
        "link": sealed_link(ctx, ACTIVATION_PAGE, event.activation),
    }
    if event.welcome:
        return [Mail("account_created", event.email, {**context, "campagne": event.campagne or "eCandidat"})]
    return [Mail("account_activation", event.email, context)]


@composes(AccountCredentialsRequested)
def _credentials(event: AccountCredentialsRequested, meta: CloudEvent, ctx: MailContext) -> list[Mail]:
    """The forgotten credentials, or, when someone tried to create an account with the address,
    "vous avez déjà un compte" with the same identifier and reset link, and the way to log in."""
    context = {
        **_person(event),
        "numero_dossier": event.numero_dossier,
        "expires_at": event.reset_expires_at,
        "link": sealed_link(ctx, RESET_PAGE, event.reset),
    }
    if event.reason == "registration":
        return [Mail("account_exists", event.email, {**context, "login_link": f"{ctx.public_base_url}{LOGIN_PAGE}"})]
    return [Mail("account_credentials", event.email, context)]


@composes(AccountEntReminded)
def _ent_reminder(event: AccountEntReminded, meta: CloudEvent, ctx: MailContext) -> list[Mail]:
    """The account has no eCandidat password (created through the ENT): log in with the ENT."""
    return [
        Mail(
            "account_ent",
            event.email,
            {
                **_person(event),
                "numero_dossier": event.numero_dossier,
                "registration": event.reason == "registration",
                "login_link": f"{ctx.public_base_url}{LOGIN_PAGE}",
            },
        )
    ]


@composes(AccountDeleted)
def _deleted(event: AccountDeleted, meta: CloudEvent, ctx: MailContext) -> list[Mail]:
    """The candidate deleted their account: sent to the address it had (the directory forgets it)."""
    context = {**_person(event), "numero_dossier": event.numero_dossier, "at": meta.time}
    return [Mail("account_deleted", event.email, context)]


@composes(AccountPasswordChanged)
def _password_changed(event: AccountPasswordChanged, meta: CloudEvent, ctx: MailContext) -> list[Mail]:
    context = {**_person(event), "numero_dossier": event.numero_dossier, "at": meta.time}
    return [Mail("account_password_changed", event.email, context)]


@composes(AccountEmailChangeRequested)
def _email_change(event: AccountEmailChangeRequested, meta: CloudEvent, ctx: MailContext) -> list[Mail]:
    context = {
        **_person(event),
        "numero_dossier": event.numero_dossier,
        "old_email": event.old_email,
        "new_email": event.new_email,
        "expires_at": event.confirmation_expires_at,
    }
    return [
        Mail(
            "account_email_confirm",
            event.new_email,
            {**context, "link": sealed_link(ctx, EMAIL_PAGE, event.confirmation)},
        ),
        Mail("account_email_change_notice", event.old_email, context),
    ]


@composes(AccountEmailChanged)
def _email_changed(event: AccountEmailChanged, meta: CloudEvent, ctx: MailContext) -> list[Mail]:
    context = {
        **_person(event),
        "numero_dossier": event.numero_dossier,
        "old_email": event.old_email,
        "new_email": event.new_email,
    }
    return [Mail("account_email_changed", address, context) for address in (event.new_email, event.old_email)]


@composes(StaffAccountInvited)
def _staff_invited(event: StaffAccountInvited, meta: CloudEvent, ctx: MailContext) -> list[Mail]:
    context = {
        **_person(event),
        "email": event.email,
        "roles": ", ".join(event.roles),
        "expires_at": event.setup_expires_at,
        "link": sealed_link(ctx, STAFF_SETUP_PAGE, event.setup),
    }
    return [Mail("staff_invitation", event.email, context)]
