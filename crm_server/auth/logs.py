"""The login history and the security log, as admins read them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import paging
from crm_server.auth.models import LoginHistory, SecurityEvent
from crm_server.contract.auth import LoginRecord, SecurityEventOut
from crm_server.contract.common import Page


def _login_record(r: LoginHistory) -> LoginRecord:
    return LoginRecord(
        id=r.id,
        at=r.at,
        user_id=r.user_id,
        email=r.email,
        address=str(r.address) if r.address else None,
        client=r.client,
        result=r.result,
    )


def _security_event(r: SecurityEvent) -> SecurityEventOut:
    return SecurityEventOut(
        id=r.id,
        at=r.at,
        kind=r.kind,
        actor_id=r.actor_id,
        target_user_id=r.target_user_id,
        address=str(r.address) if r.address else None,
        detail=r.detail,
    )


async def login_history(
    session: AsyncSession,
    user_id: int | None,
    result: str | None,
    since: datetime | None,
    until: datetime | None,
    offset: int,
    limit: int,
    after: str | None = None,
) -> Page[LoginRecord]:
    stmt = select(LoginHistory)
    if user_id is not None:
        stmt = stmt.where(LoginHistory.user_id == user_id)
    if result:
        stmt = stmt.where(LoginHistory.result == result)
    if since:
        stmt = stmt.where(LoginHistory.at >= since)
    if until:
        stmt = stmt.where(LoginHistory.at < until)
    return await paging.page(
        session, stmt, offset, limit, _login_record, (LoginHistory.at.desc(), LoginHistory.id.desc()), after=after
    )


async def security_log(
    session: AsyncSession,
    kind: str | None,
    user_id: int | None,
    since: datetime | None,
    until: datetime | None,
    offset: int,
    limit: int,
    after: str | None = None,
) -> Page[SecurityEventOut]:
    stmt = select(SecurityEvent)
    if kind:
        stmt = stmt.where(SecurityEvent.kind == kind)
    if user_id is not None:
        stmt = stmt.where((SecurityEvent.actor_id == user_id) | (SecurityEvent.target_user_id == user_id))
    if since:
        stmt = stmt.where(SecurityEvent.at >= since)
    if until:
        stmt = stmt.where(SecurityEvent.at < until)
    return await paging.page(
        session,
        stmt,
        offset,
        limit,
        _security_event,
        (SecurityEvent.at.desc(), SecurityEvent.id.desc()),
        after=after,
    )
