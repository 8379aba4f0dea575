"""Form validation in the contracts (French, field by field) and the sealing of link tokens."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ecandidat.contracts.accounts import CreateAccount, NewEmail, NewStaffAccount
from ecandidat.runtime.settings import KitSettings
from ecandidat.runtime.sealing import DEV_SEALING_KEY, Sealer, SealError, new_key, require_production_key
from ecandidat.runtime.validation import french_details

FORM = dict(
    nom="Dupont",
    prenom="Camille",
    email="Camille@Example.ORG",
    email_confirmation="camille@example.org",
    password="cheval agrafe pile correcte",
    password_confirmation="cheval agrafe pile correcte",
)


def errors(model, **data) -> dict[str, str]:
    with pytest.raises(ValidationError) as refused:
        model(**data)
    return {d.field: d.message for d in french_details(refused.value)}


def test_a_good_form_is_normalised():
    form = CreateAccount(**FORM, ine=" 1234567890a ")
    assert form.email == "Camille@example.org" and form.ine == "1234567890A"
    assert CreateAccount(**{**FORM, "nom": "  de   la Fontaine "}).nom == "de la Fontaine"


def test_each_bad_field_is_named_in_french():
    found = errors(
        CreateAccount,
        **{
            **FORM,
            "email": "x@",
            "password": "court",
            "password_confirmation": "court",
            "prenom": "\x00",
            "ine": "ABC",
        },
    )
    assert found == {
        "email": "L'adresse mail n'est pas valide.",
        "prenom": "Ce champ contient des caractères non autorisés.",
        "password": "Le mot de passe doit contenir au moins 12 caractères.",
        "ine": "L'INE/BEA doit compter 11 caractères (chiffres et lettres), tel qu'il figure sur vos relevés de notes.",
    }
    assert errors(CreateAccount, **{**FORM, "email_confirmation": "autre@example.org"}) == {
        "email_confirmation": "La confirmation ne correspond pas à l'adresse mail."
    }
    assert errors(NewEmail, new_email="a@example.org", new_email_confirmation="b@example.org", password="x") == {
        "new_email_confirmation": "La confirmation ne correspond pas à la nouvelle adresse mail."
    }


def test_staff_roles_must_be_known():
    found = errors(NewStaffAccount, email="g@example.org", nom="N", prenom="P", roles=["recteur"])
    assert found["roles"].startswith("Rôle inconnu : recteur")


def test_sealed_values_open_with_the_key_only():
    sealer = Sealer(new_key())
    sealed = sealer.seal("le jeton")
    assert "le jeton" not in sealed and sealer.unseal(sealed) == "le jeton"
    with pytest.raises(SealError):
        Sealer(new_key()).unseal(sealed)
    with pytest.raises(SealError):
        sealer.unseal(sealed[:-4] + "AAAA")


def test_a_key_can_be_rotated_without_losing_values_in_flight():
    old, new = new_key(), new_key()
    sealed = Sealer(old).seal("en vol")
    assert Sealer(f"{new},{old}").unseal(sealed) == "en vol"


def test_the_development_key_is_refused_outside_development():
    dev = Sealer(DEV_SEALING_KEY)
    require_production_key(dev, KitSettings(ecandidat_env="development"))
    for env in ("production", "staging", ""):
        with pytest.raises(RuntimeError, match="development key"):
            require_production_key(dev, KitSettings(ecandidat_env=env))
    require_production_key(Sealer(new_key()), KitSettings(ecandidat_env="production"))
    with pytest.raises(ValueError):
        Sealer("pas une clé")
