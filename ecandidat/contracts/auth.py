"""Who is asking: the principal the gateway resolves from a session and passes to services."""

from __future__ import annotations

import uuid
from typing import Literal

from .base import Message

Realm = Literal["candidate", "staff"]

# Staff roles (eCandidat's profiles); `*_lecture` variants may read but not change anything.
STAFF_ROLES = (
    "admin",
    "scolarite",
    "scolarite_lecture",
    "gestionnaire",
    "gestionnaire_lecture",
    "commission",
    "commission_lecture",
)


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
        """May read what belongs to centre de candidature `centre`."""
        if not self.is_staff:
            return False
        if self.has_role(*EVERY_CENTRE):
            return True
        return self.has_role("gestionnaire", "gestionnaire_lecture") and centre in self.centres

    def manages_centre(self, centre: str) -> bool:
        """May change what belongs to centre `centre` (read-only variants may not)."""
        if not self.is_staff:
            return False
        if self.has_role("admin", "scolarite"):
            return True
        return self.has_role("gestionnaire") and centre in self.centres

    def sits_on_commission(self, commission: str) -> bool:
        """May read the candidatures examined by `commission` (admin and scolarité see every one)."""
        if not self.is_staff:
            return False
        if self.has_role(*EVERY_CENTRE):
            return True
        return self.has_role("commission", "commission_lecture") and commission in self.commissions


# Roles that cover every centre de candidature and every commission.
EVERY_CENTRE = ("admin", "scolarite", "scolarite_lecture")
