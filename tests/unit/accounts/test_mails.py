"""The account mails: French, with the unsealed link, never a password."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from ecandidat.contracts.accounts import AccountActivationRequested, AccountCreated, AccountEmailChangeRequested
from ecandidat.contracts.subjects import event_subject
from ecandidat.contracts.envelope import envelope
from ecandidat.runtime.consumer import PermanentFailure
from ecandidat.runtime.sealing import Sealer, new_key
from services.mailer.catalogue import MailContext, load
from services.mailer.links import open_links
from services.mailer.render import Renderer
from tests.french import as_read

KEY = new_key()
SEALER = Sealer(KEY)
CTX = MailContext(public_base_url="https://ecandidat.univ.fr", unseal=SEALER.unseal)
DEADLINE = datetime(2026, 6, 21, 12, 0, tzinfo=timezone.utc)


def compose(event, ctx=CTX):
    meta = envelope(event, event_id=uuid.uuid4(), time=DEADLINE)
    return load()[type(event)](event, meta, ctx)


def created() -> AccountActivationRequested:
    """The welcome mail of a new account comes from the private activation event."""
    return AccountActivationRequested(
        account_id=uuid.uuid4(),
        numero_dossier="26PB7Y36",
        email="test2@example.org",
        nom="TEST2",
        prenom="Jean",
        campagne="eCandidat 2026",
        activation=SEALER.seal("jeton-secret"),
        activation_deadline=DEADLINE,
        welcome=True,
    )


def test_account_created_mail_reads_like_the_guide():
    [mail] = compose(created())
    stored = Renderer().render(mail.template, mail.context)
    rendered = type(stored)(stored.subject, as_read(open_links(stored.text, KEY)), open_links(stored.html, KEY))
    assert mail.recipient == "test2@example.org"
    assert "Bonjour Jean TEST2," in rendered.text
    assert "Vous venez de créer un compte pour la Campagne eCandidat 2026." in rendered.text
    assert "https://ecandidat.univ.fr/compte/activation?jeton=jeton-secret" in rendered.text
    assert (
        "Attention, vous devez valider votre compte avant le 21/06/2026 à 14:00, au delà de cette date "
        "votre compte sera détruit."
    ) in rendered.text
    assert "Utilisateur : 26PB7Y36" in rendered.text and "Mot de passe :" not in rendered.text
    assert 'href="https://ecandidat.univ.fr/compte/activation?jeton=jeton-secret"' in rendered.html


def test_a_token_sealed_with_another_key_is_a_permanent_failure():
    other = MailContext(public_base_url="https://x", unseal=Sealer(new_key()).unseal)
    with pytest.raises(PermanentFailure):
        compose(created(), other)


def test_change_of_email_tells_both_addresses_and_links_only_the_new_one():
    event = AccountEmailChangeRequested(
        account_id=uuid.uuid4(),
        numero_dossier="26PB7Y36",
        old_email="old@example.org",
        new_email="new@example.org",
        nom="TEST2",
        prenom="Jean",
        confirmation=SEALER.seal("confirme"),
        confirmation_expires_at=DEADLINE,
    )
    confirm, notice = compose(event)
    assert (confirm.recipient, notice.recipient) == ("new@example.org", "old@example.org")
    assert "confirme" in open_links(Renderer().render(confirm.template, confirm.context).text, KEY)
    assert "confirme" not in Renderer().render(notice.template, notice.context).text


def test_the_delivery_log_keeps_the_token_sealed_and_the_sent_mail_has_it_open():
    [mail] = compose(created())
    stored = Renderer().render(mail.template, mail.context)
    assert "jeton-secret" not in stored.text + stored.html
    assert "jeton={sealed:" in stored.text
    assert "jeton=jeton-secret" in open_links(stored.text, KEY)


def test_events_that_carry_a_token_never_reach_the_integrators_streams():
    """Every event with a sealed token is private (prv.…, PRV_ACCOUNTS, never exported); the public
    account.created carries none."""
    assert event_subject(AccountActivationRequested).startswith("prv.")
    assert event_subject(AccountEmailChangeRequested).startswith("prv.")
    assert event_subject(AccountCreated) == "evt.accounts.account.created"
    assert not {"activation", "reset", "confirmation", "setup"} & set(AccountCreated.model_fields)
