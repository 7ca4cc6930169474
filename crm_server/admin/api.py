"""HTTP routes of the admin area, plus the bell every user has."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from crm_server.admin import service
from crm_server.auth.permissions import Principal
from crm_server.contract.admin import (
    AuditEntryOut,
    MarkRead,
    NotificationOut,
    SettingsOut,
    SettingsUpdate,
    TestEmailRequest,
    UnreadCount,
)
from crm_server.contract.common import After, ErrorBody, Ok, Page
from crm_server.routing import CurrentUser, Session, TxRoute, require

router = APIRouter(prefix="/api", route_class=TxRoute, tags=["admin"])
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0)]


@router.get("/settings", response_model=SettingsOut, dependencies=[require("admin", "view")])
async def read_settings(session: Session) -> SettingsOut:
    return await service.read_settings(session)


@router.patch("/settings", response_model=SettingsOut)
async def change_settings(
    body: SettingsUpdate, session: Session, actor: Principal = require("admin", "edit")
) -> SettingsOut:
    return await service.change_settings(session, actor, body.values)


@router.post(
    "/settings/test-email",
    response_model=Ok,
    dependencies=[require("admin", "edit")],
    responses={502: {"model": ErrorBody, "description": "The SMTP server refused or could not be reached"}},
)
async def test_email(body: TestEmailRequest, session: Session) -> Ok:
    await service.send_test_email(session, str(body.to))
    return Ok()


@router.get("/audit", response_model=Page[AuditEntryOut], dependencies=[require("admin", "view")])
async def audit_log(
    session: Session,
    actor_id: int | None = None,
    entity: str | None = None,
    entity_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: Offset = 0,
    limit: Limit = 100,
    after: After = None,
) -> Page[AuditEntryOut]:
    return await service.audit_log(session, actor_id, entity, entity_id, since, until, offset, limit, after)


@router.get(
    "/audit.csv",
    dependencies=[require("admin", "export")],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The audit log as CSV"}},
)
async def audit_csv(
    session: Session,
    actor_id: int | None = None,
    entity: str | None = None,
    entity_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> StreamingResponse:
    # Rendered inside the request's transaction, then streamed from memory.
    chunks = [chunk async for chunk in service.audit_csv(session, actor_id, entity, entity_id, since, until)]
    return StreamingResponse(
        iter(chunks), media_type="text/csv", headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'}
    )


@router.get("/notifications", response_model=Page[NotificationOut])
async def notifications(
    session: Session, principal: CurrentUser, unread: bool = False, offset: Offset = 0, limit: Limit = 50
) -> Page[NotificationOut]:
    return await service.notifications(session, principal.user_id, unread, offset, limit)


@router.get("/notifications/unread-count", response_model=UnreadCount)
async def unread_count(session: Session, principal: CurrentUser) -> UnreadCount:
    return UnreadCount(unread=await service.unread_count(session, principal.user_id))


@router.post("/notifications/read", response_model=Ok)
async def mark_read(body: MarkRead, session: Session, principal: CurrentUser) -> Ok:
    await service.mark_read(session, principal.user_id, body.ids)
    return Ok()
