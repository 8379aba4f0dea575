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
