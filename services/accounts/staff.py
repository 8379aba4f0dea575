"""Staff accounts: invitation by an admin, set-up (password then TOTP), login with a second factor,
recovery codes, roles and scopes."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import asyncpg

from ecandidat.contracts.accounts import (
    CreateStaffAccount,
    GetStaffAccount,
    GetStaffMe,
    ListStaffAccounts,
    RecoveryCodes,
    ReinviteStaffAccount,
    RenewRecoveryCodes,
    SessionIssued,
    StaffAccountInvited,
    StaffAccounts,
    StaffAccountView,
    StaffLogin,
    StaffSetup,
    StaffSetupConfirm,
    TotpEnrolment,
    UpdateStaffAccount,
)
from ecandidat.contracts import access
from ecandidat.contracts.auth import Principal
from ecandidat.contracts.errors import Conflict, ErrorDetail, Forbidden, InvalidInput, NotFound, Unauthenticated
from ecandidat.runtime.clock import Clock
from ecandidat.runtime.outbox import add_event
from ecandidat.runtime.sealing import Sealer

from . import staff_store, store, throttle
from .context import Deps
from .handlers import linked
from .domain import (
    staff_principal,
    check_password,
    check_staff_scopes,
    looks_like_recovery_code,
    new_recovery_codes,
    new_token,
    new_totp_secret,
    otpauth_uri,
    recovery_hash,
    token_hash,
    totp_step,
)
from .sessions import open_session, verify_or_count
from .settings import AccountsSettings

BAD_STAFF_LOGIN = "Adresse mail, mot de passe ou code de vérification incorrect."
NOT_ALLOWED = "Vous n'avez pas les droits nécessaires pour cette opération."
BAD_CODE = "Le code n'est pas valide. Vérifiez l'heure de votre téléphone et saisissez le code affiché."


def _require(principal: Principal, roles: tuple[str, ...]) -> None:
    access.require(principal, roles, NOT_ALLOWED)


def _view(row: asyncpg.Record) -> StaffAccountView:
    return StaffAccountView(
        account_id=row["account_id"],
        email=row["email"],
        nom=row["nom"],
        prenom=row["prenom"],
        roles=tuple(row["roles"]),
        centres=tuple(row["centres"]),
        commissions=tuple(row["commissions"]),
        active=row["totp_confirmed"],
        disabled=row["disabled_at"] is not None,
        created_at=row["created_at"],
    )


async def _invite(
    conn: asyncpg.Connection, row: asyncpg.Record | dict, *, sealer: Sealer, clock: Clock, settings: AccountsSettings
) -> str:
    """A new set-up link for the account (the previous one stops working), mailed through the outbox."""
    token = new_token()
    now = clock.now()
    expires = now + timedelta(hours=settings.accounts_staff_setup_hours)
    await store.replace_token(conn, row["account_id"], "staff_setup", token_hash(token), now, expires)
    event = StaffAccountInvited(
        account_id=row["account_id"],
        email=row["email"],
        nom=row["nom"],
        prenom=row["prenom"],
        roles=tuple(row["roles"]),
        setup=sealer.seal(token),
        setup_expires_at=expires,
    )
    await add_event(conn, event, subject=str(row["account_id"]), clock=clock)
    return token


async def create_staff_account(deps: Deps, req: CreateStaffAccount) -> StaffAccountView:
    _require(req.principal, access.ADMINS)
    check_staff_scopes(req.roles, req.centres, req.commissions)
    account_id = uuid.uuid4()
    row = dict(
        account_id=account_id,
        email=req.email,
        nom=req.nom,
        prenom=req.prenom,
        roles=list(req.roles),
        centres=list(req.centres),
        commissions=list(req.commissions),
        created_at=deps.now(),
        created_by=req.principal.account_id,
    )
    async with deps.pool.acquire() as conn:
        try:
            async with conn.transaction():
                await staff_store.insert_staff(conn, **row)
                await _invite(conn, row, sealer=deps.sealer, clock=deps.clock, settings=deps.settings)
        except asyncpg.UniqueViolationError:
            message = "Un compte de personnel existe déjà avec cette adresse mail."
            raise Conflict(message, details=[ErrorDetail(field="email", message=message)]) from None
        return _view(await staff_store.staff(conn, account_id))


async def create_first_admin(
    conn: asyncpg.Connection,
    *,
    email: str,
    nom: str,
    prenom: str,
    sealer: Sealer,
    clock: Clock,
    settings: AccountsSettings,
) -> tuple[StaffAccountView, str | None]:
    """The operator's `create-admin`: an admin account and its set-up token (None if it is already set up)."""
    async with conn.transaction():
        existing = await staff_store.staff_by_email(conn, email)
        if existing is not None and existing["totp_confirmed"]:
            return _view(existing), None
        if existing is None:
            account_id = uuid.uuid4()
            await staff_store.insert_staff(
                conn,
                account_id=account_id,
                email=email,
                nom=nom,
                prenom=prenom,
                roles=[access.ADMIN],
                created_at=clock.now(),
            )
            existing = await staff_store.staff(conn, account_id)
        token = await _invite(conn, existing, sealer=sealer, clock=clock, settings=settings)
    return _view(existing), token


