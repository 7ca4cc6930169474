"""Signing in and one's own account: login with lockout and throttling, 2FA, password change and
the emailed reset. Nothing here tells whether an email exists."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyotp
import segno
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import mail
from crm_server.admin import settings
from crm_server.auth import passwords, sessions, tokens
from crm_server.auth.models import LoginHistory, PasswordResetToken, RecoveryCode, Role, User
from crm_server.auth.permissions import Principal
from crm_server.contract.auth import LoginResult, Me, TotpSetup
from crm_server.db import utcnow
from crm_server.errors import AppError, NotFound, TooManyRequests, Unauthorized, ValidationFailed

FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES = 5
LOCK_BASE = timedelta(minutes=15)
ADDRESS_WINDOW = timedelta(minutes=5)
MAX_ATTEMPTS_PER_ADDRESS = 30
RESET_VALID = timedelta(minutes=30)
RECOVERY_CODES = 10
ISSUER = "CRM"


class LoginFailed(Unauthorized):
    """A refused login: still counted and logged, so the transaction keeps its writes."""

    keep_changes = True


class LoginThrottled(TooManyRequests):
    keep_changes = True


async def me(session: AsyncSession, user_id: int) -> Me:
    user, role = (await session.execute(
        select(User, Role).join(Role, Role.id == User.role_id).where(User.id == user_id)
    )).one()
    required = role.require_2fa or await settings.get(session, "security.require_2fa_for_all")
    return Me(id=user.id, email=user.email, full_name=user.full_name, phone=user.phone, team_id=user.team_id,
              role_id=role.id, role_name=role.name, permissions=role.permissions,
              must_change_password=user.must_change_password, totp_enabled=user.totp_enabled,
              totp_required=bool(required))


def _record(session: AsyncSession, email: str, user: User | None, address: str | None, client: str | None,
            result: LoginResult) -> None:
    session.add(LoginHistory(email=email[:320], user_id=user.id if user else None, address=address,
                             client=client, result=result.value, at=utcnow()))


async def _recent_failures(session: AsyncSession, user: User, now: datetime) -> int:
    since = now - FAILURE_WINDOW
    last_success = await session.scalar(
        select(func.max(LoginHistory.at)).where(LoginHistory.user_id == user.id,
                                                LoginHistory.result == LoginResult.success.value)
    )
    if last_success and last_success > since:
        since = last_success
    count = await session.scalar(
        select(func.count()).select_from(LoginHistory).where(
            LoginHistory.user_id == user.id, LoginHistory.at > since,
            LoginHistory.result.in_([LoginResult.bad_credentials.value, LoginResult.bad_otp.value]),
        )
    )
    return int(count or 0)


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
            select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None),
                                       RecoveryCode.lookup == tokens.recovery_lookup(clean))
            .with_for_update()
        )
    if not tokens.verify_recovery_code(row.code_hash if row else None, clean or ""):
        return False
    assert row is not None
    row.used_at = utcnow()
    sessions.log_security(session, "recovery_code_used", actor_id=user.id, target_user_id=user.id)
    return True


async def login(session: AsyncSession, email: str, password: str, otp: str | None, address: str | None,
                client: str | None) -> tuple[str, datetime, Me]:
    now = utcnow()
    email = email.strip()
    if address:
        attempts = await session.scalar(
            select(func.count()).select_from(LoginHistory)
            .where(LoginHistory.address == address, LoginHistory.at > now - ADDRESS_WINDOW,
                   LoginHistory.result != LoginResult.success.value)
        )
        if (attempts or 0) >= MAX_ATTEMPTS_PER_ADDRESS:
            _record(session, email, None, address, client, LoginResult.throttled)
            raise LoginThrottled("Too many sign-in attempts from this computer; wait a few minutes.",
                                 code="login_throttled", headers={"Retry-After": "300"})

    user = await session.scalar(
        select(User).where(func.lower(User.email) == email.lower()).with_for_update()
    )
    wrong = LoginFailed("Wrong email or password.", code="bad_credentials")

    if user is not None and user.locked_until and user.locked_until > now:
        passwords.verify_password(None, password)  # same time as a real check
        _record(session, email, user, address, client, LoginResult.locked)
        raise LoginFailed("This account is locked after too many failed sign-ins.", code="account_locked",
                          extra={"locked_until": user.locked_until.isoformat()})

    if user is None or not passwords.verify_password(user.password_hash, password):
        _record(session, email, user, address, client, LoginResult.bad_credentials)
        if user is not None:
            sessions.log_security(session, "login_failed", target_user_id=user.id, address=address)
            await _maybe_lock(session, user, now, address)
        raise wrong

    if not user.active:
        _record(session, email, user, address, client, LoginResult.inactive)
        raise LoginFailed("This account is deactivated; ask an administrator.", code="account_inactive")

    if user.totp_enabled:
        if not otp:
            _record(session, email, user, address, client, LoginResult.otp_required)
            raise LoginFailed("Enter the code from your authenticator app.", code="otp_required", field="otp")
        otp = otp.strip().replace(" ", "")
        ok = _check_otp(session, user, otp, now) if otp.isdigit() else await _use_recovery_code(session, user, otp)
        if not ok:
            _record(session, email, user, address, client, LoginResult.bad_otp)
            sessions.log_security(session, "login_failed", target_user_id=user.id, address=address, reason="otp")
            await _maybe_lock(session, user, now, address)
            raise LoginFailed("That code is not valid (or was used already).", code="bad_otp", field="otp")

    if passwords.needs_rehash(user.password_hash or ""):
        user.password_hash = passwords.hash_password(password)
    user.last_login_at = now
    user.lockout_count = 0
    user.locked_until = None
    _record(session, email, user, address, client, LoginResult.success)
    token, row = await sessions.start(session, user, address, client)
    return token, row.expires_at, await me(session, user.id)


async def _maybe_lock(session: AsyncSession, user: User, now: datetime, address: str | None) -> None:
    await session.flush()
    if await _recent_failures(session, user, now) < MAX_FAILURES:
        return
    minutes = LOCK_BASE * (2 ** min(user.lockout_count, 8))
    user.locked_until = now + minutes
    user.lockout_count += 1
    sessions.log_security(session, "account_locked", target_user_id=user.id, address=address,
                          minutes=int(minutes.total_seconds() // 60))


async def unlock(session: AsyncSession, actor: Principal, user_id: int) -> None:
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound("No such user.")
    user.locked_until = None
    user.lockout_count = 0
    # Failures before the unlock no longer count towards the next lock.
    _record(session, user.email, user, actor.address, "admin-unlock", LoginResult.success)
    sessions.log_security(session, "account_unlocked", actor_id=actor.user_id, target_user_id=user.id)


# --- passwords -----------------------------------------------------------------------------------

async def _policy(session: AsyncSession, user: User, password: str, field: str) -> None:
    min_length = await settings.get(session, "security.password_min_length")
    personal = (user.email.split("@")[0], *user.full_name.split())
    passwords.check_policy(password, min_length, field=field, personal=personal)


async def set_password(session: AsyncSession, user: User, new_password: str, *, temporary: bool,
                       keep_session: int | None = None, field: str = "new_password") -> None:
    await _policy(session, user, new_password, field)
    user.password_hash = passwords.hash_password(new_password)
    user.password_changed_at = utcnow()
    user.must_change_password = temporary
    await sessions.end_all(session, user.id, "password_changed", keep=keep_session)


async def change_password(session: AsyncSession, principal: Principal, current: str, new: str) -> None:
    user = await session.get(User, principal.user_id, with_for_update=True)
    assert user is not None
    if not passwords.verify_password(user.password_hash, current):
        raise ValidationFailed("The current password is not right.", field="current_password")
    if current == new:
        raise ValidationFailed("Choose a password different from the current one.", field="new_password")
    await set_password(session, user, new, temporary=False, keep_session=principal.session_id)
    sessions.log_security(session, "password_changed", actor_id=user.id, target_user_id=user.id)


async def request_reset(session: AsyncSession, email: str, address: str | None) -> None:
    """Email a single-use link; answers the same whether or not the email exists."""
    user = await session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None or not user.active:
        return
    token, now = tokens.new_token(), utcnow()
    session.add(PasswordResetToken(user_id=user.id, token_hash=tokens.digest(token), created_at=now,
                                   expires_at=now + RESET_VALID))
    sessions.log_security(session, "password_reset_requested", target_user_id=user.id, address=address)
    body = (
        f"Hello {user.full_name},\n\nSomeone asked to reset your CRM password. In the CRM sign-in window "
        f"choose \"Forgot password?\" -> \"I have a code\" and enter this code within 30 minutes:\n\n"
        f"    {token}\n\nIf it was not you, ignore this email; your password stays as it is.\n"
    )
    try:
        await mail.send(session, user.email, "Reset your CRM password", body)
    except mail.MailError:
        sessions.log_security(session, "password_reset_mail_failed", target_user_id=user.id)


async def reset_password(session: AsyncSession, token: str, new_password: str) -> None:
    row = await session.scalar(
        select(PasswordResetToken).where(PasswordResetToken.token_hash == tokens.digest(token.strip()))
        .with_for_update()
    )
    if row is None or row.used_at is not None or row.expires_at < utcnow():
        raise ValidationFailed("This reset code is not valid any more; ask for a new one.", field="token",
                               code="reset_token_invalid")
    user = await session.get(User, row.user_id, with_for_update=True)
    assert user is not None
    await set_password(session, user, new_password, temporary=False)
    row.used_at = utcnow()
    # Other outstanding codes die with this one.
    await session.execute(update(PasswordResetToken).where(
        PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None)).values(used_at=utcnow()))
    sessions.log_security(session, "password_reset", target_user_id=user.id)


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


def confirm_password(user: User, password: str | None) -> None:
    """A change a stolen session must not make alone asks for the account's password again."""
    if not password or not passwords.verify_password(user.password_hash, password):
        raise ValidationFailed("Your password is not right." if password else "Enter your password.",
                               field="password", code="password_wrong" if password else "password_required")


