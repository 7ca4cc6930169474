"""HTTP routes of the leads area: leads, the board, bulk work, export, duplicates and merge, and the
admin lists (pipelines, lost reasons, sources, assignment rules). Parse, authorize, call, serialize."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from crm_server.activities import service as activities
from crm_server.activities import timeline
from crm_server.auth.permissions import Principal
from crm_server.contract.activities import NoteIn, NoteOut, TimelineItem
from crm_server.contract.common import Ok, Page, VersionIn
from crm_server.contract.leads import (
    AssignmentRuleIn,
    AssignmentRuleOut,
    AssignmentRuleUpdate,
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
    NamedItemIn,
    NamedItemOut,
    NamedItemUpdate,
    PipelineIn,
    PipelineOut,
    PipelineUpdate,
    RuleOrder,
    StatusIn,
    StatusOrder,
    StatusUpdate,
)
from crm_server.leads import assignment, board, bulk, duplicates, pipelines, service
from crm_server.leads.models import LeadSource, LostReason
from crm_server.routing import Session, TxRoute, require

router = APIRouter(prefix="/api", route_class=TxRoute, tags=["leads"])
Offset = Annotated[int, Query(ge=0)]
Limit = Annotated[int, Query(ge=1, le=500)]
ColumnSize = Annotated[int, Query(ge=1, le=200)]


# --- leads ---------------------------------------------------------------------------------------


@router.get("/leads", response_model=Page[LeadOut])
async def list_leads(
    session: Session, query: Annotated[LeadQuery, Query()], principal: Principal = require("leads", "view")
) -> Page[LeadOut]:
    return await service.list_leads(session, principal, query)


@router.post("/leads", response_model=LeadOut, status_code=201)
async def create_lead(body: LeadIn, session: Session, actor: Principal = require("leads", "create")) -> LeadOut:
    return await service.create_lead(session, actor, body)


@router.get("/leads/board", response_model=Board)
async def lead_board(
    session: Session,
    filters: Annotated[LeadFilters, Query()],
    per_column: ColumnSize = 50,
    principal: Principal = require("leads", "view"),
) -> Board:
    return await board.board(session, principal, filters, per_column)


@router.get("/leads/board/columns/{status_id}", response_model=ColumnPage)
async def board_column(
    status_id: int,
    session: Session,
    filters: Annotated[LeadFilters, Query()],
    offset: Offset = 0,
    limit: ColumnSize = 50,
    principal: Principal = require("leads", "view"),
) -> ColumnPage:
    return await board.column_page(session, principal, filters, status_id, offset, limit)


@router.post("/leads/bulk", response_model=BulkResult)
async def bulk_change(body: BulkRequest, session: Session, actor: Principal = require("leads", "edit")) -> BulkResult:
    return await bulk.bulk(session, actor, body)


@router.get("/leads/{lead_id}", response_model=LeadOut)
async def get_lead(lead_id: int, session: Session, principal: Principal = require("leads", "view")) -> LeadOut:
    return service.lead_out(await service.visible_lead(session, principal, lead_id))


@router.patch("/leads/{lead_id}", response_model=LeadOut)
async def update_lead(
    lead_id: int, body: LeadUpdate, session: Session, actor: Principal = require("leads", "edit")
) -> LeadOut:
    return await service.update_lead(session, actor, lead_id, body)


@router.post("/leads/{lead_id}/move", response_model=MoveResult)
async def move_lead(
    lead_id: int, body: MoveRequest, session: Session, actor: Principal = require("leads", "edit")
) -> MoveResult:
    return await service.move_lead(session, actor, lead_id, body)


@router.post("/leads/{lead_id}/archive", response_model=LeadOut)
async def archive_lead(
    lead_id: int, body: VersionIn, session: Session, actor: Principal = require("leads", "edit")
) -> LeadOut:
    return await service.set_archived(session, actor, lead_id, body.version, archived=True)


@router.post("/leads/{lead_id}/restore", response_model=LeadOut)
async def restore_lead(
    lead_id: int, body: VersionIn, session: Session, actor: Principal = require("leads", "edit")
) -> LeadOut:
    return await service.set_archived(session, actor, lead_id, body.version, archived=False)


@router.post("/leads/{lead_id}/notes", response_model=NoteOut, status_code=201)
async def add_note(
    lead_id: int, body: NoteIn, session: Session, actor: Principal = require("leads", "edit")
) -> NoteOut:
    return await activities.add_note(session, actor, body, lead_id=lead_id)


@router.get("/leads/{lead_id}/timeline", response_model=Page[TimelineItem])
async def lead_timeline(
    lead_id: int,
    session: Session,
    offset: Offset = 0,
    limit: Limit = 100,
    principal: Principal = require("leads", "view"),
) -> Page[TimelineItem]:
    return await timeline.lead_timeline(session, principal, lead_id, offset, limit)


@router.get("/leads/{lead_id}/duplicates", response_model=list[DuplicateOut])
async def lead_duplicates(
    lead_id: int, session: Session, principal: Principal = require("leads", "view")
) -> list[DuplicateOut]:
    return await duplicates.duplicates_of_lead(session, principal, lead_id)


@router.post("/leads/{lead_id}/merge", response_model=LeadOut)
async def merge_leads(
    lead_id: int, body: MergeRequest, session: Session, actor: Principal = require("leads", "edit")
) -> LeadOut:
    return await duplicates.merge(session, actor, lead_id, body)


# --- pipelines -----------------------------------------------------------------------------------


@router.get("/pipelines", response_model=list[PipelineOut], dependencies=[require("leads", "view")])
async def list_pipelines(session: Session) -> list[PipelineOut]:
    return await pipelines.list_pipelines(session)


@router.post("/pipelines", response_model=PipelineOut, status_code=201)
async def create_pipeline(
    body: PipelineIn, session: Session, actor: Principal = require("admin", "create")
) -> PipelineOut:
    return await pipelines.create_pipeline(session, actor, body)


@router.patch("/pipelines/{pipeline_id}", response_model=PipelineOut)
async def update_pipeline(
    pipeline_id: int, body: PipelineUpdate, session: Session, actor: Principal = require("admin", "edit")
) -> PipelineOut:
    return await pipelines.update_pipeline(session, actor, pipeline_id, body)


@router.post("/pipelines/{pipeline_id}/statuses", response_model=PipelineOut, status_code=201)
async def add_status(
    pipeline_id: int, body: StatusIn, session: Session, actor: Principal = require("admin", "edit")
) -> PipelineOut:
    return await pipelines.add_status(session, actor, pipeline_id, body)


@router.patch("/pipelines/{pipeline_id}/statuses/{status_id}", response_model=PipelineOut)
async def update_status(
    pipeline_id: int, status_id: int, body: StatusUpdate, session: Session, actor: Principal = require("admin", "edit")
) -> PipelineOut:
    return await pipelines.update_status(session, actor, pipeline_id, status_id, body)


@router.put("/pipelines/{pipeline_id}/statuses/order", response_model=PipelineOut)
async def reorder_statuses(
    pipeline_id: int, body: StatusOrder, session: Session, actor: Principal = require("admin", "edit")
) -> PipelineOut:
    return await pipelines.reorder_statuses(session, actor, pipeline_id, body.status_ids)


@router.delete("/pipelines/{pipeline_id}/statuses/{status_id}", response_model=PipelineOut)
async def remove_status(
    pipeline_id: int,
    status_id: int,
    session: Session,
    move_to: Annotated[int, Query(description="the status its leads go to")],
    actor: Principal = require("admin", "edit"),
) -> PipelineOut:
    return await pipelines.remove_status(session, actor, pipeline_id, status_id, move_to)


# --- lost reasons and lead sources ---------------------------------------------------------------


@router.get("/lost-reasons", response_model=list[NamedItemOut], dependencies=[require("leads", "view")])
async def list_lost_reasons(session: Session, include_inactive: bool = False) -> list[NamedItemOut]:
    return await pipelines.list_items(session, LostReason, include_inactive)


@router.post("/lost-reasons", response_model=NamedItemOut, status_code=201)
async def create_lost_reason(
    body: NamedItemIn, session: Session, actor: Principal = require("admin", "edit")
) -> NamedItemOut:
    return await pipelines.create_item(session, actor, LostReason, body)


@router.patch("/lost-reasons/{item_id}", response_model=NamedItemOut)
async def update_lost_reason(
    item_id: int, body: NamedItemUpdate, session: Session, actor: Principal = require("admin", "edit")
) -> NamedItemOut:
    return await pipelines.update_item(session, actor, LostReason, item_id, body)


@router.get("/lead-sources", response_model=list[NamedItemOut], dependencies=[require("leads", "view")])
async def list_sources(session: Session, include_inactive: bool = False) -> list[NamedItemOut]:
    return await pipelines.list_items(session, LeadSource, include_inactive)


@router.post("/lead-sources", response_model=NamedItemOut, status_code=201)
async def create_source(
    body: NamedItemIn, session: Session, actor: Principal = require("admin", "edit")
) -> NamedItemOut:
    return await pipelines.create_item(session, actor, LeadSource, body)


@router.patch("/lead-sources/{item_id}", response_model=NamedItemOut)
async def update_source(
    item_id: int, body: NamedItemUpdate, session: Session, actor: Principal = require("admin", "edit")
) -> NamedItemOut:
    return await pipelines.update_item(session, actor, LeadSource, item_id, body)


# --- assignment rules ----------------------------------------------------------------------------


@router.get("/assignment-rules", response_model=list[AssignmentRuleOut], dependencies=[require("admin", "view")])
async def list_rules(session: Session) -> list[AssignmentRuleOut]:
    return await assignment.list_rules(session)


@router.post("/assignment-rules", response_model=AssignmentRuleOut, status_code=201)
async def create_rule(
    body: AssignmentRuleIn, session: Session, actor: Principal = require("admin", "edit")
) -> AssignmentRuleOut:
    return await assignment.create_rule(session, actor, body)


@router.put("/assignment-rules/order", response_model=list[AssignmentRuleOut])
async def reorder_rules(
    body: RuleOrder, session: Session, actor: Principal = require("admin", "edit")
) -> list[AssignmentRuleOut]:
    return await assignment.reorder_rules(session, actor, body.rule_ids)


@router.put("/assignment-rules/{rule_id}", response_model=AssignmentRuleOut)
async def update_rule(
    rule_id: int, body: AssignmentRuleUpdate, session: Session, actor: Principal = require("admin", "edit")
) -> AssignmentRuleOut:
    return await assignment.update_rule(session, actor, rule_id, body)


@router.delete("/assignment-rules/{rule_id}", response_model=Ok)
async def delete_rule(rule_id: int, session: Session, actor: Principal = require("admin", "edit")) -> Ok:
    await assignment.delete_rule(session, actor, rule_id)
    return Ok()
