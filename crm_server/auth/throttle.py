"""Sign-in attempts and the limits drawn from them.

Attempts are written in short transactions of their own (`Database.transaction`), never in the
request's: an attempt is recorded (as "error") before its password is checked and given its result
after, so a request that fails on the way (a 500, a dropped connection) still leaves its attempt
logged and counted.

Limits never tell whether an email has an account: they key on the email as typed and the client
address, never on the account, so an unknown email is slowed down exactly like a real one.
- per (email, address): PAIR_FREE failures, then a delay that doubles with each further one;
- per address: ADDRESS_FREE failures an hour, then a doubling delay;
- per account: a lock only after ACCOUNT_FAILURES failures from ACCOUNT_ADDRESSES addresses or more
  within ACCOUNT_WINDOW (service.py), lasting LOCK_BASE, doubling up to LOCK_MAX, ended early by a
  password reset or an admin.
Only real failures count: a wrong password, a wrong 2FA code, a refusal of a locked account (it
answers like a wrong password, so it must slow down alike) and an attempt that did not finish. A
sign-in that stopped to ask for the 2FA code is not a failure."""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, exists, func, literal_column, select, update
from sqlalchemy.dialects.postgresql import array_agg
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crm_server import paging
from crm_server.auth.models import BlockedNetwork, LoginHistory
from crm_server.contract.auth import FailureGroup, LoginResult
from crm_server.contract.common import Page

PAIR_FREE = 5
PAIR_WINDOW = timedelta(hours=24)
PAIR_DELAY = timedelta(minutes=1)
PAIR_MAX_DELAY = timedelta(hours=1)
ADDRESS_FREE = 30
ADDRESS_WINDOW = timedelta(hours=1)
ADDRESS_DELAY = timedelta(seconds=30)
ADDRESS_MAX_DELAY = timedelta(minutes=15)
ACCOUNT_FAILURES = 20
ACCOUNT_ADDRESSES = 3
ACCOUNT_WINDOW = timedelta(hours=1)
LOCK_BASE = timedelta(hours=1)
LOCK_MAX = timedelta(hours=8)
RESET_WINDOW = timedelta(hours=1)
RESETS_PER_EMAIL = 3
RESETS_PER_ADDRESS = 20

# What slows down the next attempt from the same place (answered like a wrong password).
THROTTLED = (
    LoginResult.bad_credentials.value,
    LoginResult.bad_otp.value,
    LoginResult.locked.value,
    LoginResult.error.value,
)
# What counts towards locking an account: a wrong secret, or an attempt that did not finish.
ACCOUNT_FAILURES_RESULTS = (LoginResult.bad_credentials.value, LoginResult.bad_otp.value, LoginResult.error.value)
# Failed sign-ins an admin sees grouped by address.
GROUPED = (*THROTTLED, LoginResult.throttled.value, LoginResult.blocked.value)
CLEARS = (LoginResult.success.value, LoginResult.unlocked.value)
RESETS = (LoginResult.reset_requested.value, LoginResult.reset_limited.value)


def printable(value: str | None, limit: int) -> str:
    """What is stored of a typed value: NUL and other control characters become U+FFFD (PostgreSQL
    text cannot hold NUL; a log must not carry terminal escapes), cut to the column's size."""
    if not value:
        return ""
    return "".join("\ufffd" if unicodedata.category(c) == "Cc" else c for c in value)[:limit]


def record(
    session: AsyncSession,
    email: str,
    user_id: int | None,
    address: str | None,
    client: str | None,
    result: LoginResult,
    at: datetime,
) -> LoginHistory:
    row = LoginHistory(
        email=printable(email, 320),
        user_id=user_id,
        address=address,
        client=printable(client, 200) or None,
        result=result.value,
        at=at,
    )
    session.add(row)
    return row


async def finish(session: AsyncSession, attempt_id: int, result: LoginResult, user_id: int | None = None) -> None:
    values: dict[str, Any] = {"result": result.value}
    if user_id is not None:
        values["user_id"] = user_id
    await session.execute(update(LoginHistory).where(LoginHistory.id == attempt_id).values(**values))


def _delay(failures: int, free: int, base: timedelta, cap: timedelta) -> timedelta:
    if failures < free:
        return timedelta(0)
    return min(base * (1 << min(failures - free, 20)), cap)  # 2**n, as an int


def _email_key(email: str, table: Any = LoginHistory) -> Any:
    return func.lower(table.email) == printable(email, 320).lower()


