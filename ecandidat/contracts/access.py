"""Who may see and do what: the staff role groups and the scope rules, defined once.

The gateway declares each route with one of the role groups below (a coarse check: a missing
role is a 403 before any service is asked); the services then apply the scope rules to the
candidature the request is about, with the facts they hold of it (`CandidatureScope`: its centre,
its commission, its statut du dossier). Candidatures, documents and dossiers apply the same
functions, so a staff member sees the same candidatures whichever route they take.

| role | reads | acts on |
|---|---|---|
| admin, scolarite | every candidature | every candidature (statut, pieces, decisions, notes, deadlines), the offer |
| scolarite_lecture | every candidature | nothing |
| gestionnaire | the candidatures of their centres | those candidatures |
| gestionnaire_lecture | the candidatures of their centres | nothing |
| commission | the candidatures of their commissions once `complet` | enters decisions and notes on them |
| commission_lecture | the candidatures of their commissions once `complet` | nothing |

Beyond candidatures: the staff accounts are read by `ACCOUNT_READERS` (a centre's staff also by
that centre's gestionnaires), administered by `ADMINS`, who alone also hold the student-records
registry, the webhooks, the mail delivery log and the detailed health report.

A commission examines complete dossiers: a candidature reaches it when its statut du dossier is
`complet`, and stays there while the commission decides (a decision does not change the statut).
A candidature that goes back to `incomplet` leaves the commission's view until it is complete again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import Forbidden

if TYPE_CHECKING:
    from .auth import Principal

# -- role groups (eCandidat's profiles) -------------------------------------------------------------

ADMIN = "admin"
STAFF_ROLES = (
    "admin",
    "scolarite",
    "scolarite_lecture",
    "gestionnaire",
    "gestionnaire_lecture",
    "commission",
    "commission_lecture",
)
READ_ONLY_ROLES = ("scolarite_lecture", "gestionnaire_lecture", "commission_lecture")
# Roles whose scope is the whole establishment (every centre, every commission).
EVERYWHERE = ("admin", "scolarite", "scolarite_lecture")
# Roles scoped to centres de candidature, and to commissions (their writing variants first).
CENTRE_ROLES = ("gestionnaire", "gestionnaire_lecture")
COMMISSION_ROLES = ("commission", "commission_lecture")
CENTRE_WRITERS = ("gestionnaire",)
COMMISSION_WRITERS = ("commission",)
# The field of a staff account that holds the scope of each scoped role.
SCOPE_FIELD = {**dict.fromkeys(CENTRE_ROLES, "centres"), **dict.fromkeys(COMMISSION_ROLES, "commissions")}

# What each group of routes requires (the gateway's coarse check).
ANY_STAFF = STAFF_ROLES
ADMINS = (ADMIN,)  # staff accounts, webhooks, the mail delivery log, the detailed health report
OFFER_ADMINS = ("admin", "scolarite")  # the offer, piece templates, campaign-wide actions
MANAGERS = OFFER_ADMINS + CENTRE_WRITERS  # change candidatures, review pieces, validate decisions
DECIDERS = MANAGERS + COMMISSION_WRITERS  # enter decisions, write notes
REGISTRY_ADMINS = ADMINS  # the student-records registry
ACCOUNT_READERS = EVERYWHERE  # the staff accounts
CENTRE_STAFF_READERS = ACCOUNT_READERS + CENTRE_ROLES  # the staff of one centre (its gestionnaires too)
OPERATORS = ADMINS  # the platform's operation: events in failure (dead letters) and their replay

# Statuts du dossier of the candidatures a commission examines.
EXAMINED_BY_COMMISSION = frozenset({"complet"})


@dataclass(frozen=True)
class CandidatureScope:
    """The facts of a candidature that decide who may see it and act on it."""

    centre_code: str
    commission_code: str | None
    statut: str


def in_group(principal: Principal, roles: tuple[str, ...]) -> bool:
    """Whether the caller is staff with one of the group's `roles`."""
    return principal.realm == "staff" and any(r in principal.roles for r in roles)


