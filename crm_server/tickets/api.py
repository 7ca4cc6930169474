"""HTTP routes of the tickets area: the queue, a ticket, its moves, assignment, conversation, files,
timeline and board, and the admin list of categories. Parse, authorize, call, serialize."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from crm_server.auth.permissions import Principal
from crm_server.contract.activities import TimelineItem
from crm_server.contract.common import Page
from crm_server.contract.tickets import (
    AssignIn,
    AttachmentIn,
    AttachmentOut,
    Board,
    CategoryIn,
    CategoryOut,
    CategoryUpdate,
    CommentIn,
    CommentOut,
    MoveIn,
    TicketFilters,
    TicketIn,
    TicketOut,
    TicketQuery,
    TicketUpdate,
)
from crm_server.documents import attachments
from crm_server.routing import Session, TxRoute, require
from crm_server.tickets import board, comments, routing, service, timeline

router = APIRouter(prefix="/api", route_class=TxRoute, tags=["tickets"])
Offset = Annotated[int, Query(ge=0)]
Limit = Annotated[int, Query(ge=1, le=500)]
ColumnSize = Annotated[int, Query(ge=1, le=200)]
out = service.ticket_out


@router.get("/tickets", response_model=Page[TicketOut])
async def list_tickets(
    session: Session, query: Annotated[TicketQuery, Query()], principal: Principal = require("tickets", "view")
) -> Page[TicketOut]:
    return await service.list_tickets(session, principal, query)


@router.post("/tickets", response_model=TicketOut, status_code=201)
async def create_ticket(body: TicketIn, session: Session, actor: Principal = require("tickets", "create")) -> TicketOut:
    return out(await service.create_ticket(session, actor, body))


@router.get("/tickets/board", response_model=Board)
async def ticket_board(
    session: Session,
    filters: Annotated[TicketFilters, Query()],
    per_column: ColumnSize = 50,
    principal: Principal = require("tickets", "view"),
) -> Board:
    return await board.board(session, principal, filters, per_column)


@router.get("/tickets/{ticket_id}", response_model=TicketOut)
async def get_ticket(ticket_id: int, session: Session, principal: Principal = require("tickets", "view")) -> TicketOut:
    return await service.named_out(session, await service.visible_ticket(session, principal, ticket_id))


@router.patch("/tickets/{ticket_id}", response_model=TicketOut)
async def update_ticket(
    ticket_id: int, body: TicketUpdate, session: Session, actor: Principal = require("tickets", "edit")
) -> TicketOut:
    return out(await service.update_ticket(session, actor, ticket_id, body))


@router.post("/tickets/{ticket_id}/move", response_model=TicketOut)
async def move_ticket(
    ticket_id: int, body: MoveIn, session: Session, actor: Principal = require("tickets", "edit")
) -> TicketOut:
    return out(await service.move_ticket(session, actor, ticket_id, body))


@router.post("/tickets/{ticket_id}/assign", response_model=TicketOut)
async def assign_ticket(
    ticket_id: int, body: AssignIn, session: Session, actor: Principal = require("tickets", "edit")
) -> TicketOut:
    return out(await service.assign_ticket(session, actor, ticket_id, body))


@router.get("/tickets/{ticket_id}/comments", response_model=list[CommentOut])
async def list_comments(
    ticket_id: int, session: Session, principal: Principal = require("tickets", "view")
) -> list[CommentOut]:
    return await comments.list_comments(session, principal, ticket_id)


@router.post("/tickets/{ticket_id}/comments", response_model=CommentOut, status_code=201)
async def add_comment(
    ticket_id: int, body: CommentIn, session: Session, actor: Principal = require("tickets", "edit")
) -> CommentOut:
    return await comments.add_comment(session, actor, ticket_id, body)


@router.get("/tickets/{ticket_id}/attachments", response_model=list[AttachmentOut])
async def list_attachments(
    ticket_id: int, session: Session, principal: Principal = require("tickets", "view")
) -> list[AttachmentOut]:
    return await comments.list_attachments(session, principal, ticket_id)


@router.post("/tickets/{ticket_id}/attachments", response_model=AttachmentOut, status_code=201)
async def add_attachment(
    ticket_id: int, body: AttachmentIn, session: Session, actor: Principal = require("tickets", "edit")
) -> AttachmentOut:
    return await comments.add_attachment(session, actor, ticket_id, body)


@router.get("/attachments/{attachment_id}", response_class=Response)
async def download_attachment(
    attachment_id: int, session: Session, principal: Principal = require("tickets", "view")
) -> Response:
    found = await comments.get_attachment(session, principal, attachment_id)
    return attachments.download(found.filename, found.content_type, found.data)


@router.get("/tickets/{ticket_id}/timeline", response_model=Page[TimelineItem])
async def ticket_timeline(
    ticket_id: int,
    session: Session,
    offset: Offset = 0,
    limit: Limit = 100,
    principal: Principal = require("tickets", "view"),
) -> Page[TimelineItem]:
    return await timeline.ticket_timeline(session, principal, ticket_id, offset, limit)


# --- categories (admin) --------------------------------------------------------------------------


@router.get("/ticket-categories", response_model=list[CategoryOut], dependencies=[require("tickets", "view")])
async def list_categories(session: Session, include_inactive: bool = False) -> list[CategoryOut]:
    return await routing.list_categories(session, include_inactive)


@router.post("/ticket-categories", response_model=CategoryOut, status_code=201)
async def create_category(
    body: CategoryIn, session: Session, actor: Principal = require("admin", "create")
) -> CategoryOut:
    return await routing.create_category(session, actor, body)


@router.patch("/ticket-categories/{category_id}", response_model=CategoryOut)
async def update_category(
    category_id: int, body: CategoryUpdate, session: Session, actor: Principal = require("admin", "edit")
) -> CategoryOut:
    return await routing.update_category(session, actor, category_id, body)
