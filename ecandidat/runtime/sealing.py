"""Sealing: secrets that must cross the event stream without being readable there.

Events on JetStream can be read by integrators, so a one-time secret that a mail needs (an
activation, reset or confirmation token) travels sealed: encrypted and authenticated with Fernet
(AES-128-CBC + HMAC-SHA256) under a key that only the producer and the mailer hold, setting
LINK_SEALING_KEY. The setting is a comma-separated list of Fernet keys: the first one seals, all
of them unseal, so a key can be rotated without losing the events already in flight.

`DEV_SEALING_KEY` is a published key for the local stack and the tests only: a service refuses to
start with it unless ECANDIDAT_ENV=development (see `require_production_key`).
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from .settings import KitSettings

# Public, fixed, for development only. Generate a real key with `python -m ecandidat.runtime.sealing`.
DEV_SEALING_KEY = "ZWNhbmRpZGF0LWRldi1vbmx5LWtleS0wMDAwMDAwMDA="


class SealError(ValueError):
    """A sealed value that was tampered with, sealed with an unknown key, or is not one at all."""


class Sealer:
    """`setting` names the variable the keys come from, in the errors (LINK_SEALING_KEY, or the
    webhooks service's WEBHOOK_SEALING_KEY, which seals the endpoints' signing secrets at rest)."""

    def __init__(self, keys: str, setting: str = "LINK_SEALING_KEY") -> None:
        self.setting = setting
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        if not parts:
            raise ValueError(f"{setting} is empty")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in parts])
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{setting} must be Fernet keys (32 url-safe base64-encoded bytes)") from exc
        self.uses_dev_key = parts[0] == DEV_SEALING_KEY

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode("ascii")

    def unseal(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, UnicodeError) as exc:
            raise SealError("cannot unseal this value") from exc


def require_production_key(sealer: Sealer, settings: KitSettings) -> None:
    """Refuse the published development key anywhere but in development (ECANDIDAT_ENV)."""
    if sealer.uses_dev_key and not settings.development:
        raise RuntimeError(
            f"{sealer.setting} is the published development key: set a secret key "
            "(python -m ecandidat.runtime.sealing prints one), or ECANDIDAT_ENV=development on a development machine"
        )


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


if __name__ == "__main__":
    print(new_key())