async def staff_setup(deps: Deps, req: StaffSetup) -> TotpEnrolment:
    async with deps.pool.acquire() as conn:
        _, account = await linked(conn, req.token, "staff_setup", deps.now(), load=staff_store.staff, consume=False)
    check_password(req.password, deps.common_passwords, context=(account["email"],))
    password_hash = await deps.passwords.hash(req.password)
    secret = new_totp_secret()
    async with deps.pool.acquire() as conn:
        async with conn.transaction():
            await linked(conn, req.token, "staff_setup", deps.now(), load=staff_store.staff, consume=False)
            await staff_store.update_staff(
                conn,
                account["account_id"],
                password_hash=password_hash,
                totp_secret=deps.sealer.seal(secret),
                totp_confirmed=False,
                totp_last_step=None,
            )
    return TotpEnrolment(
        totp_secret=secret,
        otpauth_uri=otpauth_uri(secret, account["email"]),
        message=(
            "Ajoutez ce compte à votre application d'authentification (en scannant l'adresse otpauth "
            "sous forme de QR code ou en saisissant la clé), puis confirmez avec le code à 6 chiffres qu'elle affiche."
        ),
    )


def _codes_reply(codes: list[str]) -> RecoveryCodes:
    return RecoveryCodes(
        recovery_codes=codes,
        message=(
            "Conservez ces codes de secours en lieu sûr : chacun permet une seule connexion si vous n'avez plus "
            "votre application d'authentification. Ils ne seront plus affichés."
        ),
    )


def _bad_code() -> InvalidInput:
    return InvalidInput(BAD_CODE, details=[ErrorDetail(field="code", message=BAD_CODE)])


async def staff_setup_confirm(deps: Deps, req: StaffSetupConfirm) -> RecoveryCodes:
    now = deps.now()
    codes = new_recovery_codes()
    async with deps.pool.acquire() as conn:
        async with conn.transaction():
            _, account = await linked(conn, req.token, "staff_setup", now, load=staff_store.staff, consume=False)
            if account["password_hash"] is None or account["totp_secret"] is None:
                message = "Choisissez d'abord votre mot de passe."
                raise InvalidInput(message, details=[ErrorDetail(field="token", message=message)])
            step = totp_step(deps.sealer.unseal(account["totp_secret"]), req.code, now, None)
            if step is None:
                raise _bad_code()
            await store.find_token(conn, token_hash(req.token), "staff_setup", now, consume=True)
            await staff_store.update_staff(conn, account["account_id"], totp_confirmed=True, totp_last_step=step)
            await staff_store.replace_recovery_codes(conn, account["account_id"], [recovery_hash(c) for c in codes])
    return _codes_reply(codes)


async def _second_factor(
    conn: asyncpg.Connection, deps: Deps, account: asyncpg.Record, code: str, now: datetime
) -> bool:
    """Check a TOTP code (never the same one twice) or consume a recovery code; inside a transaction."""
    account_id = account["account_id"]
    if looks_like_recovery_code(code):
        return await staff_store.use_recovery_code(conn, account_id, recovery_hash(code), now)
    locked = await staff_store.staff(conn, account_id, lock=True)
    if locked is None:
        return False
    step = totp_step(deps.sealer.unseal(locked["totp_secret"]), code, now, locked["totp_last_step"])
    if step is None:
        return False
    await staff_store.update_staff(conn, account_id, totp_last_step=step)
    return True


async def staff_login(deps: Deps, req: StaffLogin) -> SessionIssued:
    async with deps.pool.acquire() as conn:
        account = await staff_store.staff_by_email(conn, req.email)
        attempt = await throttle.login_attempt(conn, deps, account, "staff", req.email, req.client, req.device)
    usable = account if account is not None and account["totp_confirmed"] else None
    password_ok = await verify_or_count(
        deps, attempt, usable["password_hash"] if usable is not None else None, req.password
    )
    second_ok = False
    if password_ok and account is not None:
        async with deps.pool.acquire() as conn:
            async with conn.transaction():
                second_ok = await _second_factor(conn, deps, account, req.code, deps.now())
        if not second_ok:
            await throttle.record_failure(deps, attempt)
    if not second_ok or account is None:
        raise Unauthenticated(BAD_STAFF_LOGIN, details=[ErrorDetail(field="code", message=BAD_STAFF_LOGIN)])
    if account["disabled_at"] is not None:
        raise Forbidden("Ce compte est désactivé. Adressez-vous à un administrateur.")
    principal = staff_principal(account)
    return await open_session(deps, principal, attempt, req.client, req.previous_token)


