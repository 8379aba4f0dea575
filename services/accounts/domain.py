"""The rules of accounts, without I/O: numéros de dossier, password policy, tokens, throttling,
staff roles and scopes, TOTP with replay protection, recovery codes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyotp

from ecandidat.contracts import access
from ecandidat.contracts.auth import Principal
from ecandidat.contracts.errors import ErrorDetail, InvalidInput, ServiceError

NUMERO_ALPHABET = string.digits + string.ascii_uppercase
NUMERO_LENGTH = 6
TOKEN_BYTES = 32  # 256 random bits: links and session tokens
TOTP_PERIOD = 30
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i

COMMON_PASSWORDS_FILE = Path(__file__).with_name("data") / "common_passwords.txt"

# Roles whose scope is given by codes, and the field that holds them.
SCOPED_ROLES = access.SCOPE_FIELD


class LinkInvalid(ServiceError):
    """A link token that is unknown, already used, or expired: one French message for all three."""

    code = "gone"

    def __init__(self, message: str = "Ce lien n'est pas valide ou a expiré. Demandez-en un nouveau.") -> None:
        super().__init__(message, details=[ErrorDetail(field="token", message=message)])


def new_numero(prefix: str) -> str:
    return prefix + "".join(secrets.choice(NUMERO_ALPHABET) for _ in range(NUMERO_LENGTH))


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> bytes:
    """Tokens are stored hashed: a database leak does not give working links or sessions."""
    return hashlib.sha256(token.encode()).digest()


def load_common_passwords(path: Path = COMMON_PASSWORDS_FILE) -> frozenset[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


MIN_DISTINCT_CHARACTERS = 3


def check_password(
    password: str, common: frozenset[str], *, field: str = "password", context: tuple[str, ...] = ()
) -> None:
    """Length and blankness are checked by the contract; here: not a repetition of one or two
    characters, not a common password, not the user's own identifiers."""
    lowered = password.lower()
    if len({c for c in lowered if not c.isspace()}) < MIN_DISTINCT_CHARACTERS:
        message = (
            "Ce mot de passe est trop simple : utilisez au moins trois caractères différents, ou mieux, une phrase."
        )
        raise InvalidInput(message, details=[ErrorDetail(field=field, message=message, code="trivial_password")])
    if lowered in common:
        message = "Ce mot de passe fait partie des mots de passe les plus courants ; choisissez-en un autre."
        raise InvalidInput(message, details=[ErrorDetail(field=field, message=message, code="common_password")])
    if any(c and lowered == c.lower() for c in context):
        message = "Le mot de passe ne doit pas être votre adresse mail ou votre identifiant."
        raise InvalidInput(message, details=[ErrorDetail(field=field, message=message, code="guessable_password")])


def throttle_delay(level: float, *, free: int, base: float, cap: float) -> float:
    """Seconds to wait at a failure `level` (failures not yet forgotten): none up to `free`, then
    doubling with each further failure, capped."""
    if level <= free:
        return 0.0
    return min(cap, base * 2 ** min(level - free - 1, 40))


def check_staff_scopes(roles: tuple[str, ...], centres: tuple[str, ...], commissions: tuple[str, ...]) -> None:
    details = []
    for role, field in SCOPED_ROLES.items():
        if role in roles and not (centres if field == "centres" else commissions):
            label = "un centre de candidature" if field == "centres" else "une commission"
            details.append(ErrorDetail(field=field, message=f"Le rôle « {role} » demande au moins {label}."))
    if details:
        raise InvalidInput("Les rôles et leurs périmètres ne concordent pas.", details=details)


def new_totp_secret() -> str:
    return pyotp.random_base32(32)  # 160 bits


def otpauth_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret, interval=TOTP_PERIOD).provisioning_uri(name=email, issuer_name="eCandidat")


def totp_step(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step `code` belongs to (±1 step of drift), if valid and later than `last_step` (no replay)."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=TOTP_PERIOD)
    current = int(now.timestamp()) // TOTP_PERIOD
    found = None
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.at(step * TOTP_PERIOD), code):
            found = step
    if found is None or (last_step is not None and found <= last_step):
        return None
    return found


def new_recovery_codes() -> list[str]:
    """Ten codes of 24 characters from a 31-letter alphabet (~119 bits each), shown once."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(24))
        codes.append("-".join(raw[i : i + 6] for i in range(0, 24, 6)))
    return codes


def recovery_hash(code: str) -> bytes:
    normalized = code.strip().lower().replace("-", "").replace(" ", "")
    return hashlib.sha256(b"recovery:" + normalized.encode()).digest()


def looks_like_recovery_code(code: str) -> bool:
    return len(code.strip().replace("-", "").replace(" ", "")) == 24


@dataclass(frozen=True)
class SessionTimes:
    idle: int
    lifetime: int

    def alive(self, *, created_at: datetime, last_seen_at: datetime, now: datetime) -> bool:
        return (now - created_at).total_seconds() < self.lifetime and (now - last_seen_at).total_seconds() < self.idle


PERSON = ("account_id", "numero_dossier", "email", "nom", "prenom")


def person(account: Mapping[str, Any]) -> dict[str, Any]:
    """Who a candidate's account is, as the events mailed to them and their account's view say it."""
    return {name: account[name] for name in PERSON}


def candidate_principal(account: Mapping[str, Any]) -> Principal:
    """The caller a candidate's session stands for."""
    return Principal(
        realm="candidate",
        account_id=account["account_id"],
        email=account["email"],
        numero_dossier=account["numero_dossier"],
    )


def staff_principal(account: Mapping[str, Any]) -> Principal:
    """The caller a staff member's session stands for."""
    return Principal(
        realm="staff",
        account_id=account["account_id"],
        email=account["email"],
        roles=tuple(account["roles"]),
        centres=tuple(account["centres"]),
        commissions=tuple(account["commissions"]),
    )
