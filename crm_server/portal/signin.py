"""Partner users' sign-in, with the staff's rules: the same password policy and hashing
(crm_server.auth.passwords), the same throttling and lockout (crm_server.auth.throttle, keyed on
"partner:<email>" so a partner's failures never count against a staff account of the same
address), the same blocked networks, and optional TOTP. Answers never tell whether an account
exists: a wrong password, an unknown e-mail and a locked account read the same and cost the same."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin import settings
from crm_server.auth import blocks, passwords, throttle, tokens
from crm_server.auth.sessions import log_security
from crm_server.contract.auth import LoginResult
from crm_server.db import Database, utcnow
from crm_server.errors import AppError, TooManyRequests, Unauthorized, ValidationFailed
from crm_server.partners.models import Partner, PartnerInvitation, PartnerSession, PartnerUser
from crm_server.portal import security

KEY = "partner:"  # login_history keys partner attempts apart from staff ones


class SignInFailed(Unauthorized):
    keep_changes = True


class Throttled(TooManyRequests):
    keep_changes = True


def _wrong() -> SignInFailed:
    return SignInFailed("Wrong e-mail or password.", code="bad_credentials", field="email")


async def sign_in(
    db: Database, session: AsyncSession, email: str, password: str, address: str | None
) -> tuple[str, bool]:
    """(session token, whether it is complete); a 2FA user's session then owes its code."""
    now, email = utcnow(), email.strip()
    key = KEY + email
    refusal: AppError | None = None
    found: PartnerUser | None = None
    async with db.transaction() as s:
        if await blocks.is_blocked(s, address):
            throttle.record(s, key, None, address, "portal", LoginResult.blocked, now)
            refusal = blocks.refusal()
        elif (wait := await throttle.wait_needed(s, key, address, now)) > timedelta(0):
            throttle.record(s, key, None, address, "portal", LoginResult.throttled, now)
            refusal = Throttled(
                f"Too many sign-in attempts; wait {max(1, round(wait.total_seconds() / 60))} minute(s) and try again.",
                code="login_throttled",
                headers={"Retry-After": throttle.retry_after(wait)},
            )
        else:
            if email == throttle.printable(email, 320) and len(email) <= 320:
                found = await s.scalar(select(PartnerUser).where(func.lower(PartnerUser.email) == email.lower()))
            attempt = throttle.record(s, key, None, address, "portal", LoginResult.error, now)
            await s.flush()
            attempt_id = attempt.id
    if refusal is not None:
        raise refusal
    ok = await asyncio.to_thread(passwords.verify_password, found.password_hash if found else None, password[:1000])
    locked = found is not None and found.locked_until is not None and found.locked_until > now
    partner = await session.get(Partner, found.partner_id) if found is not None else None
    if found is None or not ok or locked:
        await _failed(
            db, key, found, address, attempt_id, LoginResult.locked if locked else LoginResult.bad_credentials, now
        )
        raise _wrong()
    if not found.active or partner is None or not partner.active:
        await _finish_alone(db, attempt_id, LoginResult.inactive)
        raise SignInFailed("This account is not active; ask your contact at the company.", code="account_inactive")
    user = await session.get(PartnerUser, found.id, with_for_update=True, populate_existing=True)
    assert user is not None
    if passwords.needs_rehash(user.password_hash or ""):
        user.password_hash = passwords.hash_password(password)
    if user.totp_enabled:
        await throttle.finish(session, attempt_id, LoginResult.otp_required)
        token, _ = await security.start(session, user, address, verified=False)
        return token, False
    _succeeded(user, now)
    await throttle.finish(session, attempt_id, LoginResult.success)
    token, _ = await security.start(session, user, address, verified=True)
    return token, True


def _succeeded(user: PartnerUser, now: datetime) -> None:
    user.last_login_at, user.lockout_count, user.locked_until = now, 0, None


async def _finish_alone(db: Database, attempt_id: int, result: LoginResult) -> None:
    async with db.transaction() as s:
        await throttle.finish(s, attempt_id, result)


