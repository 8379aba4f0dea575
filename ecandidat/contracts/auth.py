"""Who is asking: the principal the gateway resolves from a session and passes to services."""

from __future__ import annotations

import uuid
from typing import Literal

from . import access
from .base import Message

Realm = Literal["candidate", "staff"]

# Staff roles and the scope rules live in `access.py` (one vocabulary for every service).
STAFF_ROLES = access.STAFF_ROLES


class Principal(Message):
    """The authenticated caller, as carried in rpc requests made on behalf of someone.

    Candidates: `realm="candidate"`, `account_id` is the candidate account, `numero_dossier` its
    login. Staff: `realm="staff"`, `roles`, and the scopes their roles apply to (`centres` for
    gestionnaires, `commissions` for commission members; admin and scolarité see everything).
    """

    realm: Realm
    account_id: uuid.UUID
    email: str
    numero_dossier: str | None = None
    roles: tuple[str, ...] = ()
    centres: tuple[str, ...] = ()
    commissions: tuple[str, ...] = ()

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)

    @property
    def is_staff(self) -> bool:
        return self.realm == "staff"

    def sees_centre(self, centre: str) -> bool:
        """May read what belongs to centre de candidature `centre` (`access.covers_centre`)."""
        return access.covers_centre(self, centre)

    def manages_centre(self, centre: str) -> bool:
        """May change what belongs to centre `centre` (read-only variants may not)."""
        return access.covers_centre(self, centre, write=True)

    def sits_on_commission(self, commission: str) -> bool:
        """May read the candidatures examined by `commission` (admin and scolarité see every one)."""
        return access.reads_everything(self) or access.sits_on(self, commission)