def require(principal: Principal, roles: tuple[str, ...], message: str) -> None:
    """Refuse (403, with `message`) a caller outside the group: the services' own copy of the
    gateway's check, for the actions that do not concern one candidature."""
    if not in_group(principal, roles):
        raise Forbidden(message)


def reads_everything(principal: Principal) -> bool:
    """Admin and scolarité (read-only too): every centre, every commission."""
    return in_group(principal, EVERYWHERE)


def covers_centre(principal: Principal, centre: str, *, write: bool = False) -> bool:
    """Whether `centre` is in the caller's scope (to read it, or to act on it when `write`)."""
    if write:
        return in_group(principal, OFFER_ADMINS) or (
            in_group(principal, CENTRE_WRITERS) and centre in principal.centres
        )
    return reads_everything(principal) or (in_group(principal, CENTRE_ROLES) and centre in principal.centres)


def sits_on(principal: Principal, commission: str | None, *, write: bool = False) -> bool:
    """Whether the caller is a member of `commission` (able to decide when `write`)."""
    roles = COMMISSION_WRITERS if write else COMMISSION_ROLES
    return commission is not None and in_group(principal, roles) and commission in principal.commissions


def may_read(principal: Principal, scope: CandidatureScope) -> bool:
    """Staff who may read the candidature, its pieces, its PDF and its candidate's dossier."""
    if covers_centre(principal, scope.centre_code):
        return True
    return sits_on(principal, scope.commission_code) and scope.statut in EXAMINED_BY_COMMISSION


def may_manage(principal: Principal, scope: CandidatureScope) -> bool:
    """Staff who may act on the candidature: statut, type de traitement, pieces' review,
    validation of decisions, deadlines, correction of the candidate's informations personnelles."""
    return covers_centre(principal, scope.centre_code, write=True)


def may_decide(principal: Principal, scope: CandidatureScope) -> bool:
    """Staff who may enter a decision or write a note: its managers, and the members of its
    commission (not the read-only ones) once the commission examines it."""
    if may_manage(principal, scope):
        return True
    return sits_on(principal, scope.commission_code, write=True) and scope.statut in EXAMINED_BY_COMMISSION


def may_read_candidate(principal: Principal, scopes: Iterable[CandidatureScope]) -> bool:
    """A candidate's dossier: readable by staff who may read one of their candidatures (admin and
    scolarité: every dossier, even of a candidate who has not applied yet)."""
    return reads_everything(principal) or any(may_read(principal, s) for s in scopes)


def may_manage_candidate(principal: Principal, scopes: Iterable[CandidatureScope]) -> bool:
    """A candidate's informations personnelles: corrected by staff who may act on one of their candidatures."""
    return in_group(principal, OFFER_ADMINS) or any(may_manage(principal, s) for s in scopes)


def out_of_scope(what: str = "Cette candidature") -> Forbidden:
    return Forbidden(f"{what} ne relève pas de votre périmètre.", reason="hors_perimetre")


def check_read(principal: Principal, scope: CandidatureScope, what: str = "Cette candidature") -> None:
    if not may_read(principal, scope):
        raise out_of_scope(what)


def check_manage(principal: Principal, scope: CandidatureScope, what: str = "Cette candidature") -> None:
    check_read(principal, scope, what)
    if not may_manage(principal, scope):
        raise Forbidden("Votre profil ne permet pas de modifier cette candidature.", reason="lecture_seule")


def check_decide(
    principal: Principal,
    scope: CandidatureScope,
    what: str = "Cette candidature",
    doing: str = "de saisir une décision sur cette candidature",
) -> None:
    """`doing` names the refused action in the message: a decision, a note and étiquettes share the rule."""
    check_read(principal, scope, what)
    if not may_decide(principal, scope):
        raise Forbidden(f"Votre profil ne permet pas {doing}.", reason="lecture_seule")
