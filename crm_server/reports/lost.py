"""Lost deals: the leads lost in the range (now in a lost status, closed in the range; in scope,
filtered) by reason, by the stage they were lost from, by owner, and per month. Values count the
leads in the report's currency only (amounts are never converted)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crm_server.auth.models import User
from crm_server.auth.permissions import Principal
from crm_server.contract.reports import ReportColumn, ReportFigure, ReportOut, ReportQuery, ReportTable
from crm_server.leads.models import LostReason, PipelineStatus
from crm_server.reports import common
from crm_server.reports.service import next_period, period_start

COLUMNS = [ReportColumn(key="lost", title="Lost", kind="count"), ReportColumn(key="value", title="Value", kind="money")]


async def report(session: AsyncSession, principal: Principal, query: ReportQuery) -> ReportOut:
    """Counted from the closed leads' kept month counts and the range's part-months (see
    common.leads_closed): a year of a million leads is a few thousand rows."""
    r = await common.resolve(session, principal, query)
    lost_ids = select(PipelineStatus.id).where(PipelineStatus.kind == "lost")
    counted = common.leads_closed(r)
    closed = counted.c
    where = [closed.status_id.in_(lost_ids)]
    value = func.coalesce(func.sum(closed.value).filter(closed.currency == r.currency), 0)

    async def by(key: Any, label: Any, *joins: tuple[Any, Any]) -> list[list[Any]]:
        stmt = select(label.label("label"), func.sum(closed.leads), value).select_from(counted)
        for target, on in joins:
            stmt = stmt.outerjoin(target, on)
        rows = await session.execute(
            stmt.where(*where).group_by(key, label).order_by(func.sum(closed.leads).desc(), label)
        )
        merged: dict[str, list[Any]] = {}  # one row per name (two keys may carry the same one)
        for name, n, v in rows:
            seen = merged.setdefault(str(name), [str(name), 0, common.money(0, r.currency)])
            seen[1] += int(n)
            seen[2] += common.money(v, r.currency)
        return sorted(merged.values(), key=lambda row: (-row[1], row[0]))

    reasons = await by(
        closed.lost_reason_id,
        func.coalesce(LostReason.name, "No reason given"),
        (LostReason, LostReason.id == closed.lost_reason_id),
    )
    owners = await by(closed.owner_id, func.coalesce(User.full_name, "Unassigned"), (User, User.id == closed.owner_id))
    # The stage lost from: the status the lead left by its last move (into a lost status).
    before = aliased(PipelineStatus)
    stages = await by(
        closed.previous_status_id,
        func.coalesce(before.name, "Created lost"),
        (before, before.id == closed.previous_status_id),
    )
    found = {
        m: (int(n), common.money(v, r.currency))
        for m, n, v in await session.execute(
            select(closed.month, func.sum(closed.leads), value).where(*where).group_by(closed.month)
        )
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
