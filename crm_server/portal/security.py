"""The portal's door: its cookie session (never a staff session), CSRF tokens, the response headers
every page carries, and the route class that runs each page in one transaction.

The cookie holds an opaque token (only its SHA-256 is stored, in partner_sessions); it is HttpOnly,
SameSite=Strict, limited to /portal and Secure when the request came over TLS (the trusted proxy's
X-Forwarded-Proto, which uvicorn applies, or an https app.public_url). A staff bearer token opens
nothing here and the portal cookie opens nothing under /api: the two live in different tables.
Idle and absolute timeouts are the staff ones (security.session_idle_minutes, 12 hours)."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import input_guard
from crm_server.admin import settings
from crm_server.auth import sessions as staff_sessions
from crm_server.auth import tokens
from crm_server.db import Database, utcnow
from crm_server.errors import AppError
from crm_server.partners.models import Partner, PartnerSession, PartnerUser

COOKIE = "crm_portal"
PRE_COOKIE = "crm_portal_pre"  # before sign-in: the double-submit CSRF value of the sign-in forms
PATH = "/portal"
MAX_AGE = staff_sessions.MAX_AGE
SECOND_STEP = timedelta(minutes=5)  # how long a sign-in waits for its 2FA code
TOUCH_EVERY = timedelta(seconds=30)
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class SignInNeeded(AppError):
    """The page needs a signed-in partner user: the route sends the browser to the sign-in page."""

    status = 401
    code = "not_signed_in"
    keep_changes = True  # an ended session's end is kept

    def __init__(self) -> None:
        super().__init__("Sign in first.")


class SecondStepNeeded(AppError):
    """Signed in with the password; the 2FA code is still owed."""

    status = 401
    code = "otp_required"

    def __init__(self) -> None:
        super().__init__("Enter the code from your authenticator app.")


class CsrfRefused(AppError):
    status = 403
    code = "csrf_refused"


@dataclass
class Visitor:
    """A signed-in partner user, as the pages see them."""

    session_id: int
    csrf: str
    user: PartnerUser
    partner: Partner
    verified: bool


async def is_tls(session: AsyncSession, request: Request) -> bool:
    if request.url.scheme == "https":
        return True
    return str(await settings.get(session, "app.public_url") or "").lower().startswith("https://")


def set_cookie(response: Response, name: str, value: str, secure: bool, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path=PATH, secure=secure, httponly=True, samesite="strict")


def forget_cookie(response: Response, secure: bool) -> None:
    response.delete_cookie(COOKIE, path=PATH, secure=secure, httponly=True, samesite="strict")


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode(), str(b).encode())


def pre_token(request: Request) -> str:
    """The sign-in forms' CSRF value: the one in the browser's cookie, or a new one to set."""
    value = request.cookies.get(PRE_COOKIE, "")
    return value if 20 <= len(value) <= 100 and value.isascii() else secrets.token_urlsafe(24)


def check_pre_token(request: Request, form: dict[str, str]) -> None:
    if not same(request.cookies.get(PRE_COOKIE), form.get("csrf")):
        raise CsrfRefused("This form has expired; reload the page and try again.", field="csrf")


def check_csrf(visitor: Visitor, form: dict[str, str]) -> None:
    if not same(visitor.csrf, form.get("csrf")):
        raise CsrfRefused("This form has expired; reload the page and try again.", field="csrf")


async def start(
    session: AsyncSession, user: PartnerUser, address: str | None, *, verified: bool
) -> tuple[str, PartnerSession]:
    token, now = tokens.new_token(), utcnow()
    row = PartnerSession(
        partner_user_id=user.id,
        token_hash=tokens.digest(token),
        csrf_token=secrets.token_urlsafe(32),
        verified=verified,
        created_at=now,
        last_seen_at=now,
        expires_at=now + (MAX_AGE if verified else SECOND_STEP),
        address=address,
    )
    session.add(row)
    await session.flush()
    return token, row


async def visitor(session: AsyncSession, request: Request, *, second_step: bool = False) -> Visitor:
    """The signed-in partner user, or SignInNeeded. A session still owing its 2FA code is accepted
    only where `second_step` (the code page and sign-out)."""
    token = request.cookies.get(COOKIE, "")
    if not token or len(token) > 200:
        raise SignInNeeded
    row = (
        await session.execute(
            select(PartnerSession, PartnerUser, Partner)
            .join(PartnerUser, PartnerUser.id == PartnerSession.partner_user_id)
            .join(Partner, Partner.id == PartnerUser.partner_id)
            .where(PartnerSession.token_hash == tokens.digest(token))
        )
    ).first()
    if row is None:
        raise SignInNeeded
    auth, user, partner = row
    now = utcnow()
    if auth.ended_at is not None:
        raise SignInNeeded
    idle = timedelta(minutes=int(await settings.get(session, "security.session_idle_minutes")))
    reason = None
    if now >= auth.expires_at:
        reason = "expired"
    elif now - auth.last_seen_at > idle:
        reason = "idle"
    elif not user.active or not partner.active:
        reason = "deactivated"
    if reason:
        auth.ended_at, auth.end_reason = now, reason
        raise SignInNeeded
    if not auth.verified and not second_step:
        raise SecondStepNeeded
    if now - auth.last_seen_at > TOUCH_EVERY:
        auth.last_seen_at = now
    return Visitor(auth.id, auth.csrf_token, user, partner, auth.verified)


async def end(session: AsyncSession, session_id: int, reason: str) -> None:
    await session.execute(
        update(PartnerSession)
        .where(PartnerSession.id == session_id, PartnerSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
    )


async def end_previous(session: AsyncSession, request: Request) -> None:
    """A new sign-in ends the session this browser had (its cookie is replaced anyway)."""
    token = request.cookies.get(COOKIE, "")
    if token and len(token) <= 200:
        await session.execute(
            update(PartnerSession)
            .where(PartnerSession.token_hash == tokens.digest(token), PartnerSession.ended_at.is_(None))
            .values(ended_at=utcnow(), end_reason="signed_in_again")
        )


class PortalRoute(APIRoute):
    """Each page in one transaction (like routing.TxRoute), its input through input_guard, and the
    security headers on every answer, errors included."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            from crm_server.portal import pages  # the error page is rendered there

            try:
                await input_guard.check_request(request, self.path_format)
                db: Database = request.app.state.db
                async with db.transaction() as session:
                    request.state.session = session
                    response = await handler(request)
            except AppError as exc:
                response = pages.error_page(request, exc)
            response.headers.update(HEADERS)
            return response

        return run