async def regenerate_recovery_codes(session: AsyncSession, principal: Principal, password: str) -> list[str]:
    user = await session.get(User, principal.user_id, with_for_update=True)
    assert user is not None
    confirm_password(user, password)
    if not user.totp_enabled:
        raise AppError("Turn on two-factor sign-in first.", code="totp_not_enabled")
    codes = await _new_recovery_codes(session, user)
    sessions.log_security(session, "recovery_codes_regenerated", actor_id=user.id, target_user_id=user.id,
                          address=principal.address)
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
        session.add(RecoveryCode(user_id=user.id, lookup=tokens.recovery_lookup(clean),
                                 code_hash=tokens.hash_recovery_code(clean)))
    return codes


async def _retire_recovery_codes(session: AsyncSession, user: User) -> None:
    await session.execute(update(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                     RecoveryCode.used_at.is_(None)).values(used_at=utcnow()))


def _totp_off(user: User) -> None:
    user.totp_enabled = False
    user.totp_secret = None
    user.totp_last_step = None


async def disable_totp(session: AsyncSession, principal: Principal, password: str) -> None:
    """Turn one's own two-factor sign-in off (not while the role or the settings require it)."""
    user, role = (await session.execute(
        select(User, Role).join(Role, Role.id == User.role_id).where(User.id == principal.user_id)
        .with_for_update(of=User)
    )).one()
    confirm_password(user, password)
    if not user.totp_enabled:
        raise AppError("Two-factor sign-in is off already.", code="totp_not_enabled")
    if role.require_2fa or await settings.get(session, "security.require_2fa_for_all"):
        raise AppError("Your role requires two-factor sign-in, so it stays on.", code="totp_required")
    _totp_off(user)
    await _retire_recovery_codes(session, user)
    sessions.log_security(session, "totp_disabled", actor_id=user.id, target_user_id=user.id,
                          address=principal.address)


async def reset_totp(session: AsyncSession, actor: Principal, user_id: int) -> User:
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound("No such user.")
    _totp_off(user)
    await _retire_recovery_codes(session, user)
    sessions.log_security(session, "totp_reset", actor_id=actor.user_id, target_user_id=user.id)
    return user

