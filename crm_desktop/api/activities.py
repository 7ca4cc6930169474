"""Typed calls for follow-ups (my day, the calendar, scheduling and completing them); the wire
models come from crm_server.contract.activities. Due times arrive parsed (aware datetimes).

    page = await activities.list_follow_ups(api, lead_id=5, status=FollowUpStatus.open)
    operations.run(self, activities.complete(api, 7, CompleteFollowUp(...)), changed=activities.CHANGED)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, TypeAdapter

from crm_desktop.api.client import ApiClient
from crm_server.contract.activities import (
    CancelFollowUp,
    CompleteFollowUp,
    CompleteResult,
    FollowUpIn,
    FollowUpOut,
    FollowUpStatus,
    FollowUpUpdate,
    MyDay,
    RescheduleFollowUp,
)
from crm_server.contract.common import Page

# What a change to a follow-up announces on the change bus (operations.run(..., changed=CHANGED)).
CHANGED = frozenset({"activities", "activities.follow_up"})

_PAGE = TypeAdapter(Page[FollowUpOut])
_LIST = TypeAdapter(list[FollowUpOut])


def _body(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_unset=True, warnings=False)


async def list_follow_ups(
    api: ApiClient,
    *,
    lead_id: int | None = None,
    client_id: int | None = None,
    owner_id: int | None = None,
    status: FollowUpStatus | None = None,
    offset: int = 0,
    limit: int = 100,
) -> Page[FollowUpOut]:
    answer = await api.get(
        "/api/follow-ups",
        lead_id=lead_id,
        client_id=client_id,
        owner_id=owner_id,
        status=status.value if status is not None else None,
        offset=offset,
        limit=limit,
    )
    return _PAGE.validate_python(answer)


async def create_follow_up(api: ApiClient, follow_up: FollowUpIn) -> FollowUpOut:
    return FollowUpOut.model_validate(await api.post("/api/follow-ups", _body(follow_up)))


async def my_day(api: ApiClient, time_zone: str, owner_id: int | None = None) -> MyDay:
    """The caller's day (or ``owner_id``'s, as far as the caller's scope reaches) in ``time_zone``."""
    return MyDay.model_validate(await api.get("/api/follow-ups/my-day", tz=time_zone, owner_id=owner_id))


async def calendar(api: ApiClient, start: datetime, end: datetime, owner_id: int | None = None) -> list[FollowUpOut]:
    start_at, end_at = start.astimezone(UTC).isoformat(), end.astimezone(UTC).isoformat()
    answer = await api.get("/api/follow-ups/calendar", start=start_at, end=end_at, owner_id=owner_id)
    return _LIST.validate_python(answer)


async def get_follow_up(api: ApiClient, follow_up_id: int) -> FollowUpOut:
    return FollowUpOut.model_validate(await api.get(f"/api/follow-ups/{follow_up_id}"))


async def update_follow_up(api: ApiClient, follow_up_id: int, changes: FollowUpUpdate) -> FollowUpOut:
    return FollowUpOut.model_validate(await api.patch(f"/api/follow-ups/{follow_up_id}", _body(changes)))


async def complete(api: ApiClient, follow_up_id: int, body: CompleteFollowUp) -> CompleteResult:
    return CompleteResult.model_validate(await api.post(f"/api/follow-ups/{follow_up_id}/complete", _body(body)))


async def reschedule(api: ApiClient, follow_up_id: int, body: RescheduleFollowUp) -> FollowUpOut:
    return FollowUpOut.model_validate(await api.post(f"/api/follow-ups/{follow_up_id}/reschedule", _body(body)))


async def cancel(api: ApiClient, follow_up_id: int, body: CancelFollowUp) -> FollowUpOut:
    return FollowUpOut.model_validate(await api.post(f"/api/follow-ups/{follow_up_id}/cancel", _body(body)))
