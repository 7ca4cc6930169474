"""Typed calls of the bell (crm_server.contract.admin) and of one's notification preferences
(crm_server.contract.activities): what each user is told about, and what they have read."""

from __future__ import annotations

from crm_desktop.api.client import ApiClient
from crm_server.contract.activities import NotificationPreference, NotificationPreferencesIn
from crm_server.contract.admin import MarkRead, NotificationOut, UnreadCount
from crm_server.contract.common import Ok, Page

# What marking read announces (the bell and its list refresh).
CHANGED = frozenset({"notifications"})
# What changing one's preferences announces.
PREFERENCES_CHANGED = frozenset({"me.notification_preferences"})


async def list_notifications(
    api: ApiClient, unread: bool = False, offset: int = 0, limit: int = 50
) -> Page[NotificationOut]:
    answer = await api.get("/api/notifications", unread=unread or None, offset=offset, limit=limit)
    return Page[NotificationOut].model_validate(answer)


async def unread_count(api: ApiClient) -> UnreadCount:
    return UnreadCount.model_validate(await api.get("/api/notifications/unread-count"))


async def mark_read(api: ApiClient, body: MarkRead) -> Ok:
    """`MarkRead(ids=None)` marks them all."""
    return Ok.model_validate(await api.post("/api/notifications/read", body.model_dump(mode="json")))


async def preferences(api: ApiClient) -> list[NotificationPreference]:
    return [NotificationPreference.model_validate(p) for p in await api.get("/api/me/notification-preferences")]


async def set_preferences(api: ApiClient, body: NotificationPreferencesIn) -> list[NotificationPreference]:
    """Kinds not named keep their setting; answers every kind as it now is."""
    answer = await api.put("/api/me/notification-preferences", body.model_dump(mode="json"))
    return [NotificationPreference.model_validate(p) for p in answer]
