"""Support: the tickets opened in the range (in the viewer's tickets scope narrowed by their reports
scope; team and owner = assignee filters) by team, by category and per month: how many, the median
first response and resolution times in hours (wall-clock, from opening), and first-response SLA
breaches (answered after the due time, or unanswered and already past it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.auth.models import Team
from crm_server.auth.permissions import Principal
from crm_server.contract.reports import ReportColumn, ReportFigure, ReportOut, ReportQuery, ReportTable
from crm_server.db import utcnow
from crm_server.reports import common
from crm_server.reports.service import next_period, period_start
from crm_server.tickets.models import Ticket, TicketCategory
from crm_server.tickets.queries import scope_filter

COLUMNS = [
    ReportColumn(key="tickets", title="Tickets", kind="count"),
    ReportColumn(key="first_response", title="Median first response (h)", kind="hours"),
    ReportColumn(key="resolution", title="Median resolution (h)", kind="hours"),
    ReportColumn(key="breaches", title="SLA breaches", kind="count"),
]


def _filters(r: common.Range) -> list[ColumnElement[bool]]:
    out = [
        Ticket.archived_at.is_(None),
        scope_filter(r.principal),
        r.principal.scope_filter("reports", Ticket.assignee_id, Ticket.team_id),
        Ticket.created_at >= r.start,
        Ticket.created_at < r.end,
    ]
    if r.query.team_id is not None:
        out.append(Ticket.team_id == r.query.team_id)
    if r.query.owner_id is not None:
        out.append(Ticket.assignee_id == r.query.owner_id)
    return out


async def report(session: AsyncSession, principal: Principal, query: ReportQuery) -> ReportOut:
    r = await common.resolve(session, principal, query)
    where = _filters(r)
    due = Ticket.first_response_due_at
    breached = and_(
        due.is_not(None),
        or_(Ticket.first_responded_at > due, and_(Ticket.first_responded_at.is_(None), due < utcnow())),
    )
    measures = (
        func.count(),
        common.median_seconds(Ticket.first_responded_at - Ticket.created_at),
        common.median_seconds(Ticket.resolved_at - Ticket.created_at),
        func.count().filter(breached),
    )

    # One pass over the range's tickets for the four groupings (team, category, month, all).
    team = func.coalesce(Team.name, "No team")
    category = func.coalesce(TicketCategory.name, "No category")
    month = common.month_of(Ticket.created_at)
    grouped = (
        select(func.grouping(team, category, month), team, category, month, *measures)
        .select_from(Ticket)
        .outerjoin(Team, Team.id == Ticket.team_id)
        .outerjoin(TicketCategory, TicketCategory.id == Ticket.category_id)
        .where(*where)
        .group_by(func.grouping_sets(tuple_(team), tuple_(category), tuple_(month), tuple_()))
    )
    found_by: dict[int, list[list[Any]]] = {}
    for bits, team_name, category_name, start_of, *m in await session.execute(grouped):
        label = team_name if bits == 0b011 else category_name if bits == 0b101 else start_of
        found_by.setdefault(int(bits), []).append([label, int(m[0]), common.hours(m[1]), common.hours(m[2]), int(m[3])])

    def ranked(rows: list[list[Any]]) -> list[list[Any]]:
        return sorted(rows, key=lambda row: (-row[1], str(row[0])))

    teams = ranked(found_by.get(0b011, []))
    categories = ranked(found_by.get(0b101, []))
    found = {row[0]: row[1:] for row in found_by.get(0b110, [])}
    months: list[list[Any]] = []
    start = period_start(r.date_from, "month")
    while start <= r.date_to:
        months.append([common.month_label(start), *found.get(start, [0, None, None, 0])])
        start = next_period(start, "month")
    everything = found_by.get(0b111, [[None, 0, None, None, 0]])[0]
    overall = [everything[1], everything[2], everything[3], everything[4]]

    def table(key: str, title: str, first: str, rows: list[list[Any]], chart: str = "bar") -> ReportTable:
        return ReportTable(
            key=key,
            title=title,
            columns=[ReportColumn(key="label", title=first), *COLUMNS],
            rows=rows[: common.MAX_ROWS],
            chart=chart,  # type: ignore[arg-type]
            chart_columns=["tickets", "breaches"],
            note="Tickets opened in the range; times in hours from opening (wall clock). "
            "A breach: first answer after its due time, or none yet and the time has passed.",
        )

    return ReportOut(
        key="support",
        title="Support",
        date_from=r.date_from,
        date_to=r.date_to,
        currency=r.currency,
        figures=[
            ReportFigure(label="Tickets", value=int(overall[0]), kind="count"),
            ReportFigure(label="Median first response (h)", value=overall[1], kind="hours"),
            ReportFigure(label="Median resolution (h)", value=overall[2], kind="hours"),
            ReportFigure(label="SLA breaches", value=int(overall[3]), kind="count"),
        ],
        tables=[
            table("teams", "By team", "Team", teams),
            table("categories", "By category", "Category", categories),
            table("months", "By month", "Month", months, "line"),
        ],
    )
