"""Typed calls for leads, the board, pipelines and the sales lists; the wire models come from
crm_server.contract.leads. Money and dates arrive parsed (Decimal, date, datetime).

    lead = await leads.get_lead(api, 5)
    operations.run(self, leads.move_lead(api, lead.id, MoveRequest(...)), changed=leads.CHANGED)
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter

from crm_desktop.api.client import ApiClient
from crm_server.contract.activities import NoteIn, NoteOut, TimelineItem
from crm_server.contract.common import Page, VersionIn
from crm_server.contract.leads import (
    Board,
    BulkRequest,
    BulkResult,
    ColumnPage,
    DuplicateOut,
    LeadFilters,
    LeadIn,
    LeadOut,
    LeadQuery,
    LeadUpdate,
    MergeRequest,
    MoveRequest,
    MoveResult,
    NamedItemOut,
    PipelineOut,
)

# What a change to a lead announces on the change bus (operations.run(..., changed=CHANGED)).
CHANGED = frozenset({"leads", "leads.lead"})
# A board or a list reloads on these (a follow-up changes a card's next date).
WATCHED = frozenset({"*", "leads", "leads.lead", "activities"})
# The sales lists (pipelines, lost reasons, sources) are read again after these.
LISTS_CHANGED = frozenset(
    {"*", "admin.pipeline", "admin.pipeline_status", "admin.lost_reason", "admin.lead_source", "leads.pipelines"}
)

_LEAD_PAGE = TypeAdapter(Page[LeadOut])
_TIMELINE_PAGE = TypeAdapter(Page[TimelineItem])
_DUPLICATES = TypeAdapter(list[DuplicateOut])
_PIPELINES = TypeAdapter(list[PipelineOut])
_ITEMS = TypeAdapter(list[NamedItemOut])


def params(model: BaseModel) -> dict[str, Any]:
    """A query model as query parameters: only what differs from the server's defaults."""
    return model.model_dump(mode="json", exclude_defaults=True, exclude_none=True)


def body(model: BaseModel) -> dict[str, Any]:
    """A request model as JSON: the fields set, so a PATCH changes only what it names. A view may
    hand over what a person typed unchecked (`LeadIn.model_construct(**values)`): the server then
    judges it, and its refusal names the field next to which the form shows it."""
    return model.model_dump(mode="json", exclude_unset=True, warnings=False)


# --- leads ---------------------------------------------------------------------------------------


async def list_leads(api: ApiClient, query: LeadQuery) -> Page[LeadOut]:
    return _LEAD_PAGE.validate_python(await api.get("/api/leads", **params(query)))


async def create_lead(api: ApiClient, lead: LeadIn) -> LeadOut:
    return LeadOut.model_validate(await api.post("/api/leads", body(lead)))


async def get_lead(api: ApiClient, lead_id: int) -> LeadOut:
    return LeadOut.model_validate(await api.get(f"/api/leads/{lead_id}"))


async def update_lead(api: ApiClient, lead_id: int, changes: LeadUpdate) -> LeadOut:
    return LeadOut.model_validate(await api.patch(f"/api/leads/{lead_id}", body(changes)))


def lead_path(lead_id: int) -> str:
    """The lead's address, for widgets/field_conflict.save_guarded (which PATCHes the edit buffer's dict)."""
    return f"/api/leads/{lead_id}"


async def move_lead(api: ApiClient, lead_id: int, move: MoveRequest) -> MoveResult:
    return MoveResult.model_validate(await api.post(f"/api/leads/{lead_id}/move", body(move)))


async def archive_lead(api: ApiClient, lead_id: int, version: int) -> LeadOut:
    answer = await api.post(f"/api/leads/{lead_id}/archive", body(VersionIn(version=version)))
    return LeadOut.model_validate(answer)


async def restore_lead(api: ApiClient, lead_id: int, version: int) -> LeadOut:
    answer = await api.post(f"/api/leads/{lead_id}/restore", body(VersionIn(version=version)))
    return LeadOut.model_validate(answer)


async def add_note(api: ApiClient, lead_id: int, note: NoteIn) -> NoteOut:
    return NoteOut.model_validate(await api.post(f"/api/leads/{lead_id}/notes", body(note)))


async def timeline(api: ApiClient, lead_id: int, offset: int = 0, limit: int = 100) -> Page[TimelineItem]:
    answer = await api.get(f"/api/leads/{lead_id}/timeline", offset=offset, limit=limit)
    return _TIMELINE_PAGE.validate_python(answer)


async def duplicates(api: ApiClient, lead_id: int) -> list[DuplicateOut]:
    return _DUPLICATES.validate_python(await api.get(f"/api/leads/{lead_id}/duplicates"))


async def merge_leads(api: ApiClient, lead_id: int, merge: MergeRequest) -> LeadOut:
    return LeadOut.model_validate(await api.post(f"/api/leads/{lead_id}/merge", body(merge)))


async def bulk_change(api: ApiClient, request: BulkRequest) -> BulkResult:
    return BulkResult.model_validate(await api.post("/api/leads/bulk", body(request)))


# --- the board -----------------------------------------------------------------------------------


async def board(api: ApiClient, filters: LeadFilters, per_column: int = 50) -> Board:
    return Board.model_validate(await api.get("/api/leads/board", per_column=per_column, **params(filters)))


async def board_column(
    api: ApiClient, status_id: int, filters: LeadFilters, offset: int = 0, limit: int = 50
) -> ColumnPage:
    answer = await api.get(f"/api/leads/board/columns/{status_id}", offset=offset, limit=limit, **params(filters))
    return ColumnPage.model_validate(answer)


# --- pipelines and the sales lists ---------------------------------------------------------------


async def pipelines(api: ApiClient) -> list[PipelineOut]:
    return _PIPELINES.validate_python(await api.get("/api/pipelines"))


async def lost_reasons(api: ApiClient, include_inactive: bool = False) -> list[NamedItemOut]:
    return _ITEMS.validate_python(await api.get("/api/lost-reasons", include_inactive=include_inactive or None))


async def lead_sources(api: ApiClient, include_inactive: bool = False) -> list[NamedItemOut]:
    return _ITEMS.validate_python(await api.get("/api/lead-sources", include_inactive=include_inactive or None))


__all__ = [
    "CHANGED",
    "LISTS_CHANGED",
    "WATCHED",
    "add_note",
    "archive_lead",
    "board",
    "board_column",
    "bulk_change",
    "create_lead",
    "duplicates",
    "get_lead",
    "lead_path",
    "lead_sources",
    "list_leads",
    "lost_reasons",
    "merge_leads",
    "move_lead",
    "pipelines",
    "restore_lead",
    "timeline",
    "update_lead",
]
