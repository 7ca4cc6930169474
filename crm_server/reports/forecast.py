"""Pipeline and forecast: the open leads (in scope, filtered) whose expected close date falls in the
range, per month of that date, per stage and per owner: how many, their value, and their value
weighted by each stage's win probability (value x probability / 100). Values in the report's
currency only. Open leads without an expected close date are counted in a figure of their own."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.auth.models import User
from crm_server.auth.permissions import Principal
from crm_server.contract.reports import Cell, ReportColumn, ReportFigure, ReportOut, ReportQuery, ReportTable
from crm_server.leads.models import Lead, PipelineStatus, lead_board_counts
from crm_server.reports import common
from crm_server.reports.service import next_period, period_start
from crm_server.targets import service as targets

VALUE_COLUMNS = [
    ReportColumn(key="leads", title="Open leads", kind="count"),
    ReportColumn(key="value", title="Open value", kind="money"),
    ReportColumn(key="weighted", title="Weighted", kind="money"),
]


async def report(session: AsyncSession, principal: Principal, query: ReportQuery) -> ReportOut:
    r = await common.resolve(session, principal, query)
    cur = r.currency
    zero = common.money(0, cur)
    open_leads = [*common.lead_filters(r), PipelineStatus.kind == "open"]
    in_range = [Lead.expected_close_date >= r.date_from, Lead.expected_close_date <= r.date_to]
    value = func.coalesce(func.sum(Lead.value).filter(Lead.currency == cur), 0)
    weighted = func.coalesce(
        func.sum(Lead.value * PipelineStatus.win_probability / 100).filter(Lead.currency == cur), 0
    )

    async def by(label: Any, *extra: Any, order: Any = None) -> list[list[Any]]:
        stmt = (
            select(label, func.count(), value, weighted, *extra)
            .select_from(Lead)
            .join(PipelineStatus, PipelineStatus.id == Lead.status_id)
            .outerjoin(User, User.id == Lead.owner_id)
            .where(*open_leads, *in_range)
            .group_by(label, *extra)
        )
        rows = await session.execute(stmt.order_by(*(order if order is not None else [label])))
        return [[row[0], int(row[1]), common.money(row[2], cur), common.money(row[3], cur), *row[4:]] for row in rows]

    month = common.month_of_date(Lead.expected_close_date)
    found = {row[0]: row[1:] for row in await by(month)}
    months: list[list[Any]] = []
    start = period_start(r.date_from, "month")
    while start <= r.date_to:
        months.append([common.month_label(start), *found.get(start, [0, zero, zero])])
        start = next_period(start, "month")
    stages = [
        [row[0], row[1], row[2], row[3], Decimal(row[4])]
        for row in await by(
            PipelineStatus.name,
            PipelineStatus.win_probability,
            PipelineStatus.pipeline_id,
            PipelineStatus.position,
            order=[PipelineStatus.pipeline_id, PipelineStatus.position],
        )
    ]
    owners = await by(func.coalesce(User.full_name, "Unassigned"))
    undated = await _undated(session, r, open_leads)
    total = sum((row[2] for row in months), zero)
    total_weighted = sum((row[3] for row in months), zero)
    this_month = datetime.now(UTC).date().replace(day=1)
    standing = [
        row
        for row in await targets.standings(session, principal, this_month, cur)
        if row.kind == "user" and (row.target is not None or row.won)
    ]
    vs_target: list[list[Cell]] = [
        [row.name, row.won, row.target or zero, common.percent(row.won, row.target) if row.target else None]
        for row in standing
    ]
    note = f"Open leads expected to close {r.date_from.isoformat()} to {r.date_to.isoformat()}; {cur} only."
    return ReportOut(
        key="forecast",
        title="Pipeline and forecast",
        date_from=r.date_from,
        date_to=r.date_to,
        currency=cur,
        figures=[
            ReportFigure(label="Open value", value=total, kind="money"),
            ReportFigure(label="Weighted forecast", value=total_weighted, kind="money"),
            ReportFigure(label="Open leads", value=sum(row[1] for row in months), kind="count"),
            ReportFigure(label="Open, no close date", value=undated, kind="count"),
        ],
        tables=[
            ReportTable(
                key="months",
                title="By expected close month",
                columns=[ReportColumn(key="month", title="Month"), *VALUE_COLUMNS],
                rows=months,
                chart="bar",
                chart_columns=["value", "weighted"],
                note=note,
            ),
            ReportTable(
                key="stages",
                title="By stage",
                columns=[
                    ReportColumn(key="stage", title="Stage"),
                    *VALUE_COLUMNS,
                    ReportColumn(key="probability", title="Win probability", kind="percent"),
                ],
                rows=[row[:5] for row in stages],
                chart="bar",
                chart_columns=["value", "weighted"],
                note=note + " A stage's win probability is set on the Pipelines page.",
            ),
            ReportTable(
                key="owners",
                title="By owner",
                columns=[ReportColumn(key="owner", title="Owner"), *VALUE_COLUMNS],
                rows=owners[: common.MAX_ROWS],
                chart="bar",
                chart_columns=["value", "weighted"],
                note=note,
            ),
            ReportTable(
                key="targets",
                title="Won vs target",
                columns=[
                    ReportColumn(key="person", title="Salesperson"),
                    ReportColumn(key="won", title="Won", kind="money"),
                    ReportColumn(key="target", title="Target", kind="money"),
                    ReportColumn(key="share", title="Of target", kind="percent"),
                ],
                rows=vs_target[: common.MAX_ROWS],
                chart="bar",
                chart_columns=["won", "target"],
                note=f"Won leads closed in {common.month_label(this_month)} (UTC) against each person's target; "
                + targets.base_note(cur),
            ),
        ],
    )


async def _undated(session: AsyncSession, r: common.Range, open_leads: list[Any]) -> int:
    """Open leads without an expected close date: from the board's kept counts (their leads minus
    those dated, migration 0040), counted lead by lead only for a source filter (not kept there)."""
    if r.query.source is None:
        k = lead_board_counts.c
        kept = select(func.coalesce(func.sum(k.leads - k.dated), 0)).where(
            *common.kept_lead_filters(r, k),
            k.status_id.in_(select(PipelineStatus.id).where(PipelineStatus.kind == "open")),
        )
        return int(await session.scalar(kept) or 0)
    counted = (
        select(func.count())
        .select_from(Lead)
        .join(PipelineStatus, PipelineStatus.id == Lead.status_id)
        .where(*open_leads, Lead.expected_close_date.is_(None))
    )
    return int(await session.scalar(counted) or 0)
