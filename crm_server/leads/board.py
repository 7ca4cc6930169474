"""The Kanban board: per status a count and the total value per currency (one grouped query for all
columns), and a page of cards per column (one index range scan each: ix_leads_board).

The counts of a board filtered only by what the kept counts record (scope, pipeline, owner, team,
closed stages) are read from lead_board_counts (kept by triggers, migration 0027): a few hundred
rows instead of every open lead. Any other filter counts the leads themselves."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.activities.models import FollowUp
from crm_server.auth.models import User
from crm_server.auth.permissions import Principal
from crm_server.contract.leads import (
    Board,
    BoardCard,
    BoardColumn,
    ColumnPage,
    LeadFilters,
    MoneyTotal,
    StatusKind,
    StatusOut,
)
from crm_server.db import utcnow
from crm_server.leads import pipelines, queries
from crm_server.leads.models import Lead, PipelineStatus, lead_board_counts
from crm_server.leads.service import default_country

CLOSED = (StatusKind.lost.value, StatusKind.junk.value)


def _columns(statuses: list[PipelineStatus], filters: LeadFilters) -> list[PipelineStatus]:
    return [s for s in statuses if filters.include_closed or filters.archived or s.kind not in CLOSED]


# status, currency, count, total (None: no lead of the group has a value)
Summary = Select[int, str | None, int, Decimal | None]


def _kept(filters: LeadFilters) -> bool:
    """Whether the kept counts can answer these filters."""
    return not (
        filters.archived
        or filters.source
        or filters.tag
        or filters.created_from is not None
        or filters.created_to is not None
        or (filters.q and filters.q.strip())
    )


def _counted(principal: Principal, filters: LeadFilters, pipeline_id: int, country: str) -> Summary:
    where = queries.conditions(principal, filters, country, pipeline_id=pipeline_id, with_status=False)
    return (
        select(Lead.status_id, Lead.currency, func.count(), func.sum(Lead.value))
        .where(*where)
        .group_by(Lead.status_id, Lead.currency)
    )


def _from_kept(principal: Principal, filters: LeadFilters, pipeline_id: int) -> Summary:
    c = lead_board_counts.c
    where = [principal.scope_filter(queries.MODULE, c.owner_id, c.team_id), c.pipeline_id == pipeline_id]
    if not filters.include_closed:
        where.append(c.status_id.not_in(queries.closed_statuses()))
    if filters.owner_id is not None:
        where.append(c.owner_id == filters.owner_id)
    if filters.team_id is not None:
        where.append(c.team_id == filters.team_id)
    valued = func.sum(c.valued)
    return (
        select(c.status_id, c.currency, func.sum(c.leads), case((valued > 0, func.sum(c.value))))
        .where(*where)
        .group_by(c.status_id, c.currency)
        .having(func.sum(c.leads) > 0)
    )


async def _summary(
    session: AsyncSession, principal: Principal, filters: LeadFilters, pipeline_id: int, country: str
) -> dict[int, tuple[int, list[MoneyTotal]]]:
    query = (
        _from_kept(principal, filters, pipeline_id)
        if _kept(filters)
        else _counted(principal, filters, pipeline_id, country)
    )
    out: dict[int, tuple[int, list[MoneyTotal]]] = {}
    for status_id, currency, count, total in (await session.execute(query)).all():
        seen, totals = out.get(status_id, (0, []))
        if total is not None:
            totals.append(MoneyTotal(currency=currency, amount=Decimal(total)))
        out[status_id] = (seen + int(count), totals)
    return out


def _card(row: Any, now_days: float) -> BoardCard:
    return BoardCard(
        id=row.id,
        person_name=row.person_name,
        company=row.company,
        value=row.value,
        currency=row.currency,
        owner_id=row.owner_id,
        owner_name=row.owner_name,
        tags=row.tags,
        created_at=row.created_at,
        status_changed_at=row.status_changed_at,
        age_days=int(now_days - row.created_at.timestamp() // 86400),
        next_follow_up_at=row.next_follow_up_at,
        version=row.version,
    )


async def _cards(
    session: AsyncSession,
    principal: Principal,
    filters: LeadFilters,
    pipeline_id: int,
    status_id: int,
    offset: int,
    limit: int,
    country: str,
) -> list[BoardCard]:
    where = queries.conditions(principal, filters, country, pipeline_id=pipeline_id, with_status=False)
    next_follow_up = (
        select(func.min(FollowUp.due_at))
        .where(FollowUp.lead_id == Lead.id, FollowUp.status == "open")
        .scalar_subquery()
    )
    stmt = (
        select(
            Lead.id,
            Lead.person_name,
            Lead.company,
            Lead.value,
            Lead.currency,
            Lead.owner_id,
            User.full_name.label("owner_name"),
            Lead.tags,
            Lead.created_at,
            Lead.status_changed_at,
            Lead.version,
            next_follow_up.label("next_follow_up_at"),
        )
        .outerjoin(User, User.id == Lead.owner_id)
        .where(*where, Lead.status_id == status_id)
        .order_by(Lead.status_changed_at.desc(), Lead.id.desc())
        .offset(offset)
        .limit(limit)
    )
    today = utcnow().timestamp() // 86400
    return [_card(row, today) for row in (await session.execute(stmt)).all()]


async def board(session: AsyncSession, principal: Principal, filters: LeadFilters, per_column: int) -> Board:
    """What the board shows when it opens: every column's count, totals and first cards."""
    pipeline = await pipelines.get_pipeline(session, filters.pipeline_id)
    country = await default_country(session)
    summary = await _summary(session, principal, filters, pipeline.id, country)
    columns = []
    for status in _columns(await pipelines.statuses_of(session, pipeline.id), filters):
        count, totals = summary.get(status.id, (0, []))
        cards = (
            await _cards(session, principal, filters, pipeline.id, status.id, 0, per_column, country) if count else []
        )
        columns.append(
            BoardColumn(
                status=StatusOut.model_validate(status),
                count=count,
                totals=sorted(totals, key=lambda t: t.currency or ""),
                cards=cards,
            )
        )
    return Board(pipeline_id=pipeline.id, columns=columns)


async def column_page(
    session: AsyncSession, principal: Principal, filters: LeadFilters, status_id: int, offset: int, limit: int
) -> ColumnPage:
    """More cards of one column, as the user scrolls it."""
    status = await pipelines.get_status(session, status_id)
    cards = await _cards(
        session, principal, filters, status.pipeline_id, status.id, offset, limit, await default_country(session)
    )
    return ColumnPage(status_id=status.id, offset=offset, cards=cards)
