"""Signing in and one's own account: login with throttling and lockout (limits in throttle.py),
2FA, password change and the emailed reset. Nothing here tells whether an email exists."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pyotp
import segno
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin import settings
from crm_server.auth import blocks, devices, notify, passwords, sessions, throttle, tokens
from crm_server.auth.models import PasswordResetToken, RecoveryCode, Role, User
from crm_server.auth.permissions import Principal
from crm_server.contract.auth import LoginResult, Me, TotpSetup
from crm_server.db import Database, utcnow
from crm_server.errors import AppError, NotFound, TooManyRequests, Unauthorized, ValidationFailed
from crm_server.jobs import queue

RESET_VALID = notify.RESET_VALID
RECOVERY_CODES = 10
ISSUER = "CRM"


class LoginFailed(Unauthorized):
    """A refused login: still counted and logged, so the transaction keeps its writes."""

    keep_changes = True


class LoginThrottled(TooManyRequests):
    keep_changes = True


async def me(session: AsyncSession, user_id: int) -> Me:
    user, role = (
        await session.execute(select(User, Role).join(Role, Role.id == User.role_id).where(User.id == user_id))
    ).one()
    required = role.require_2fa or await settings.get(session, "security.require_2fa_for_all")
    return Me(
        id=user.id,
        email=user.email,
        full_name=user.full_name,
        phone=user.phone,
        team_id=user.team_id,
        role_id=role.id,
        role_name=role.name,
        permissions=role.permissions,
        must_change_password=user.must_change_password,
        totp_enabled=user.totp_enabled,
        totp_required=bool(required),
    )


def _check_otp(session: AsyncSession, user: User, code: str, now: datetime) -> bool:
    """A TOTP code is accepted once: its time step must be newer than the last one used."""
    assert user.totp_secret
    totp = pyotp.TOTP(user.totp_secret)
    for offset in (-1, 0, 1):  # one step of clock drift either way
        at = now + timedelta(seconds=offset * totp.interval)
        step = totp.timecode(at)
        if pyotp.utils.strings_equal(totp.at(at), code) and step > (user.totp_last_step or -1):
            user.totp_last_step = step
            return True
    return False


async def _use_recovery_code(session: AsyncSession, user: User, code: str) -> bool:
    """The code's first characters find the row (no plaintext is stored); the salted hash decides."""
    clean = tokens.normalise_recovery_code(code)
    row = None
    if clean is not None:
        row = await session.scalar(
            select(RecoveryCode)
            .where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.used_at.is_(None),
                RecoveryCode.lookup == tokens.recovery_lookup(clean),
            )
            .with_for_update()
        )
    if not tokens.verify_recovery_code(row.code_hash if row else None, clean or ""):
        return False
    assert row is not None
    row.used_at = utcnow()
    sessions.log_security(session, "recovery_code_used", actor_id=user.id, target_user_id=user.id)
    return True


def _wrong() -> LoginFailed:
    return LoginFailed("Wrong email or password.", code="bad_credentials")


