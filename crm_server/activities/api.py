"""HTTP routes of the activities area: follow-ups (my day, calendar, complete, reschedule) and one's
notification preferences. Notes and timelines are under their lead or client."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from crm_server.activities import preferences, service
from crm_server.auth.permissions import Principal
from crm_server.contract.activities import (
    CancelFollowUp,
    CompleteFollowUp,
    CompleteResult,
    FollowUpIn,
    FollowUpOut,
    FollowUpStatus,
    FollowUpUpdate,
    MyDay,
    NotificationPreference,
    NotificationPreferencesIn,
    RescheduleFollowUp,
)
from crm_server.contract.common import Page
from crm_server.routing import CurrentUser, Session, TxRoute, require

router = APIRouter(prefix="/api", route_class=TxRoute, tags=["activities"])
Offset = Annotated[int, Query(ge=0)]
Limit = Annotated[int, Query(ge=1, le=500)]


@router.get("/follow-ups", response_model=Page[FollowUpOut])
async def list_follow_ups(
    session: Session,
    lead_id: int | None = None,
    client_id: int | None = None,
    owner_id: int | None = None,
    status: FollowUpStatus | None = None,
    offset: Offset = 0,
    limit: Limit = 100,
    principal: Principal = require("activities", "view"),
) -> Page[FollowUpOut]:
    return await service.list_follow_ups(
        session,
        principal,
        lead_id=lead_id,
        client_id=client_id,
        owner_id=owner_id,
        status=status.value if status else None,
        offset=offset,
        limit=limit,
    )


@router.post("/follow-ups", response_model=FollowUpOut, status_code=201)
async def create_follow_up(
    body: FollowUpIn, session: Session, actor: Principal = require("activities", "create")
) -> FollowUpOut:
    return await service.create_follow_up(session, actor, body)


@router.get("/follow-ups/my-day", response_model=MyDay)
async def my_day(
    session: Session,
    tz: Annotated[str, Query(max_length=64, description="IANA zone of the caller")],
    owner_id: Annotated[int | None, Query(description="whose day (default: the caller's); scope applies")] = None,
    principal: Principal = require("activities", "view"),
) -> MyDay:
    return await service.my_day(session, principal, tz, owner_id)


@router.get("/follow-ups/calendar", response_model=list[FollowUpOut])
async def calendar(
    session: Session,
    start: AwareDatetime,
    end: AwareDatetime,
    owner_id: int | None = None,
    principal: Principal = require("activities", "view"),
) -> list[FollowUpOut]:
    return await service.calendar(session, principal, start, end, owner_id)


@router.get("/follow-ups/{follow_up_id}", response_model=FollowUpOut)
async def get_follow_up(
    follow_up_id: int, session: Session, principal: Principal = require("activities", "view")
) -> FollowUpOut:
    return await service.get_follow_up(session, principal, follow_up_id)


@router.patch("/follow-ups/{follow_up_id}", response_model=FollowUpOut)
async def update_follow_up(
    follow_up_id: int, body: FollowUpUpdate, session: Session, actor: Principal = require("activities", "edit")
) -> FollowUpOut:
    return await service.update_follow_up(session, actor, follow_up_id, body)


@router.post("/follow-ups/{follow_up_id}/complete", response_model=CompleteResult)
async def complete(
    follow_up_id: int, body: CompleteFollowUp, session: Session, actor: Principal = require("activities", "edit")
) -> CompleteResult:
    return await service.complete(session, actor, follow_up_id, body)


@router.post("/follow-ups/{follow_up_id}/reschedule", response_model=FollowUpOut)
async def reschedule(
    follow_up_id: int, body: RescheduleFollowUp, session: Session, actor: Principal = require("activities", "edit")
) -> FollowUpOut:
    return await service.reschedule(session, actor, follow_up_id, body)


@router.post("/follow-ups/{follow_up_id}/cancel", response_model=FollowUpOut)
async def cancel(
    follow_up_id: int, body: CancelFollowUp, session: Session, actor: Principal = require("activities", "edit")
) -> FollowUpOut:
    return await service.cancel(session, actor, follow_up_id, body)


# One's own account: every signed-in user chooses what they are told about.
@router.get("/me/notification-preferences", response_model=list[NotificationPreference])
async def get_preferences(session: Session, principal: CurrentUser) -> list[NotificationPreference]:
    return await preferences.preferences(session, principal.user_id)


@router.put("/me/notification-preferences", response_model=list[NotificationPreference])
async def set_preferences(
    body: NotificationPreferencesIn, session: Session, principal: CurrentUser
) -> list[NotificationPreference]:
    return await preferences.set_preferences(session, principal.user_id, body.enabled)
