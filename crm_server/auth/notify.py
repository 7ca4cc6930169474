"""E-mails about a user's own account, sent by jobs after the change that asked for them commits:
the password reset code, the lock after failed sign-ins (with a code that lifts it), and a sign-in
from a new address or device.

A reset code is made inside the job, so the plain code never sits in the database or the job queue
(only its SHA-256 does, in password_reset_tokens). A forgot-password job gets the email as typed
and looks the account up itself: the request did the same work whether the email exists or not."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import mail
from crm_server.auth import tokens
from crm_server.auth.models import LoginHistory, PasswordResetToken, User
from crm_server.auth.sessions import log_security
from crm_server.db import Database, utcnow

log = logging.getLogger(__name__)

SEND_RESET_TASK = "auth.send_reset"
NOTIFY_TASK = "auth.notify"
RESET_VALID = timedelta(minutes=30)


async def _new_code(session: AsyncSession, user: User) -> str:
    token, now = tokens.new_token(), utcnow()
    session.add(
        PasswordResetToken(
            user_id=user.id, token_hash=tokens.digest(token), created_at=now, expires_at=now + RESET_VALID
        )
    )
    return token


def _code_lines(token: str) -> str:
    return (
        f'In the CRM sign-in window choose "Forgot password?" -> "I have a code" and enter this code '
        f"within 30 minutes:\n\n    {token}\n\n"
    )


async def _send(db: Database, session: AsyncSession, user: User, subject: str, body: str, kind: str) -> None:
    """Send inside the job's transaction: a failure rolls the new code back, is logged in a
    transaction of its own and raised again (the task retries)."""
    try:
        await mail.send(session, user.email, subject, body)
    except mail.MailError as exc:
        await session.rollback()
        async with db.transaction() as s:
            log_security(s, f"{kind}_mail_failed", target_user_id=user.id, error=exc.message[:500])
        log.warning("%s email to user %s failed: %s", kind, user.id, exc.message)
        raise


async def send_reset(db: Database, email: str, address: str | None, attempt_id: int | None) -> str:
    async with db.transaction() as session:
        user = await session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
        if attempt_id is not None and user is not None:
            row = await session.get(LoginHistory, attempt_id)
            if row is not None:
                row.user_id = user.id
        if user is None or not user.active:
            return "no active account"
        token = await _new_code(session, user)
        log_security(session, "password_reset_requested", target_user_id=user.id, address=address)
        body = (
            f"Hello {user.full_name},\n\nSomeone asked to reset your CRM password. {_code_lines(token)}"
            "If it was not you, ignore this email; your password stays as it is.\n"
        )
        await _send(db, session, user, "Reset your CRM password", body, "password_reset")
    return "sent"


async def send_notice(
    db: Database,
    kind: str,
    user_id: int,
    address: str | None,
    client: str | None,
    at: str | None,
    until: str | None = None,
) -> str:
    async with db.transaction() as session:
        user = await session.get(User, user_id)
        if user is None or not user.active:
            return "no active account"
        when = datetime.fromisoformat(at).strftime("%Y-%m-%d %H:%M UTC") if at else "just now"
        where = f"from the address {address or 'unknown'}" + (f" with {client}" if client else "")
        if kind == "locked":
            token = await _new_code(session, user)
            ends = datetime.fromisoformat(until).strftime("%Y-%m-%d %H:%M UTC") if until else "in a while"
            subject = "Your CRM account is locked after failed sign-ins"
            body = (
                f"Hello {user.full_name},\n\nThere were many failed sign-ins to your CRM account from several "
                f"addresses (the last {where}, {when}), so sign-in is locked until {ends}. It unlocks by itself "
                f"then.\n\nTo unlock it now, set a new password: {_code_lines(token)}"
                "If you did not try to sign in, someone else may know your email; setting a new password is "
                "a good idea. Your administrator sees these attempts in the security log.\n"
            )
        else:
            subject = "New sign-in to your CRM account"
            body = (
                f"Hello {user.full_name},\n\nYour CRM account was just signed in to {where}, {when}. We have not "
                "seen this address or device for you before.\n\nIf it was you, there is nothing to do. If it "
                'was not, change your password now (or choose "Forgot password?" in the sign-in window) and '
                "tell your administrator.\n"
            )
        await _send(db, session, user, subject, body, kind)
    return "sent"
