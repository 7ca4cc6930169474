"""The lead filters of the board, the list, the export and bulk work, built once, so the same filter
bar means the same leads everywhere. Every query here is scope-filtered."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select

from crm_server.auth.permissions import Principal
from crm_server.contract.leads import LeadFilters
from crm_server.leads.models import Lead, PipelineStatus
from crm_server.leads.search import lead_match
from crm_server.search.service import make_terms

MODULE = "leads"


def text_match(q: str, default_country: str) -> ColumnElement[bool]:
    return lead_match(make_terms(q, default_country))


def closed_statuses() -> Any:
    return select(PipelineStatus.id).where(PipelineStatus.kind.in_(("lost", "junk"))).scalar_subquery()


def conditions(
    principal: Principal,
    filters: LeadFilters,
    default_country: str,
    *,
    pipeline_id: int | None = None,
    with_status: bool = True,
) -> list[ColumnElement[bool]]:
    """WHERE terms for these filters, this user's scope included."""
    where: list[ColumnElement[bool]] = [principal.scope_filter(MODULE, Lead.owner_id, Lead.team_id)]
    where.append(Lead.archived_at.is_not(None) if filters.archived else Lead.archived_at.is_(None))
    pipeline = pipeline_id if pipeline_id is not None else filters.pipeline_id
    if pipeline is not None:
        where.append(Lead.pipeline_id == pipeline)
    if with_status and filters.status_id is not None:
        where.append(Lead.status_id == filters.status_id)
    elif not filters.include_closed and not filters.archived:
        where.append(Lead.status_id.not_in(closed_statuses()))
    if filters.owner_id is not None:
        where.append(Lead.owner_id == filters.owner_id)
    if filters.unassigned:
        open_ids = select(PipelineStatus.id).where(PipelineStatus.kind == "open").scalar_subquery()
        where += [Lead.owner_id.is_(None), Lead.status_id.in_(open_ids)]
    if filters.team_id is not None:
        where.append(Lead.team_id == filters.team_id)
    if filters.source:
        where.append(Lead.source == filters.source)
    if filters.tag:
        where.append(Lead.tags.contains([filters.tag.strip().lower()]))
    if filters.created_from is not None:
        where.append(Lead.created_at >= datetime.combine(filters.created_from, time(), UTC))
    if filters.created_to is not None:
        where.append(Lead.created_at < datetime.combine(filters.created_to + timedelta(days=1), time(), UTC))
    if filters.q and filters.q.strip():
        where.append(text_match(filters.q, default_country))
    if filters.min_engagement is not None:
        from crm_server.campaigns.models import Engagement

        engaged = select(Engagement.entity_id).where(
            Engagement.entity == "lead", Engagement.score >= filters.min_engagement
        )
        where.append(Lead.id.in_(engaged))
    return where
