"""Which notifications a user wants. Every notification of the leads, clients and activities areas
goes through `notify` here, so switching a kind off in the preferences takes effect everywhere."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.activities.models import NotificationPreference
from crm_server.admin import service as admin_service
from crm_server.contract.activities import NOTIFICATION_KINDS
from crm_server.contract.activities import NotificationPreference as PreferenceOut
from crm_server.db import utcnow
from crm_server.errors import ValidationFailed


async def switched_off(session: AsyncSession, user_ids: set[int], kind: str) -> set[int]:
    """Those of `user_ids` who turned `kind` off (one query for a batch of reminders)."""
    if not user_ids:
        return set()
    rows = await session.scalars(
        select(NotificationPreference.user_id).where(
            NotificationPreference.user_id.in_(user_ids),
            NotificationPreference.kind == kind,
            NotificationPreference.enabled.is_(False),
        )
    )
    return set(rows)


async def notify(
    session: AsyncSession,
    user_id: int,
    kind: str,
    title: str,
    body: str = "",
    entity: str | None = None,
    entity_id: int | None = None,
) -> bool:
    """Tell the user, unless they switched this kind off. Returns whether it was sent."""
    if await switched_off(session, {user_id}, kind):
        return False
    admin_service.notify(session, user_id, kind, title[:300], body[:2000], entity, entity_id)
    return True


async def preferences(session: AsyncSession, user_id: int) -> list[PreferenceOut]:
    stored = dict(
        (
            await session.execute(
                select(NotificationPreference.kind, NotificationPreference.enabled).where(
                    NotificationPreference.user_id == user_id
                )
            )
        ).all()
    )
    return [
        PreferenceOut(kind=kind, label=label, enabled=stored.get(kind, True))
        for kind, label in NOTIFICATION_KINDS.items()
    ]


async def set_preferences(session: AsyncSession, user_id: int, enabled: dict[str, bool]) -> list[PreferenceOut]:
    for kind, on in enabled.items():
        if kind not in NOTIFICATION_KINDS:
            raise ValidationFailed(f"Unknown kind of notification {kind!r}.", field=f"enabled.{kind}")
        stmt = insert(NotificationPreference).values(user_id=user_id, kind=kind, enabled=on, updated_at=utcnow())
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[NotificationPreference.user_id, NotificationPreference.kind],
                set_={"enabled": on, "updated_at": utcnow()},
            )
        )
    return await preferences(session, user_id)
