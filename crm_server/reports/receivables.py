"""Receivables ageing: what is still owed on issued invoices (not drafts, not cancelled) in the
report's currency, by client, by how many days past its due date each invoice is on the range's
last day: not yet due, 0-30, 31-60, 61-90, over 90. In the viewer's invoices scope narrowed by their
reports scope; team and owner filters apply to the invoice. Payments count as recorded today."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.auth.permissions import Principal
from crm_server.clients.models import Client
from crm_server.contract.reports import ReportColumn, ReportFigure, ReportOut, ReportQuery, ReportTable
from crm_server.invoices.models import Invoice
from crm_server.invoices.service import OPEN
from crm_server.reports import common

BUCKETS = (
    ("current", "Not yet due"),
    ("d30", "0-30 days"),
    ("d60", "31-60 days"),
    ("d90", "61-90 days"),
    ("d90p", "Over 90 days"),
)


async def report(session: AsyncSession, principal: Principal, query: ReportQuery) -> ReportOut:
    r = await common.resolve(session, principal, query)
    cur = r.currency
    owed = Invoice.gross_total - Invoice.paid_total
    late = r.date_to - func.coalesce(Invoice.due_date, Invoice.issue_date)  # days past due on the last day
    bucket = case((late < 0, "current"), (late <= 30, "d30"), (late <= 60, "d60"), (late <= 90, "d90"), else_="d90p")
    where = [
        Invoice.kind == "invoice",
        Invoice.status.in_(OPEN),  # what is still owed: the open invoices' index (migration 0040)
        Invoice.currency == cur,
        Invoice.issue_date <= r.date_to,
        owed > 0,
        r.principal.scope_filter("invoices", Invoice.owner_id, Invoice.team_id),
        r.principal.scope_filter("reports", Invoice.owner_id, Invoice.team_id),
    ]
    if query.team_id is not None:
        where.append(Invoice.team_id == query.team_id)
    if query.owner_id is not None:
        where.append(Invoice.owner_id == query.owner_id)

    # Summed in SQL: the largest debtors first (only the rows shown leave the database) and the totals
    # of every client in one more aggregate.
    def in_bucket(key: str) -> Any:
        return func.coalesce(func.sum(owed).filter(bucket == key), 0)

    sums = [in_bucket(k) for k, _ in BUCKETS]
    total_owed = func.coalesce(func.sum(owed), 0)
    zero = common.money(0, cur)
    rows: list[list[Any]] = [
        [str(name), *(common.money(v, cur) for v in cells)]
        for name, *cells in await session.execute(
            select(Client.name, *sums, total_owed)
            .join(Client, Client.id == Invoice.client_id)
            .where(*where)
            .group_by(Client.name)
            .order_by(total_owed.desc(), Client.name)
            .limit(common.MAX_ROWS)
        )
    ]
    totals = [common.money(v, cur) for v in (await session.execute(select(*sums, total_owed).where(*where))).one()]
    return ReportOut(
        key="receivables",
        title="Receivables",
        date_from=r.date_from,
        date_to=r.date_to,
        currency=cur,
        figures=[
            ReportFigure(label="Owed", value=totals[-1], kind="money"),
            ReportFigure(label="Overdue", value=sum(totals[1:-1], zero), kind="money"),
            ReportFigure(label="Over 90 days", value=totals[-2], kind="money"),
        ],
        tables=[
            ReportTable(
                key="clients",
                title="By client",
                columns=[
                    ReportColumn(key="client", title="Client"),
                    *(ReportColumn(key=k, title=label, kind="money") for k, label in BUCKETS),
                    ReportColumn(key="total", title="Total owed", kind="money"),
                ],
                rows=rows[: common.MAX_ROWS],
                chart="stacked",
                chart_columns=[k for k, _ in BUCKETS],
                note=f"Unpaid {cur} on issued invoices, aged by days past due on {r.date_to.isoformat()}.",
            ),
            ReportTable(
                key="ageing",
                title="Ageing",
                columns=[
                    ReportColumn(key="bucket", title="Days past due"),
                    ReportColumn(key="owed", title="Owed", kind="money"),
                ],
                rows=[[label, totals[i]] for i, (_, label) in enumerate(BUCKETS)],
                chart="bar",
                chart_columns=["owed"],
                note=f"Unpaid {cur} on issued invoices, aged by days past due on {r.date_to.isoformat()}.",
            ),
        ],
    )