async def login(
    db: Database,
    session: AsyncSession,
    email: str,
    password: str,
    otp: str | None,
    address: str | None,
    client: str | None,
) -> tuple[str, datetime, Me]:
    """Sign in. The attempt is recorded in a transaction of its own before its password is checked
    (as "error", given its result after), so it is logged and counted whatever becomes of the
    request. Past the address checks, every attempt verifies exactly one password whatever the
    email, and a locked account answers exactly like a wrong password (its owner is told by email)."""
    now = utcnow()
    email = email.strip()
    client = throttle.printable(client, 200)
    refusal: AppError | None = None
    found: User | None = None
    attempt_id = 0
    async with db.transaction() as s:
        if await blocks.is_blocked(s, address):
            throttle.record(s, email, None, address, client, LoginResult.blocked, now)
            refusal = blocks.refusal()
        elif (wait := await throttle.wait_needed(s, email, address, now)) > timedelta(0):
            throttle.record(s, email, None, address, client, LoginResult.throttled, now)
            refusal = LoginThrottled(
                f"Too many sign-in attempts from this computer; wait {_minutes(wait)} and try again.",
                code="login_throttled",
                headers={"Retry-After": throttle.retry_after(wait)},
                extra={"retry_after": int(throttle.retry_after(wait))},
            )
        else:
            if email == throttle.printable(email, 320):  # an email with control characters has no account
                found = await s.scalar(select(User).where(func.lower(User.email) == email.lower()))
            attempt = throttle.record(s, email, found.id if found else None, address, client, LoginResult.error, now)
            await s.flush()
            attempt_id = attempt.id
    if refusal is not None:
        raise refusal

    ok = await asyncio.to_thread(passwords.verify_password, found.password_hash if found else None, password)
    locked = found is not None and found.locked_until is not None and found.locked_until > now
    if found is None or not ok or locked:
        result = LoginResult.locked if locked else LoginResult.bad_credentials
        await _failed(db, email, found, address, attempt_id, result, now, "locked" if locked else "password")
        raise _wrong()
    if not found.active:
        await _finish_alone(db, attempt_id, LoginResult.inactive)
        raise LoginFailed("This account is deactivated; ask an administrator.", code="account_inactive")

    user = await session.get(User, found.id, with_for_update=True, populate_existing=True)
    assert user is not None
    if user.totp_enabled:
        if not otp:
            await session.rollback()  # let go of the user row before writing elsewhere
            await _finish_alone(db, attempt_id, LoginResult.otp_required)
            raise LoginFailed("Enter the code from your authenticator app.", code="otp_required", field="otp")
        otp = otp.strip().replace(" ", "")
        ok = _check_otp(session, user, otp, now) if otp.isdigit() else await _use_recovery_code(session, user, otp)
        if not ok:
            await session.rollback()
            await _failed(db, email, found, address, attempt_id, LoginResult.bad_otp, now, "otp")
            raise LoginFailed("That code is not valid (or was used already).", code="bad_otp", field="otp")

    if passwords.needs_rehash(user.password_hash or ""):
        user.password_hash = passwords.hash_password(password)
    user.last_login_at = now
    user.lockout_count = 0
    user.locked_until = None
    # The success is written with the session it starts: a request that fails from here on leaves
    # the attempt as "error".
    await throttle.finish(session, attempt_id, LoginResult.success)
    await devices.remember(session, user.id, address, client, now)
    token, row = await sessions.start(session, user, address, client or None)
    return token, row.expires_at, await me(session, user.id)


def _minutes(wait: timedelta) -> str:
    seconds = max(1, int(wait.total_seconds()))
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{round(seconds / 60)} minutes"


async def _finish_alone(db: Database, attempt_id: int, result: LoginResult) -> None:
    async with db.transaction() as s:
        await throttle.finish(s, attempt_id, result)


async def _failed(
    db: Database,
    email: str,
    user: User | None,
    address: str | None,
    attempt_id: int,
    result: LoginResult,
    now: datetime,
    reason: str,
) -> None:
    """Record a failed attempt in its own transaction; lock the account when many failures came from
    several addresses. The same queries run for an unknown email."""
    async with db.transaction() as s:
        await throttle.finish(s, attempt_id, result)
        sessions.log_security(
            s,
            "login_failed",
            target_user_id=user.id if user else None,
            address=address,
            email=throttle.printable(email, 320),
            reason=reason,
        )
        tally = await throttle.account_failures(s, email, now)
        if (
            user is not None
            and tally.failures >= throttle.ACCOUNT_FAILURES
            and tally.addresses >= throttle.ACCOUNT_ADDRESSES
        ):
            await _lock(s, user.id, now, address, tally)