async def wait_needed(session: AsyncSession, email: str, address: str | None, now: datetime) -> timedelta:
    """How long this (email, address) must wait before its next attempt; zero when it may go on."""
    if address is None:
        return timedelta(0)
    key = _email_key(email)
    past = aliased(LoginHistory)
    cleared = (
        select(func.max(past.at))
        .where(
            _email_key(email, past),
            past.result.in_(CLEARS),
            (past.address == address) | (past.result == LoginResult.unlocked.value),
        )
        .scalar_subquery()
    )
    pair = (
        await session.execute(
            select(func.count(), func.max(LoginHistory.at)).where(
                key,
                LoginHistory.address == address,
                LoginHistory.result.in_(THROTTLED),
                LoginHistory.at > func.greatest(now - PAIR_WINDOW, func.coalesce(cleared, now - PAIR_WINDOW)),
            )
        )
    ).one()
    by_address = (
        await session.execute(
            select(func.count(), func.max(LoginHistory.at)).where(
                LoginHistory.address == address,
                LoginHistory.result.in_(THROTTLED),
                LoginHistory.at > now - ADDRESS_WINDOW,
            )
        )
    ).one()
    until = now
    # Only a delay earned by failures past the free ones: the newest row may be an attempt still in
    # flight, stamped a moment after this one's `now` (an office behind one address signing in at
    # once, on several processes); waiting "until it" refused sign-ins that had no failure at all.
    if pair[0] and (delay := _delay(pair[0], PAIR_FREE, PAIR_DELAY, PAIR_MAX_DELAY)):
        until = max(until, pair[1] + delay)
    if by_address[0] and (delay := _delay(by_address[0], ADDRESS_FREE, ADDRESS_DELAY, ADDRESS_MAX_DELAY)):
        until = max(until, by_address[1] + delay)
    return until - now


def retry_after(wait: timedelta) -> str:
    return str(max(1, math.ceil(wait.total_seconds())))


@dataclass
class AccountFailures:
    failures: int
    addresses: int


async def account_failures(session: AsyncSession, email: str, now: datetime) -> AccountFailures:
    """Failures for this email (from any address) since the window began or it last signed in or
    was unlocked. Asked for every failed attempt, known email or not: the same work either way."""
    key = _email_key(email)
    past = aliased(LoginHistory)
    cleared = select(func.max(past.at)).where(_email_key(email, past), past.result.in_(CLEARS)).scalar_subquery()
    start = now - ACCOUNT_WINDOW
    row = (
        await session.execute(
            select(func.count(), func.count(LoginHistory.address.distinct())).where(
                key,
                LoginHistory.result.in_(ACCOUNT_FAILURES_RESULTS),
                LoginHistory.at > func.greatest(start, func.coalesce(cleared, start)),
            )
        )
    ).one()
    return AccountFailures(int(row[0]), int(row[1]))


def lock_length(lockout_count: int) -> timedelta:
    return min(LOCK_BASE * (1 << min(max(lockout_count, 0), 10)), LOCK_MAX)  # 2**n, as an int


async def resets_asked(session: AsyncSession, email: str, address: str | None, now: datetime) -> tuple[int, int]:
    """Forgot-password requests in the last RESET_WINDOW: (sent for this email, asked from this address)."""
    since = now - RESET_WINDOW
    per_email = await session.scalar(
        select(func.count())
        .select_from(LoginHistory)
        .where(_email_key(email), LoginHistory.result == LoginResult.reset_requested.value, LoginHistory.at > since)
    )
    per_address = 0
    if address is not None:
        per_address = (
            await session.scalar(
                select(func.count())
                .select_from(LoginHistory)
                .where(LoginHistory.address == address, LoginHistory.result.in_(RESETS), LoginHistory.at > since)
            )
            or 0
        )
    return int(per_email or 0), int(per_address)


# --- what admins read --------------------------------------------------------------------------


async def failure_groups(
    session: AsyncSession,
    since: datetime,
    until: datetime | None,
    min_count: int,
    offset: int,
    limit: int,
    after: str | None = None,
) -> Page[FailureGroup]:
    """Failed sign-ins by address in a period: how many, first and last, which emails, whether the
    address is blocked now. The most active address first."""
    conditions = [LoginHistory.result.in_(GROUPED), LoginHistory.at >= since]
    if until is not None:
        conditions.append(LoginHistory.at < until)
    count = func.count().label("n")
    last = func.max(LoginHistory.at).label("last_at")
    blocked = exists().where(BlockedNetwork.lifted_at.is_(None), BlockedNetwork.network.op(">>=")(LoginHistory.address))
    stmt: Select[Any] = (
        select(
            LoginHistory.address,
            count,
            func.min(LoginHistory.at).label("first_at"),
            last,
            array_agg(func.lower(LoginHistory.email).distinct()).label("emails"),
            func.count(func.lower(LoginHistory.email).distinct()).label("email_count"),
            array_agg(LoginHistory.user_id.distinct()).filter(LoginHistory.user_id.is_not(None)).label("users"),
            blocked.label("blocked"),
        )
        .where(and_(*conditions))
        .group_by(LoginHistory.address)
        .having(func.count() >= min_count)
    )

    def convert(r: Any) -> FailureGroup:
        return FailureGroup(
            address=str(r.address) if r.address is not None else None,
            count=r.n,
            first_at=r.first_at,
            last_at=r.last_at,
            emails=list(r.emails or [])[:10],
            email_count=r.email_count,
            user_ids=[u for u in (r.users or []) if u is not None],
            blocked=bool(r.blocked),
        )

    return await paging.page(
        session,
        stmt,
        offset,
        limit,
        convert,
        (literal_column("n").desc(), literal_column("last_at").desc()),
        whole_rows=True,
        after=after,
        by_key=False,  # ties of count and time: no row's own key, pages by offset (`after` refused)
    )
