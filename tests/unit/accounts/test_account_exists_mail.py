"""The "vous avez déjà un compte" mail: sent to the owner of an address someone tried to register
again, with the numéro de dossier, the way to log in and a reset link; in French, text and HTML."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from ecandidat.contracts.accounts import AccountCredentialsRequested
from ecandidat.contracts.envelope import envelope
from ecandidat.runtime.sealing import Sealer, new_key
from services.mailer.catalogue import MailContext, load
from services.mailer.links import open_links
from services.mailer.render import Renderer
from tests.french import as_read

KEY = new_key()
SEALER = Sealer(KEY)
CTX = MailContext(public_base_url="https://ecandidat.univ.fr", unseal=SEALER.unseal)
EXPIRES = datetime(2026, 6, 21, 12, 0, tzinfo=timezone.utc)


def requested(reason: str) -> AccountCredentialsRequested:
    return AccountCredentialsRequested(
        account_id=uuid.uuid4(),
        numero_dossier="26PB7Y36",
        email="test2@example.org",
        nom="TEST2",
        prenom="Jean",
        reset=SEALER.seal("jeton-secret"),
        reset_expires_at=EXPIRES,
        reason=reason,
    )


def rendered(reason: str):
    event = requested(reason)
    [mail] = load()[AccountCredentialsRequested](event, envelope(event, event_id=uuid.uuid4(), time=EXPIRES), CTX)
    stored = Renderer().render(mail.template, mail.context)
    assert "jeton-secret" not in stored.text + stored.html  # the delivery log keeps the link sealed
    return mail, type(stored)(stored.subject, as_read(open_links(stored.text, KEY)), open_links(stored.html, KEY))


def test_a_second_registration_mails_the_owner_that_they_already_have_an_account():
    mail, out = rendered("registration")
    assert mail.template == "account_exists" and mail.recipient == "test2@example.org"
    assert out.subject == "eCandidat : vous avez déjà un compte (dossier 26PB7Y36)"
    assert "Bonjour Jean TEST2," in out.text
    assert "Vous avez déjà un compte : aucun nouveau compte n'a été créé." in out.text
    assert "Utilisateur : 26PB7Y36" in out.text
    assert "https://ecandidat.univ.fr/connexion" in out.text
    assert "https://ecandidat.univ.fr/compte/mot-de-passe?jeton=jeton-secret" in out.text
    assert "jusqu'au 21/06/2026 à 14:00" in out.text
    assert "ignorez ce message" in out.text
    assert '<a href="https://ecandidat.univ.fr/connexion">' in out.html
    assert '<a href="https://ecandidat.univ.fr/compte/mot-de-passe?jeton=jeton-secret">' in out.html
    assert "<strong>26PB7Y36</strong>" in out.html


def test_forgotten_credentials_keep_their_own_mail():
    mail, out = rendered("forgotten")
    assert mail.template == "account_credentials"
    assert "Vous avez indiqué avoir oublié vos identifiants eCandidat." in out.text
    assert requested("forgotten").model_dump()["reason"] == "forgotten"
    assert (
        AccountCredentialsRequested.model_validate(
            {k: v for k, v in requested("forgotten").model_dump().items() if k != "reason"}
        ).reason
        == "forgotten"
    )  # events written before the field existed read as forgotten credentials
