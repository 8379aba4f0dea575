"""The CAS 3.0 answers as the accounts service reads them (pure: no server)."""

from __future__ import annotations

import pytest

from ecandidat.contracts.errors import Unauthenticated, Unavailable
from services.accounts import cas
from services.accounts.settings import AccountsSettings

SETTINGS = AccountsSettings(ent_enabled=True, ent_cas_url="https://cas.univ.example/cas")
NS = 'xmlns:cas="http://www.yale.edu/tp/cas"'


def success(attributes: str) -> bytes:
    return (
        f"<cas:serviceResponse {NS}><cas:authenticationSuccess><cas:user>jdupont</cas:user>"
        f"<cas:attributes>{attributes}</cas:attributes></cas:authenticationSuccess></cas:serviceResponse>"
    ).encode()


def test_user_and_released_attributes_are_read():
    identity = cas.parse_validation(
        SETTINGS,
        success(
            "<cas:mail>jean.dupont@etu.univ.example</cas:mail><cas:sn>Dupont</cas:sn><cas:givenName>Jean</cas:givenName>"
            "<cas:supannCodeINE>0987654321F</cas:supannCodeINE><cas:isFromNewLogin>true</cas:isFromNewLogin>"
        ),
    )
    assert identity == cas.CasIdentity("jdupont", "jean.dupont@etu.univ.example", "Dupont", "Jean", "0987654321F")


def test_attribute_names_come_from_the_settings():
    settings = AccountsSettings(
        ent_enabled=True,
        ent_cas_url="https://cas.univ.example/cas",
        ent_attribute_mail="email",
        ent_attribute_nom="lastName",
        ent_attribute_prenom="firstName",
        ent_attribute_ine="ine",
    )
    identity = cas.parse_validation(
        settings,
        success("<cas:email>a@b.fr</cas:email><cas:lastName>Martin</cas:lastName><cas:firstName>Alice</cas:firstName>"),
    )
    assert (identity.email, identity.nom, identity.prenom, identity.ine) == ("a@b.fr", "Martin", "Alice", None)


@pytest.mark.parametrize("code", ["INVALID_TICKET", "INVALID_SERVICE", "INVALID_REQUEST"])
def test_a_refused_ticket_is_a_401_in_french(code):
    body = (
        f'<cas:serviceResponse {NS}><cas:authenticationFailure code="{code}">ticket not found'
        "</cas:authenticationFailure></cas:serviceResponse>"
    ).encode()
    with pytest.raises(Unauthenticated) as refused:
        cas.parse_validation(SETTINGS, body)
    assert "ENT" in refused.value.message and refused.value.details[0].code == "ent_ticket_refused"


def test_a_mail_that_is_not_an_address_is_as_good_as_missing():
    with pytest.raises(Unauthenticated) as refused:
        cas.parse_validation(
            SETTINGS, success("<cas:mail>pas une adresse</cas:mail><cas:sn>D</cas:sn><cas:givenName>J</cas:givenName>")
        )
    assert refused.value.details[0].code == "ent_attributes_missing"


def test_missing_mail_or_names_are_named():
    with pytest.raises(Unauthenticated) as refused:
        cas.parse_validation(SETTINGS, success("<cas:sn>Dupont</cas:sn><cas:givenName>Jean</cas:givenName>"))
    assert refused.value.details[0].code == "ent_attributes_missing" and "adresse mail" in refused.value.message


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        b"<html><body>Maintenance</body></html>",
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
        b'<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">&lol2;</cas:serviceResponse>',
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><x>&xxe;</x>',
        f"<cas:serviceResponse {NS}><cas:authenticationSuccess></cas:authenticationSuccess></cas:serviceResponse>".encode(),
    ],
)
def test_an_answer_that_is_not_a_cas_one_is_the_ent_unavailable(body):
    with pytest.raises(Unavailable) as refused:
        cas.parse_validation(SETTINGS, body)
    assert "indisponible" in refused.value.message


def test_the_single_logout_names_its_ticket():
    request = (
        '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="x" Version="2.0" '
        'IssueInstant="2026-01-01T00:00:00Z"><saml:NameID xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">'
        "</saml:NameID><samlp:SessionIndex>ST-42-abc</samlp:SessionIndex></samlp:LogoutRequest>"
    )
    assert cas.logout_session_index(request) == "ST-42-abc"
    assert cas.logout_session_index("<x/>") is None
    assert cas.logout_session_index("<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>") is None


def test_the_login_url_carries_the_service_url():
    assert (
        cas.login_url("https://cas.univ.example/cas/", "https://e.fr/connexion/ent/retour")
        == "https://cas.univ.example/cas/login?service=https%3A%2F%2Fe.fr%2Fconnexion%2Fent%2Fretour"
    )
