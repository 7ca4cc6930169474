"""Lost deals: the leads lost in the range (now in a lost status, closed in the range; in scope,
filtered) by reason, by the stage they were lost from, by owner, and per month. Values count the
leads in the report's currency only (amounts are never converted)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crm_server.auth.models import User
from crm_server.auth.permissions import Principal
from crm_server.contract.reports import ReportColumn, ReportFigure, ReportOut, ReportQuery, ReportTable
from crm_server.leads.models import Lead, LostReason, PipelineStatus
from crm_server.reports import common
from crm_server.reports.models import LeadStatusHistory as H
from crm_server.reports.service import next_period, period_start

COLUMNS = [ReportColumn(key="lost", title="Lost", kind="count"), ReportColumn(key="value", title="Value", kind="money")]


async def report(session: AsyncSession, principal: Principal, query: ReportQuery) -> ReportOut:
    r = await common.resolve(session, principal, query)
    lost_ids = select(PipelineStatus.id).where(PipelineStatus.kind == "lost")
    where = [*common.lead_filters(r), Lead.status_id.in_(lost_ids), Lead.closed_at >= r.start, Lead.closed_at < r.end]
    value = func.coalesce(func.sum(case((Lead.currency == r.currency, Lead.value))), 0)

    async def by(label: Any, *joins: tuple[Any, Any]) -> list[list[Any]]:
        stmt = select(label.label("label"), func.count(), value).select_from(Lead)
        for target, on in joins:
            stmt = stmt.outerjoin(target, on)
        rows = await session.execute(stmt.where(*where).group_by(label).order_by(func.count().desc(), label))
        return [[str(name), int(n), common.money(v, r.currency)] for name, n, v in rows]

    reasons = await by(
        func.coalesce(LostReason.name, "No reason given"), (LostReason, LostReason.id == Lead.lost_reason_id)
    )
    owners = await by(func.coalesce(User.full_name, "Unassigned"), (User, User.id == Lead.owner_id))
    # The stage lost from: the status the lead left by its last move into a lost status.
    last_move = (
        select(H.lead_id, H.from_status_id)
        .where(H.to_status_id.in_(lost_ids))
        .ext(distinct_on(H.lead_id))
        .order_by(H.lead_id, H.at.desc(), H.id.desc())
        .subquery()
    )
    before = aliased(PipelineStatus)
    stages = await by(
        func.coalesce(before.name, "Created lost"),
        (last_move, last_move.c.lead_id == Lead.id),
        (before, before.id == last_move.c.from_status_id),
    )
    month = common.month_of(Lead.closed_at)
    found = {
        m: (int(n), common.money(v, r.currency))
        for m, n, v in await session.execute(select(month, func.count(), value).where(*where).group_by(month))
    }
    trend: list[list[Any]] = []
    start = period_start(r.date_from, "month")
    while start <= r.date_to:
        n, v = found.get(start, (0, common.money(0, r.currency)))
        trend.append([common.month_label(start), n, v])
        start = next_period(start, "month")
    total = sum(row[1] for row in reasons)
    total_value = sum((row[2] for row in reasons), common.money(0, r.currency))

    def table(key: str, title: str, first: str, rows: list[list[Any]], chart: str = "bar") -> ReportTable:
        return ReportTable(
            key=key,
            title=title,
            columns=[ReportColumn(key="label", title=first), *COLUMNS],
            rows=rows[: common.MAX_ROWS],
            chart=chart,  # type: ignore[arg-type]
            chart_columns=["lost"],
            note=f"Leads lost between {r.date_from.isoformat()} and {r.date_to.isoformat()}; values in {r.currency}.",
        )

    return ReportOut(
        key="lost",
        title="Lost deals",
        date_from=r.date_from,
        date_to=r.date_to,
        currency=r.currency,
        figures=[
            ReportFigure(label="Deals lost", value=total, kind="count"),
            ReportFigure(label="Value lost", value=total_value, kind="money"),
        ],
        tables=[
            table("reasons", "By reason", "Reason", reasons),
            table("stages", "By stage lost in", "Stage", stages),
            table("owners", "By owner", "Owner", owners),
            table("months", "By month", "Month", trend, "line"),
        ],
    )
