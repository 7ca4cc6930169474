"""Session tokens: issued at login, checked on every request, ended by logout, idle time,
12 hours of age, deactivation or a password change."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Any

from sqlalchemy import String, bindparam, cast, exists, select, update
from sqlalchemy.dialects.postgresql import CIDR, INET
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin import settings
from crm_server.auth import tokens
from crm_server.auth.models import AuthSession, BlockedNetwork, Role, SecurityEvent, User
from crm_server.auth.permissions import Principal
from crm_server.db import rowcount, utcnow
from crm_server.errors import Forbidden, Unauthorized

MAX_AGE = timedelta(hours=12)
TOUCH_EVERY = timedelta(seconds=30)


class Denied(Forbidden):
    keep_changes = True  # the denial is logged even though the request fails


class SessionEnded(Unauthorized):
    code = "session_expired"
    keep_changes = True


def log_security(
    session: AsyncSession,
    kind: str,
    *,
    actor_id: int | None = None,
    target_user_id: int | None = None,
    address: str | None = None,
    **detail: Any,
) -> None:
    session.add(
        SecurityEvent(kind=kind, actor_id=actor_id, target_user_id=target_user_id, address=address, detail=detail)
    )


async def start(session: AsyncSession, user: User, address: str | None, client: str | None) -> tuple[str, AuthSession]:
    token = tokens.new_token()
    now = utcnow()
    row = AuthSession(
        user_id=user.id,
        token_hash=tokens.digest(token),
        created_at=now,
        last_seen_at=now,
        expires_at=now + MAX_AGE,
        address=address,
        client=client,
    )
    session.add(row)
    await session.flush()
    return token, row


# Built once (every request runs it); it brings the settings along, which the request reads anyway.
# Whether the request's address is in a blocked network, asked in the same round trip: a session
# started elsewhere ends the moment it is used from a blocked network.
_FROM_BLOCKED = exists().where(
    BlockedNetwork.lifted_at.is_(None),
    BlockedNetwork.network.op(">>=")(cast(bindparam("address", type_=String), INET)),
)
_SIGNED_IN = (
    select(AuthSession, User, Role, settings.ALL, _FROM_BLOCKED)
    .join(User, User.id == AuthSession.user_id)
    .join(Role, Role.id == User.role_id)
    .where(AuthSession.token_hash == bindparam("token_hash"))
)


def _ip(address: str | None) -> str | None:
    """The address if it is an IP (behind some proxies it is a socket path): only an IP is compared."""
    try:
        return str(ipaddress.ip_address(address or ""))
    except ValueError:
        return None


async def authenticate(session: AsyncSession, token: str, address: str | None) -> Principal:
    row = (await session.execute(_SIGNED_IN, {"token_hash": tokens.digest(token), "address": _ip(address)})).first()
    if row is None:
        raise Unauthorized("Your session is not valid; sign in again.", code="session_invalid")
    auth, user, role, stored, blocked = row
    settings.prime(session, stored)
    # Held for the request: the session keeps only rows someone holds, and saves look the signed-in
    # user up again (as owner, creator): then from memory instead of another query.
    session.info["signed_in"] = (auth, user, role)
    now = utcnow()
    if auth.ended_at is not None:
        raise Unauthorized("Your session has ended; sign in again.", code="session_expired")
    idle = timedelta(minutes=await settings.get(session, "security.session_idle_minutes"))
    reason = None
    if now >= auth.expires_at:
        reason = "expired"
    elif now - auth.last_seen_at > idle:
        reason = "idle"
    elif not user.active:
        reason = "deactivated"
    elif blocked:
        reason = "address_blocked"
    if reason:
        auth.ended_at, auth.end_reason = now, reason
        raise SessionEnded("Your session has ended; sign in again.")
    if now - auth.last_seen_at > TOUCH_EVERY:
        auth.last_seen_at = now
    pending = None
    if user.must_change_password:
        pending = PASSWORD_CHANGE
    elif not user.totp_enabled and (role.require_2fa or await settings.get(session, "security.require_2fa_for_all")):
        pending = TOTP_SETUP
    return Principal(
        user_id=user.id,
        team_id=user.team_id,
        role_id=role.id,
        permissions=role.permissions,
        session_id=auth.id,
        address=address,
        pending=pending,
    )


async def end(session: AsyncSession, session_id: int, reason: str) -> None:
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
    )


async def end_in_network(session: AsyncSession, network: str) -> int:
    """End the open sessions started from inside `network` (it was just blocked)."""
    result = await session.execute(
        update(AuthSession)
        .where(AuthSession.ended_at.is_(None), AuthSession.address.op("<<=")(cast(network, CIDR)))
        .values(ended_at=utcnow(), end_reason="address_blocked")
    )
    return rowcount(result)


async def end_all(session: AsyncSession, user_id: int, reason: str, keep: int | None = None) -> None:
    stmt = update(AuthSession).where(AuthSession.user_id == user_id, AuthSession.ended_at.is_(None))
    if keep is not None:
        stmt = stmt.where(AuthSession.id != keep)
    await session.execute(stmt.values(ended_at=utcnow(), end_reason=reason))


# A sign-in is pending while the user must change a temporary password or set up 2FA their role
# requires: the session may then only finish it (routes that say so with routing.signed_in(...)).
PASSWORD_CHANGE = "password_change_required"
TOTP_SETUP = "totp_setup_required"
PENDING_MESSAGES = {
    PASSWORD_CHANGE: "Change your temporary password first.",
    TOTP_SETUP: "Your role requires two-factor sign-in: set it up first.",
}


class SignInPending(Forbidden):
    code = "sign_in_pending"


def ensure_not_pending(principal: Principal, allowed: frozenset[str] = frozenset()) -> None:
    """The one gate for a pending password change or 2FA set-up, called where a request's (or the
    live stream's) session is authenticated; `allowed`: the pending steps this route finishes."""
    if principal.pending is None or principal.pending in allowed:
        return
    raise SignInPending(PENDING_MESSAGES.get(principal.pending, "Finish signing in first."), code=principal.pending)


async def ensure_allowed(session: AsyncSession, principal: Principal, module: str, action: str, where: str) -> None:
    ensure_not_pending(principal)  # routing.current_principal refused it already
    if principal.can(module, action):
        return
    log_security(
        session,
        "permission_denied",
        actor_id=principal.user_id,
        address=principal.address,
        module=module,
        action=action,
        path=where,
    )
    raise Denied(
        f"You need the '{action}' permission on '{module}' for this.",
        code="permission_denied",
        extra={"permission": f"{module}.{action}"},
    )