async def _lock(
    session: AsyncSession, user_id: int, now: datetime, address: str | None, tally: throttle.AccountFailures
) -> None:
    user = await session.get(User, user_id, with_for_update=True, populate_existing=True)
    if user is None or (user.locked_until is not None and user.locked_until > now):
        return
    length = throttle.lock_length(user.lockout_count)
    user.locked_until = now + length
    user.lockout_count += 1
    sessions.log_security(
        session,
        "account_locked",
        target_user_id=user.id,
        address=address,
        minutes=int(length.total_seconds() // 60),
        failures=tally.failures,
        addresses=tally.addresses,
    )
    await queue.defer(
        session,
        notify.NOTIFY_TASK,
        kind="locked",
        user_id=user.id,
        address=address,
        client=None,
        at=now.isoformat(),
        until=user.locked_until.isoformat(),
    )


async def unlock(session: AsyncSession, actor: Principal, user_id: int) -> None:
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound("No such user.")
    user.locked_until = None
    user.lockout_count = 0
    # Failures before the unlock no longer count towards the next lock or delay.
    throttle.record(session, user.email, user.id, actor.address, "admin-unlock", LoginResult.unlocked, utcnow())
    sessions.log_security(session, "account_unlocked", actor_id=actor.user_id, target_user_id=user.id)


# --- passwords -----------------------------------------------------------------------------------


async def _policy(session: AsyncSession, user: User, password: str, field: str) -> None:
    min_length = await settings.get(session, "security.password_min_length")
    personal = (user.email.split("@")[0], *user.full_name.split())
    passwords.check_policy(password, min_length, field=field, personal=personal)


async def set_password(
    session: AsyncSession,
    user: User,
    new_password: str,
    *,
    temporary: bool,
    keep_session: int | None = None,
    field: str = "new_password",
) -> None:
    await _policy(session, user, new_password, field)
    user.password_hash = passwords.hash_password(new_password)
    user.password_changed_at = utcnow()
    user.must_change_password = temporary
    await sessions.end_all(session, user.id, "password_changed", keep=keep_session)


async def change_password(session: AsyncSession, principal: Principal, current: str, new: str) -> None:
    user = await session.get(User, principal.user_id, with_for_update=True)
    assert user is not None
    await confirm_password(session, user, current, principal.address, field="current_password")
    if current == new:
        raise ValidationFailed("Choose a password different from the current one.", field="new_password")
    await set_password(session, user, new, temporary=False, keep_session=principal.session_id)
    sessions.log_security(session, "password_changed", actor_id=user.id, target_user_id=user.id)


async def request_reset(db: Database, email: str, address: str | None) -> None:
    """Forgot password: the same answer and the same work for any email. The request is recorded in
    its own transaction with the job that mails the code (the job looks the account up), limited
    per email (quietly: nothing is sent) and per address (answered 429)."""
    now = utcnow()
    email = email.strip()
    refusal: AppError | None = None
    async with db.transaction() as s:
        if await blocks.is_blocked(s, address):
            throttle.record(s, email, None, address, None, LoginResult.blocked, now)
            refusal = blocks.refusal()
        else:
            per_email, per_address = await throttle.resets_asked(s, email, address, now)
            if per_address >= throttle.RESETS_PER_ADDRESS or per_email >= throttle.RESETS_PER_EMAIL:
                throttle.record(s, email, None, address, None, LoginResult.reset_limited, now)
                by_address = per_address >= throttle.RESETS_PER_ADDRESS
                sessions.log_security(
                    s,
                    "password_reset_limited",
                    address=address,
                    email=throttle.printable(email, 320),
                    per="address" if by_address else "email",
                )
                if by_address:
                    refusal = TooManyRequests(
                        "Too many password reset requests from this computer; try again in an hour.",
                        code="reset_throttled",
                        headers={"Retry-After": str(int(throttle.RESET_WINDOW.total_seconds()))},
                    )
            else:
                row = throttle.record(s, email, None, address, None, LoginResult.reset_requested, now)
                await s.flush()
                await queue.defer(s, notify.SEND_RESET_TASK, email=row.email, address=address, attempt_id=row.id)
    if refusal is not None:
        raise refusal


async def send_reset(session: AsyncSession, user: User, address: str | None) -> None:
    """An admin sends a user the reset email (queued with the request's transaction)."""
    await queue.defer(session, notify.SEND_RESET_TASK, email=user.email, address=address)


async def reset_password(session: AsyncSession, token: str, new_password: str) -> None:
    row = await session.scalar(
        select(PasswordResetToken)
        .where(PasswordResetToken.token_hash == tokens.digest(token.strip()))
        .with_for_update()
    )
    if row is None or row.used_at is not None or row.expires_at < utcnow():
        raise ValidationFailed(
            "This reset code is not valid any more; ask for a new one.", field="token", code="reset_token_invalid"
        )
    user = await session.get(User, row.user_id, with_for_update=True)
    assert user is not None
    await set_password(session, user, new_password, temporary=False)
    row.used_at = utcnow()
    # Other outstanding codes die with this one.
    await session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    sessions.log_security(session, "password_reset", target_user_id=user.id)
    if user.locked_until is not None or user.lockout_count:
        # The owner lifts a lock by setting a new password; earlier failures stop counting.
        user.locked_until = None
        user.lockout_count = 0
        throttle.record(session, user.email, user.id, None, "password-reset", LoginResult.unlocked, utcnow())
        sessions.log_security(
            session, "account_unlocked", actor_id=user.id, target_user_id=user.id, by="password_reset"
        )


# --- 2FA -----------------------------------------------------------------------------------------


async def begin_totp(session: AsyncSession, principal: Principal) -> TotpSetup:
    user = await session.get(User, principal.user_id, with_for_update=True)
    assert user is not None
    if user.totp_enabled:
        raise AppError("Two-factor sign-in is on already; an admin can reset it.", code="totp_enabled")
    user.totp_secret = pyotp.random_base32()
    uri = pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    svg = segno.make(uri, error="m").svg_inline(scale=4)
    return TotpSetup(secret=user.totp_secret, uri=uri, qr_svg=svg)


async def confirm_totp(session: AsyncSession, principal: Principal, code: str) -> list[str]:
    user = await session.get(User, principal.user_id, with_for_update=True)
    assert user is not None
    if user.totp_enabled or not user.totp_secret:
        raise AppError("Start two-factor set-up first.", code="totp_not_started")
    if not _check_otp(session, user, code.strip(), utcnow()):
        raise ValidationFailed("That code is not right; check the time on your phone.", field="code")
    user.totp_enabled = True
    sessions.log_security(session, "totp_enabled", actor_id=user.id, target_user_id=user.id)
    return await _new_recovery_codes(session, user)


class PasswordWrong(ValidationFailed):
    keep_changes = True  # the wrong try is counted although the request fails


async def confirm_password(
    session: AsyncSession, user: User, password: str | None, address: str | None, field: str = "password"
) -> None:
    """A change a stolen session must not make alone asks for the account's password again. A wrong
    password there counts as a failed sign-in from that address (the same growing delays), so the
    prompt is no way round the sign-in's limits to guess the password."""
    now = utcnow()
    if (wait := await throttle.wait_needed(session, user.email, address, now)) > timedelta(0):
        raise LoginThrottled(
            f"Too many wrong passwords from this computer; wait {_minutes(wait)} and try again.",
            code="password_throttled",
            field=field,
            headers={"Retry-After": throttle.retry_after(wait)},
            extra={"retry_after": int(throttle.retry_after(wait))},
        )
    if not password:
        raise ValidationFailed("Enter your password.", field=field, code="password_required")
    if not await asyncio.to_thread(passwords.verify_password, user.password_hash, password):
        throttle.record(session, user.email, user.id, address, "password prompt", LoginResult.bad_credentials, now)
        sessions.log_security(session, "password_check_failed", target_user_id=user.id, address=address)
        raise PasswordWrong("Your password is not right.", field=field, code="password_wrong")


async def regenerate_recovery_codes(session: AsyncSession, principal: Principal, password: str) -> list[str]:
    user = await session.get(User, principal.user_id, with_for_update=True)
    assert user is not None
    await confirm_password(session, user, password, principal.address)
    if not user.totp_enabled:
        raise AppError("Turn on two-factor sign-in first.", code="totp_not_enabled")
    codes = await _new_recovery_codes(session, user)
    sessions.log_security(
        session, "recovery_codes_regenerated", actor_id=user.id, target_user_id=user.id, address=principal.address
    )
    return codes


async def _new_recovery_codes(session: AsyncSession, user: User) -> list[str]:
    await _retire_recovery_codes(session, user)
    codes: list[str] = []
    lookups: set[str] = set()
    while len(codes) < RECOVERY_CODES:
        code = tokens.new_recovery_code()
        clean = tokens.normalise_recovery_code(code)
        assert clean is not None
        if tokens.recovery_lookup(clean) in lookups:
            continue  # each unused code of a user has its own lookup id, so one hash check decides
        lookups.add(tokens.recovery_lookup(clean))
        codes.append(code)
        session.add(
            RecoveryCode(
                user_id=user.id, lookup=tokens.recovery_lookup(clean), code_hash=tokens.hash_recovery_code(clean)
            )
        )
    return codes


async def _retire_recovery_codes(session: AsyncSession, user: User) -> None:
    await session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
    )


