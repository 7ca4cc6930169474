"""Lead sources: per source, the leads created in the range (in scope, filtered; counted from the kept
month counts, see common.leads_created), how many are won, the conversion, the won leads' value, the
money actually paid on the invoices of the clients those won leads became (each client once per
source), what a manager entered as spent on the source in the range's months, and the return on it:
(paid - cost) / cost. Amounts in the report's currency only (never converted)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.auth.permissions import Principal
from crm_server.contract.reports import ReportColumn, ReportFigure, ReportOut, ReportQuery, ReportTable
from crm_server.invoices.models import Invoice
from crm_server.leads.models import Lead, PipelineStatus
from crm_server.reports import common
from crm_server.reports.models import LeadSourceCost

NO_SOURCE = "No source"


async def report(session: AsyncSession, principal: Principal, query: ReportQuery) -> ReportOut:
    r = await common.resolve(session, principal, query)
    cur = r.currency
    zero = common.money(0, cur)
    won_ids = select(PipelineStatus.id).where(PipelineStatus.kind == "won")
    created = common.leads_created(r).c
    is_won = created.status_id.in_(won_ids)
    figures: dict[str, list[Any]] = {}
    for name, leads, won, value in await session.execute(
        select(
            created.source,
            func.sum(created.leads),
            func.coalesce(func.sum(created.leads).filter(is_won), 0),
            func.coalesce(func.sum(created.value).filter(is_won, created.currency == cur), 0),
        ).group_by(created.source)
    ):
        seen = figures.setdefault(str(name or NO_SOURCE), [0, 0, zero, zero, zero])
        seen[:3] = [seen[0] + int(leads), seen[1] + int(won), seen[2] + common.money(value, cur)]
    # What the won leads' clients paid: the converted leads of the range, one by one (an index of
    # converted leads by creation time: few of all leads).
    source = func.coalesce(Lead.source, NO_SOURCE)
    where = [
        *common.lead_filters(r),
        Lead.created_at >= r.start,
        Lead.created_at < r.end,
        Lead.converted_client_id.is_not(None),
        Lead.status_id.in_(won_ids),
    ]
    clients = (
        select(source.label("source"), Lead.converted_client_id.label("client_id")).where(*where).distinct().subquery()
    )
    paid = (
        select(Invoice.client_id, func.sum(Invoice.paid_total).label("paid"))
        .where(Invoice.kind == "invoice", Invoice.currency == cur, Invoice.status != "draft")
        .group_by(Invoice.client_id)
        .subquery()
    )
    for name, amount in await session.execute(
        select(clients.c.source, func.sum(paid.c.paid))
        .join(paid, paid.c.client_id == clients.c.client_id)
        .group_by(clients.c.source)
    ):
        figures[str(name)][3] = common.money(amount, cur)
    first, last = r.date_from.replace(day=1), r.date_to.replace(day=1)
    costs = select(LeadSourceCost.source, func.sum(LeadSourceCost.amount)).where(
        LeadSourceCost.currency == cur, LeadSourceCost.month >= first, LeadSourceCost.month <= last
    )
    if query.source is not None:
        costs = costs.where(LeadSourceCost.source == query.source)
    for name, amount in await session.execute(costs.group_by(LeadSourceCost.source)):
        figures.setdefault(str(name), [0, 0, zero, zero, zero])[4] = common.money(amount, cur)
    rows: list[list[Any]] = []
    for name in sorted(figures, key=lambda n: (-figures[n][0], n)):
        leads, won, value, received, cost = figures[name]
        roi = common.percent(received - cost, cost) if cost else None
        rows.append([name, leads, won, common.percent(won, leads), value, received, cost, roi])
    all_leads, all_won, received, cost = (sum((row[i] for row in rows), Decimal(0)) for i in (1, 2, 5, 6))
    return ReportOut(
        key="sources",
        title="Lead sources",
        date_from=r.date_from,
        date_to=r.date_to,
        currency=cur,
        figures=[
            ReportFigure(label="Leads", value=int(all_leads), kind="count"),
            ReportFigure(label="Won", value=int(all_won), kind="count"),
            ReportFigure(label="Paid by won clients", value=common.money(received, cur), kind="money"),
            ReportFigure(label="Spent", value=common.money(cost, cur), kind="money"),
            ReportFigure(label="Return", value=common.percent(received - cost, cost) if cost else None, kind="percent"),
        ],
        tables=[
            ReportTable(
                key="sources",
                title="By source",
                columns=[
                    ReportColumn(key="source", title="Source"),
                    ReportColumn(key="leads", title="Leads", kind="count"),
                    ReportColumn(key="won", title="Won", kind="count"),
                    ReportColumn(key="conversion", title="Conversion", kind="percent"),
                    ReportColumn(key="won_value", title="Won value", kind="money"),
                    ReportColumn(key="paid", title="Paid", kind="money"),
                    ReportColumn(key="cost", title="Spent", kind="money"),
                    ReportColumn(key="roi", title="Return", kind="percent"),
                ],
                rows=rows[: common.MAX_ROWS],
                chart="bar",
                chart_columns=["leads", "won"],
                note=(
                    f"Leads created in the range. Paid: what the clients the won leads became paid on their "
                    f"{cur} invoices. Return: (paid - spent) / spent, spent in the range's months."
                ),
            )
        ],
    )


def month_start(day: date) -> date:
    return day.replace(day=1)
