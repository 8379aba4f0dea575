"""What a staff member's roles let them do, as the API decides it (`ecandidat/contracts/access.py`,
restated here because the web front imports no contract; a unit test keeps the two equal).

A page shows an action only when the API would accept it from this person: the groups below are
the ones the gateway checks on each route, and the scope (centres, commissions) is the API's to
apply to each candidature — a candidature out of scope is never listed, so never offered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..i18n import N_
from ..i18n import gettext as _

STAFF_ROLES = (
    "admin",
    "scolarite",
    "scolarite_lecture",
    "gestionnaire",
    "gestionnaire_lecture",
    "commission",
    "commission_lecture",
)
ROLE_LABELS = {
    "admin": N_("Administrateur"),
    "scolarite": N_("Scolarité"),
    "scolarite_lecture": N_("Scolarité (lecture seule)"),
    "gestionnaire": N_("Gestionnaire"),
    "gestionnaire_lecture": N_("Gestionnaire (lecture seule)"),
    "commission": N_("Membre de commission"),
    "commission_lecture": N_("Membre de commission (lecture seule)"),
}
EVERYWHERE = ("admin", "scolarite", "scolarite_lecture")
CENTRE_ROLES = ("gestionnaire", "gestionnaire_lecture")
COMMISSION_ROLES = ("commission", "commission_lecture")
OFFER_ADMINS = ("admin", "scolarite")
MANAGERS = OFFER_ADMINS + ("gestionnaire",)  # statut, pieces, type de traitement, validation of decisions
DECIDERS = MANAGERS + ("commission",)  # decisions and notes
ACCOUNT_READERS = EVERYWHERE
ADMIN = ("admin",)  # staff accounts, webhooks, mail log, registry


def role_label(code: str) -> str:
    """A role as a page names it, in the page's language (its code when it is not one of ours)."""
    return _(ROLE_LABELS[code]) if code in ROLE_LABELS else code


def all_roles() -> list[tuple[str, str]]:
    """Every role with its label, for the roles' fields."""
    return [(code, role_label(code)) for code in STAFF_ROLES]


def _any(roles: Iterable[str], group: tuple[str, ...]) -> bool:
    return any(role in group for role in roles)


@dataclass(frozen=True)
class Can:
    """The actions offered to a staff member, from their `/staff/me`."""

    roles: tuple[str, ...]
    centres: tuple[str, ...] = ()
    commissions: tuple[str, ...] = ()

    @classmethod
    def of(cls, me: dict) -> Can:
        return cls(tuple(me.get("roles") or ()), tuple(me.get("centres") or ()), tuple(me.get("commissions") or ()))

    @property
    def manage(self) -> bool:
        return _any(self.roles, MANAGERS)

    @property
    def decide(self) -> bool:
        return _any(self.roles, DECIDERS)

    @property
    def everywhere(self) -> bool:
        return _any(self.roles, EVERYWHERE)

    @property
    def administer(self) -> bool:
        return _any(self.roles, ADMIN)

    @property
    def administer_offer(self) -> bool:
        return _any(self.roles, OFFER_ADMINS)

    @property
    def read_accounts(self) -> bool:
        return _any(self.roles, ACCOUNT_READERS)

    def sees_centre(self, centre: str) -> bool:
        return self.everywhere or (centre in self.centres and _any(self.roles, CENTRE_ROLES))

    def sees_commission(self, commission: str | None) -> bool:
        return bool(commission) and (
            self.everywhere or (commission in self.commissions and _any(self.roles, COMMISSION_ROLES))
        )
