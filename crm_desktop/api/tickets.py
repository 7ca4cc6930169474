"""Typed calls of the tickets area: the queue, a ticket, its moves, assignment, conversation, files,
timeline, board and categories. The wire models come from crm_server.contract.tickets."""

from __future__ import annotations

from typing import Any

from crm_desktop.api.client import ApiClient
from crm_server.contract.activities import TimelineItem
from crm_server.contract.common import Page
from crm_server.contract.tickets import (
    AssignIn,
    AttachmentIn,
    AttachmentOut,
    Board,
    CategoryOut,
    CommentIn,
    CommentOut,
    MoveIn,
    TicketFilters,
    TicketIn,
    TicketOut,
    TicketQuery,
    TicketUpdate,
)

# What operations.run(..., changed=CHANGED) announces after a ticket, comment or file changes.
CHANGED = frozenset({"tickets", "tickets.ticket"})


def _query(model: TicketFilters) -> dict[str, Any]:
    """Query parameters: what is set, booleans left out when false (the server's defaults)."""
    return {k: v for k, v in model.model_dump(mode="json", exclude_defaults=True).items() if v is not None}


async def list_tickets(api: ApiClient, query: TicketQuery) -> Page[TicketOut]:
    return Page[TicketOut].model_validate(await api.get("/api/tickets", **_query(query)))


async def get_ticket(api: ApiClient, ticket_id: int) -> TicketOut:
    return TicketOut.model_validate(await api.get(f"/api/tickets/{ticket_id}"))


async def create_ticket(api: ApiClient, body: TicketIn) -> TicketOut:
    """`body` may be unchecked (TicketIn.model_construct): the server judges it, naming the field."""
    answer = await api.post("/api/tickets", body.model_dump(mode="json", exclude_unset=True, warnings=False))
    return TicketOut.model_validate(answer)


async def update_ticket(api: ApiClient, ticket_id: int, body: TicketUpdate) -> TicketOut:
    """Only the fields set on `body` are sent (None set on purpose clears a field). A field someone
    else changed meanwhile: ApiError 409 field_changed naming it."""
    body_json = body.model_dump(mode="json", exclude_unset=True, warnings=False)  # may be unchecked: the server judges
    answer = await api.patch(f"/api/tickets/{ticket_id}", body_json)
    return TicketOut.model_validate(answer)


async def move_ticket(api: ApiClient, ticket_id: int, body: MoveIn) -> TicketOut:
    answer = await api.post(f"/api/tickets/{ticket_id}/move", body.model_dump(mode="json", exclude_none=True))
    return TicketOut.model_validate(answer)


async def assign_ticket(api: ApiClient, ticket_id: int, body: AssignIn) -> TicketOut:
    return TicketOut.model_validate(await api.post(f"/api/tickets/{ticket_id}/assign", body.model_dump(mode="json")))


async def board(api: ApiClient, filters: TicketFilters, per_column: int) -> Board:
    return Board.model_validate(await api.get("/api/tickets/board", per_column=per_column, **_query(filters)))


async def list_comments(api: ApiClient, ticket_id: int) -> list[CommentOut]:
    return [CommentOut.model_validate(c) for c in await api.get(f"/api/tickets/{ticket_id}/comments")]


async def add_comment(api: ApiClient, ticket_id: int, body: CommentIn) -> CommentOut:
    answer = await api.post(f"/api/tickets/{ticket_id}/comments", body.model_dump(mode="json"))
    return CommentOut.model_validate(answer)


async def list_attachments(api: ApiClient, ticket_id: int) -> list[AttachmentOut]:
    return [AttachmentOut.model_validate(a) for a in await api.get(f"/api/tickets/{ticket_id}/attachments")]


async def add_attachment(api: ApiClient, ticket_id: int, body: AttachmentIn) -> AttachmentOut:
    answer = await api.post(f"/api/tickets/{ticket_id}/attachments", body.model_dump(mode="json"))
    return AttachmentOut.model_validate(answer)


async def download_attachment(api: ApiClient, attachment_id: int) -> bytes:
    response = await api.request("GET", f"/api/attachments/{attachment_id}", raw=True)
    return bytes(response.content)


def timeline_path(ticket_id: int) -> str:
    """Where widgets/timeline.TimelineView pages the ticket's history (Page[TimelineItem])."""
    return f"/api/tickets/{ticket_id}/timeline"


async def timeline(api: ApiClient, ticket_id: int, offset: int = 0, limit: int = 100) -> Page[TimelineItem]:
    answer = await api.get(timeline_path(ticket_id), offset=offset, limit=limit)
    return Page[TimelineItem].model_validate(answer)


async def list_categories(api: ApiClient, include_inactive: bool = False) -> list[CategoryOut]:
    answer = await api.get("/api/ticket-categories", include_inactive=include_inactive or None)
    return [CategoryOut.model_validate(c) for c in answer]