def _totp_off(user: User) -> None:
    user.totp_enabled = False
    user.totp_secret = None
    user.totp_last_step = None


async def disable_totp(session: AsyncSession, principal: Principal, password: str) -> None:
    """Turn one's own two-factor sign-in off (not while the role or the settings require it)."""
    user, role = (
        await session.execute(
            select(User, Role)
            .join(Role, Role.id == User.role_id)
            .where(User.id == principal.user_id)
            .with_for_update(of=User)
        )
    ).one()
    await confirm_password(session, user, password, principal.address)
    if not user.totp_enabled:
        raise AppError("Two-factor sign-in is off already.", code="totp_not_enabled")
    if role.require_2fa or await settings.get(session, "security.require_2fa_for_all"):
        raise AppError("Your role requires two-factor sign-in, so it stays on.", code="totp_required")
    _totp_off(user)
    await _retire_recovery_codes(session, user)
    sessions.log_security(session, "totp_disabled", actor_id=user.id, target_user_id=user.id, address=principal.address)


async def reset_totp(session: AsyncSession, actor: Principal, user_id: int) -> User:
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound("No such user.")
    _totp_off(user)
    await _retire_recovery_codes(session, user)
    sessions.log_security(session, "totp_reset", actor_id=actor.user_id, target_user_id=user.id)
    return user
