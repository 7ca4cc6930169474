"""Admin rules: settings changes (audited), the audit log as admins read and export it, the bell."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events, mail, paging
from crm_server.admin import audit, record_labels, settings
from crm_server.admin.models import AuditEntry, Notification
from crm_server.auth.models import User
from crm_server.auth.permissions import Principal
from crm_server.contract import spreadsheet
from crm_server.contract.admin import AuditEntryOut, NotificationOut, SettingsOut
from crm_server.contract.common import Page
from crm_server.db import rowcount, utcnow
from crm_server.errors import NotFound


async def read_settings(session: AsyncSession) -> SettingsOut:
    values = settings.public_view(await settings.get_all(session))
    return SettingsOut(
        values=values,
        labels={k: d.label for k, d in settings.DEFINITIONS.items()},
        secrets=[k for k, d in settings.DEFINITIONS.items() if d.secret],
    )


async def change_settings(session: AsyncSession, actor: Principal, values: dict[str, Any]) -> SettingsOut:
    changes = []
    for key, value in values.items():
        old, new = await settings.put(session, key, value, actor.user_id)
        changes.extend(audit.diff({key: old}, {key: new}))
    if changes:
        audit.record(session, actor_id=actor.user_id, entity="settings", entity_id=0, action="updated", changes=changes)
        events.emit(
            session,
            module="admin",
            entity="settings",
            entity_id=0,
            action="updated",
            actor_id=actor.user_id,
            data={"keys": sorted(values)},
        )
    return await read_settings(session)


async def send_test_email(session: AsyncSession, to: str) -> None:
    await mail.send(
        session, to, "CRM test email", "This is a test email from your CRM. If you can read it, outgoing email works."
    )


def _audit_query(
    actor_id: int | None, entity: str | None, entity_id: int | None, since: datetime | None, until: datetime | None
) -> Select[AuditEntry]:
    stmt = select(AuditEntry)
    if actor_id is not None:
        stmt = stmt.where(AuditEntry.actor_id == actor_id)
    if entity:
        stmt = stmt.where(AuditEntry.entity == entity)
    if entity_id is not None:
        stmt = stmt.where(AuditEntry.entity_id == entity_id)
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    if until:
        stmt = stmt.where(AuditEntry.at < until)
    return stmt


async def audit_log(
    session: AsyncSession,
    actor_id: int | None,
    entity: str | None,
    entity_id: int | None,
    since: datetime | None,
    until: datetime | None,
    offset: int,
    limit: int,
    after: str | None = None,
) -> Page[AuditEntryOut]:
    page = await paging.page(
        session,
        _audit_query(actor_id, entity, entity_id, since, until),
        offset,
        limit,
        AuditEntryOut.model_validate,
        (AuditEntry.at.desc(), AuditEntry.id.desc()),
        after=after,
    )
    names = await record_labels.labels(session, (entry.id for entry in page.items))  # one query for the page
    for entry in page.items:
        entry.label = names.get(entry.id)
    return page


async def audit_csv(
    session: AsyncSession,
    actor_id: int | None,
    entity: str | None,
    entity_id: int | None,
    since: datetime | None,
    until: datetime | None,
) -> AsyncIterator[str]:
    """The filtered audit log as CSV, one row per changed field, streamed in chunks; who acted and
    the record's name in words beside their ids (a name is read per thousand entries)."""
    stmt = _audit_query(actor_id, entity, entity_id, since, until).order_by(AuditEntry.at, AuditEntry.id)
    people = {uid: name for uid, name in (await session.execute(select(User.id, User.full_name))).all()}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "at", "actor_id", "actor", "entity", "entity_id", "record", "action", "field", "old", "new"])
    result = await session.stream_scalars(stmt.execution_options(yield_per=1000))
    async for part in result.partitions(1000):
        names = await record_labels.labels(session, (entry.id for entry in part))
        for entry in part:
            base = [
                entry.id,
                entry.at.isoformat(),
                entry.actor_id or "",
                people.get(entry.actor_id, "") if entry.actor_id else "",
                entry.entity,
                entry.entity_id,
                names.get(entry.id, ""),
                entry.action,
            ]
            for change in entry.changes or [{"field": "", "old": "", "new": ""}]:
                writer.writerow(
                    spreadsheet.csv_row(
                        [*base, change.get("field", ""), _cell(change.get("old")), _cell(change.get("new"))]
                    )
                )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


# --- notifications -------------------------------------------------------------------------------


def notify(
    session: AsyncSession,
    user_id: int,
    kind: str,
    title: str,
    body: str = "",
    entity: str | None = None,
    entity_id: int | None = None,
) -> None:
    """Tell one user something; their bell updates live."""
    session.add(Notification(user_id=user_id, kind=kind, title=title, body=body, entity=entity, entity_id=entity_id))
    events.emit(
        session,
        module="notifications",
        entity="notification",
        entity_id=0,
        action="created",
        user_id=user_id,
        data={"kind": kind, "title": title},
    )


async def notifications(
    session: AsyncSession, user_id: int, unread_only: bool, offset: int, limit: int
) -> Page[NotificationOut]:
    stmt = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return await paging.page(
        session,
        stmt,
        offset,
        limit,
        NotificationOut.model_validate,
        (Notification.created_at.desc(), Notification.id.desc()),
    )


async def unread_count(session: AsyncSession, user_id: int) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )
    return int(count or 0)


async def mark_read(session: AsyncSession, user_id: int, ids: list[int] | None) -> None:
    stmt = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if ids is not None:
        if not ids:
            return
        stmt = stmt.where(Notification.id.in_(ids))
    result = await session.execute(stmt.values(read_at=utcnow()))
    if ids is not None and len(ids) == 1 and rowcount(result) == 0:
        exists = await session.scalar(
            select(Notification.id).where(Notification.id == ids[0], Notification.user_id == user_id)
        )
        if not exists:
            raise NotFound("No such notification.")
    events.emit(session, module="notifications", entity="notification", entity_id=0, action="read", user_id=user_id)
