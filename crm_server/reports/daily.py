"""The daily summary (a manager's end of day): leads generated, follow-ups done, deals won and lost,
revenue booked (invoices issued, credit notes taking back; accrual) in the range, in the viewer's
scope, with the same per person. Usually sent by e-mail on a schedule (the range: today)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.activities.models import follow_up_day_counts
from crm_server.auth.models import User
from crm_server.auth.permissions import Principal
from crm_server.contract.reports import ReportColumn, ReportFigure, ReportOut, ReportQuery, ReportTable
from crm_server.invoices.models import Invoice
from crm_server.leads.models import Lead, PipelineStatus
from crm_server.reports import activity, common


async def report(session: AsyncSession, principal: Principal, query: ReportQuery) -> ReportOut:
    r = await common.resolve(session, principal, query)
    leads = common.lead_filters(r)
    people: dict[str, list[int]] = {}
    kept = follow_up_day_counts.c  # follow-ups done per day, kept by triggers (migration 0040)

    def slot(name: Any) -> list[int]:
        return people.setdefault(str(name or "Unassigned"), [0, 0, 0, 0])

    for name, n in await session.execute(
        select(User.full_name, func.count())
        .select_from(Lead)
        .outerjoin(User, User.id == Lead.owner_id)
        .where(*leads, Lead.created_at >= r.start, Lead.created_at < r.end)
        .group_by(User.full_name)
    ):
        slot(name)[0] = int(n)
    for name, n in await session.execute(
        select(User.full_name, func.sum(kept.n))
        .select_from(follow_up_day_counts)
        .outerjoin(User, User.id == kept.owner_id)
        .where(
            *activity.filters(r, kept.owner_id, kept.team_id),
            kept.state == "done",
            kept.day >= r.date_from,
            kept.day <= r.date_to,
        )
        .group_by(User.full_name)
    ):
        slot(name)[1] = int(n)
    for name, kind, n in await session.execute(
        select(User.full_name, PipelineStatus.kind, func.count())
        .select_from(Lead)
        .join(PipelineStatus, PipelineStatus.id == Lead.status_id)
        .outerjoin(User, User.id == Lead.owner_id)
        .where(*leads, PipelineStatus.kind.in_(("won", "lost")), Lead.closed_at >= r.start, Lead.closed_at < r.end)
        .group_by(User.full_name, PipelineStatus.kind)
    ):
        slot(name)[2 if kind == "won" else 3] = int(n)
    invoices = [
        Invoice.status != "draft",
        Invoice.currency == r.currency,
        Invoice.issue_date >= r.date_from,
        Invoice.issue_date <= r.date_to,
        principal.scope_filter("invoices", Invoice.owner_id, Invoice.team_id),
        principal.scope_filter("reports", Invoice.owner_id, Invoice.team_id),
    ]
    if query.team_id is not None:
        invoices.append(Invoice.team_id == query.team_id)
    if query.owner_id is not None:
        invoices.append(Invoice.owner_id == query.owner_id)
    booked = Decimal(
        await session.scalar(select(func.coalesce(func.sum(Invoice.gross_total), 0)).where(*invoices)) or 0
    )
    rows: list[list[Any]] = [[name, *people[name]] for name in sorted(people)]
    totals = [sum(row[i] for row in rows) for i in range(1, 5)]
    return ReportOut(
        key="daily",
        title="Daily summary",
        date_from=r.date_from,
        date_to=r.date_to,
        currency=r.currency,
        figures=[
            ReportFigure(label="Leads generated", value=totals[0], kind="count"),
            ReportFigure(label="Follow-ups done", value=totals[1], kind="count"),
            ReportFigure(label="Deals won", value=totals[2], kind="count"),
            ReportFigure(label="Deals lost", value=totals[3], kind="count"),
            ReportFigure(label="Revenue booked", value=common.money(booked, r.currency), kind="money"),
        ],
        tables=[
            ReportTable(
                key="people",
                title="By person",
                columns=[
                    ReportColumn(key="person", title="Person"),
                    ReportColumn(key="leads", title="Leads generated", kind="count"),
                    ReportColumn(key="done", title="Follow-ups done", kind="count"),
                    ReportColumn(key="won", title="Won", kind="count"),
                    ReportColumn(key="lost", title="Lost", kind="count"),
                ],
                rows=rows[: common.MAX_ROWS],
                chart="stacked",
                chart_columns=["leads", "done", "won", "lost"],
                note="Revenue booked: invoices issued in the range less credit notes, in the report's currency.",
            )
        ],
    )