async def _failed(
    db: Database,
    key: str,
    user: PartnerUser | None,
    address: str | None,
    attempt_id: int,
    result: LoginResult,
    now: datetime,
) -> None:
    """Counted in its own transaction; many failures from several addresses lock the account."""
    async with db.transaction() as s:
        await throttle.finish(s, attempt_id, result)
        log_security(s, "partner_login_failed", address=address, email=throttle.printable(key, 320))
        tally = await throttle.account_failures(s, key, now)
        if user is None or tally.failures < throttle.ACCOUNT_FAILURES or tally.addresses < throttle.ACCOUNT_ADDRESSES:
            return
        row = await s.get(PartnerUser, user.id, with_for_update=True, populate_existing=True)
        if row is None or (row.locked_until is not None and row.locked_until > now):
            return
        row.locked_until = now + throttle.lock_length(row.lockout_count)
        row.lockout_count += 1
        log_security(s, "partner_account_locked", address=address, partner_user_id=row.id, failures=tally.failures)


def check_code(user: PartnerUser, code: str, now: datetime) -> bool:
    """A TOTP code, accepted once (its time step must be newer than the last one used)."""
    code = code.strip().replace(" ", "")
    if not user.totp_secret or not code.isdigit():
        return False
    totp = pyotp.TOTP(user.totp_secret)
    for offset in (-1, 0, 1):
        at = now + timedelta(seconds=offset * totp.interval)
        step = totp.timecode(at)
        if pyotp.utils.strings_equal(totp.at(at), code) and step > (user.totp_last_step or -1):
            user.totp_last_step = step
            return True
    return False


async def second_step(
    db: Database, session: AsyncSession, visitor: security.Visitor, code: str, address: str | None
) -> str:
    """Finish a 2FA sign-in: a new, complete session replaces the waiting one."""
    now = utcnow()
    key = KEY + visitor.user.email
    async with db.transaction() as s:
        if await throttle.wait_needed(s, key, address, now) > timedelta(0):
            raise Throttled("Too many wrong codes; wait and sign in again.", code="login_throttled")
        attempt = throttle.record(s, key, None, address, "portal", LoginResult.error, now)
        await s.flush()
        attempt_id = attempt.id
    user = await session.get(PartnerUser, visitor.user.id, with_for_update=True, populate_existing=True)
    assert user is not None
    if not check_code(user, code[:20], now):
        await session.rollback()
        await _failed(db, key, user, address, attempt_id, LoginResult.bad_otp, now)
        raise SignInFailed("That code is not valid (or was used already).", code="bad_otp", field="code")
    _succeeded(user, now)
    await throttle.finish(session, attempt_id, LoginResult.success)
    await security.end(session, visitor.session_id, "second_step_done")
    token, _ = await security.start(session, user, address, verified=True)
    return token


# --- invitations ---------------------------------------------------------------------------------


async def invitation(session: AsyncSession, token: str, *, lock: bool = False) -> tuple[PartnerInvitation, PartnerUser]:
    """The open invitation of this token, or a refusal that says only that the link does not work."""
    refused = ValidationFailed(
        "This invitation link does not work (used, expired or mistyped). Ask for a new one.",
        field="token",
        code="invitation_invalid",
    )
    if not token or len(token) > 200:
        raise refused
    stmt = select(PartnerInvitation).where(PartnerInvitation.token_hash == tokens.digest(token))
    found = await session.scalar(stmt.with_for_update() if lock else stmt)
    if found is None or found.used_at is not None or found.expires_at <= utcnow():
        raise refused
    user = await session.get(PartnerUser, found.partner_user_id)
    partner = await session.get(Partner, user.partner_id) if user else None
    if user is None or partner is None or not user.active or not partner.active:
        raise refused
    return found, user


async def accept(session: AsyncSession, token: str, password: str, repeat: str) -> PartnerUser:
    """Set the first password (the staff policy); the link is then used up, with any older ones."""
    _, user = await invitation(session, token, lock=True)
    min_length = int(await settings.get(session, "security.password_min_length"))
    passwords.check_policy(
        password, min_length, field="password", personal=(user.email.split("@")[0], *user.full_name.split())
    )
    if password != repeat:
        raise ValidationFailed("The two passwords differ.", field="repeat")
    now = utcnow()
    user.password_hash = await asyncio.to_thread(passwords.hash_password, password)
    user.password_changed_at = user.updated_at = now
    await session.execute(
        update(PartnerInvitation)
        .where(PartnerInvitation.partner_user_id == user.id, PartnerInvitation.used_at.is_(None))
        .values(used_at=now)
    )
    await session.execute(
        update(PartnerSession)
        .where(PartnerSession.partner_user_id == user.id, PartnerSession.ended_at.is_(None))
        .values(ended_at=now, end_reason="password_changed")
    )
    return user