async def renew_recovery_codes(deps: Deps, req: RenewRecoveryCodes) -> RecoveryCodes:
    if not req.principal.is_staff:
        raise Forbidden(NOT_ALLOWED)
    codes = new_recovery_codes()
    now = deps.now()
    async with deps.pool.acquire() as conn:
        async with conn.transaction():
            account = await staff_store.staff(conn, req.principal.account_id, lock=True)
            if account is None or looks_like_recovery_code(req.code):
                raise _bad_code()
            if not await _second_factor(conn, deps, account, req.code, now):
                raise _bad_code()
            await staff_store.replace_recovery_codes(conn, account["account_id"], [recovery_hash(c) for c in codes])
    return _codes_reply(codes)


async def list_staff_accounts(deps: Deps, req: ListStaffAccounts) -> StaffAccounts:
    p = req.principal
    if req.centre is not None:
        if not p.sees_centre(req.centre):
            raise Forbidden("Vous n'avez pas accès à ce centre de candidature.")
    else:
        _require(p, access.ACCOUNT_READERS)
    async with deps.pool.acquire() as conn:
        rows = await staff_store.list_staff(conn, req.centre)
    return StaffAccounts(items=[_view(r) for r in rows])


async def _target(conn: asyncpg.Connection, account_id: uuid.UUID, *, lock: bool = False) -> asyncpg.Record:
    row = await staff_store.staff(conn, account_id, lock=lock)
    if row is None:
        raise NotFound("Ce compte de personnel n'existe pas.")
    return row


async def get_staff_account(deps: Deps, req: GetStaffAccount) -> StaffAccountView:
    _require(req.principal, access.ACCOUNT_READERS)
    async with deps.pool.acquire() as conn:
        return _view(await _target(conn, req.account_id))


async def get_staff_me(deps: Deps, req: GetStaffMe) -> StaffAccountView:
    if not req.principal.is_staff:
        raise Forbidden(NOT_ALLOWED)
    async with deps.pool.acquire() as conn:
        return _view(await _target(conn, req.principal.account_id))


def _not_on_self(req: UpdateStaffAccount | ReinviteStaffAccount, demoted: bool) -> None:
    if req.account_id == req.principal.account_id and demoted:
        raise Conflict(
            "Vous ne pouvez ni retirer vos propres droits d'administrateur, ni désactiver ou réinitialiser votre propre compte."
        )


async def update_staff_account(deps: Deps, req: UpdateStaffAccount) -> StaffAccountView:
    _require(req.principal, access.ADMINS)
    _not_on_self(req, bool(req.disabled) or (req.roles is not None and access.ADMIN not in req.roles))
    async with deps.pool.acquire() as conn:
        async with conn.transaction():
            row = await _target(conn, req.account_id, lock=True)
            roles = req.roles if req.roles is not None else tuple(row["roles"])
            centres = req.centres if req.centres is not None else tuple(row["centres"])
            commissions = req.commissions if req.commissions is not None else tuple(row["commissions"])
            check_staff_scopes(roles, centres, commissions)
            changes: dict[str, object] = {
                "roles": list(roles),
                "centres": list(centres),
                "commissions": list(commissions),
            }
            if req.disabled is not None:
                changes["disabled_at"] = (row["disabled_at"] or deps.now()) if req.disabled else None
                if req.disabled:
                    await store.end_sessions(conn, req.account_id)
            await staff_store.update_staff(conn, req.account_id, **changes)
        return _view(await _target(conn, req.account_id))


async def reinvite_staff_account(deps: Deps, req: ReinviteStaffAccount) -> StaffAccountView:
    _require(req.principal, access.ADMINS)
    _not_on_self(req, True)
    async with deps.pool.acquire() as conn:
        async with conn.transaction():
            row = await _target(conn, req.account_id, lock=True)
            await staff_store.update_staff(
                conn, req.account_id, password_hash=None, totp_secret=None, totp_confirmed=False, totp_last_step=None
            )
            await staff_store.replace_recovery_codes(conn, req.account_id, [])
            await store.end_sessions(conn, req.account_id)
            await throttle.forgive_account(conn, req.account_id)
            await _invite(conn, row, sealer=deps.sealer, clock=deps.clock, settings=deps.settings)
        return _view(await _target(conn, req.account_id))
