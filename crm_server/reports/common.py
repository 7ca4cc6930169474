"""What every standard report shares: the chosen range as dates and as UTC instants, the currency,
the pipeline, the scope and filters on leads, and the small arithmetic of percentages and medians.

Days are UTC days: a range [from, to] is the instants from `from` 00:00 UTC to the end of `to`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    DateTime,
    Subquery,
    cast,
    func,
    literal,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import money as money_rules
from crm_server.admin import settings
from crm_server.auth.permissions import Principal
from crm_server.contract.reports import ReportQuery
from crm_server.errors import ValidationFailed
from crm_server.invoices.service import checked_currency
from crm_server.leads.models import Lead, Pipeline, lead_closed_counts, lead_month_counts
from crm_server.reports.service import MAX_PERIODS, next_period, period_start, periods

MAX_ROWS = 500  # a breakdown longer than this is cut (and says so)


@dataclass(frozen=True)
class Range:
    principal: Principal
    query: ReportQuery
    date_from: date
    date_to: date
    start: datetime  # date_from 00:00 UTC
    end: datetime  # the day after date_to, 00:00 UTC (excluded)
    currency: str

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def previous(self) -> tuple[datetime, datetime]:
        """The period of the same length just before this one."""
        return self.start - self.length, self.start


def instant(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


async def resolve(session: AsyncSession, principal: Principal, query: ReportQuery) -> Range:
    date_to = query.date_to or date.today()
    date_from = query.date_from or date(date_to.year, 1, 1)
    if date_from > date_to:
        raise ValidationFailed(
            f"The start date {date_from.isoformat()} is after the end date {date_to.isoformat()}.", field="date_from"
        )
    if len(periods(date_from, date_to, query.group)) > MAX_PERIODS:
        raise ValidationFailed(
            f"That is more than {MAX_PERIODS} {query.group}s; group by a longer period or choose a shorter range.",
            field="group",
        )
    if query.source is not None and any(ord(c) < 32 for c in query.source):
        raise ValidationFailed("A source name has no control characters.", field="source")
    currency = checked_currency(query.currency or str(await settings.get(session, "sales.base_currency")))
    return Range(
        principal, query, date_from, date_to, instant(date_from), instant(date_to + timedelta(days=1)), currency
    )


async def pipeline_id(session: AsyncSession, query: ReportQuery) -> int:
    """The chosen pipeline, else the default one."""
    if query.pipeline_id is not None:
        found = await session.get(Pipeline, query.pipeline_id)
        if found is None:
            raise ValidationFailed("No such pipeline.", field="pipeline_id")
        return found.id
    chosen = await session.scalar(select(Pipeline.id).order_by(Pipeline.is_default.desc(), Pipeline.id).limit(1))
    if chosen is None:
        raise ValidationFailed("There is no pipeline yet.", field="pipeline_id")
    return int(chosen)


def lead_filters(r: Range, *, pipeline: bool = True) -> list[ColumnElement[bool]]:
    """Live leads the viewer may see (their leads scope narrowed by their reports scope) that match
    the team, owner, source and (with `pipeline`) pipeline filters."""
    return [Lead.archived_at.is_(None), *_lead_filters_on(r, Lead.__table__.c, pipeline)]


def kept_lead_filters(r: Range, c: Any) -> list[ColumnElement[bool]]:
    """lead_filters on a table of counts kept from the live leads (no source filter where it keeps
    no source: the caller counts the leads then)."""
    return _lead_filters_on(r, c, pipeline=True)


def _lead_filters_on(r: Range, c: Any, pipeline: bool) -> list[ColumnElement[bool]]:
    """The scope and filters on the columns `c` of leads or of a table kept from them."""
    q = r.query
    out = [
        r.principal.scope_filter("leads", c.owner_id, c.team_id),
        r.principal.scope_filter("reports", c.owner_id, c.team_id),
    ]
    if q.team_id is not None:
        out.append(c.team_id == q.team_id)
    if q.owner_id is not None:
        out.append(c.owner_id == q.owner_id)
    if q.source is not None:
        out.append(c.source == q.source)
    if pipeline and q.pipeline_id is not None:
        out.append(c.pipeline_id == q.pipeline_id)
    return out


def whole_months(r: Range) -> tuple[date, date] | None:
    """The first and last whole UTC month inside the range, if any."""
    first = r.date_from if r.date_from.day == 1 else next_period(r.date_from, "month")
    last = period_start(r.date_to + timedelta(days=1), "month") - timedelta(days=1)  # a whole month's last day
    last_month = period_start(last, "month")
    return (first, last_month) if first <= last_month else None


def leads_created(r: Range, *, pipeline: bool = True) -> Subquery:
    """The live leads created in the range (scope and filters applied) as rows of month, pipeline_id,
    status_id, currency, owner_id, team_id, source, reached, leads and value."""
    k = lead_month_counts.c
    return _kept_and_counted(
        r,
        k,
        Lead.created_at,
        [k.month, k.pipeline_id, k.status_id, k.currency, k.owner_id, k.team_id, k.source, k.reached],
        [Lead.reached_status_ids],
        pipeline,
    )


def leads_closed(r: Range) -> Subquery:
    """The live leads closed in the range (scope and filters applied) as rows of month, pipeline_id,
    status_id, currency, owner_id, team_id, source, lost_reason_id, previous_status_id, leads and
    value."""
    k = lead_closed_counts.c
    return _kept_and_counted(
        r,
        k,
        Lead.closed_at,
        [
            k.month,
            k.pipeline_id,
            k.status_id,
            k.currency,
            k.owner_id,
            k.team_id,
            k.source,
            k.lost_reason_id,
            k.previous_status_id,
        ],
        [Lead.lost_reason_id, Lead.previous_status_id],
        True,
    )


def _kept_and_counted(r: Range, k: Any, at: Any, kept: list[Any], extra: list[Any], pipeline: bool) -> Subquery:
    """The range's whole months from a table of counts kept from the leads (migration 0040), the
    days before and after them one lead per row (from an index that carries these columns). A year
    of a million leads is a few tens of thousands of rows. `kept`: the kept table's columns before
    its leads and value; `extra`: the leads' columns matching kept[7:]."""
    parts: list[Any] = []  # selects of the same columns
    months = whole_months(r)
    edges = [(r.start, r.end)]
    if months is not None:
        parts.append(
            select(*kept, k.leads, k.value).where(
                *_lead_filters_on(r, k, pipeline), k.month >= months[0], k.month <= months[1]
            )
        )
        edges = [(r.start, instant(months[0])), (instant(next_period(months[1], "month")), r.end)]
    for start, end in edges:
        if start < end:
            parts.append(
                select(
                    month_of(at),
                    Lead.pipeline_id,
                    Lead.status_id,
                    Lead.currency,
                    Lead.owner_id,
                    Lead.team_id,
                    Lead.source,
                    *extra,
                    literal(1, BigInteger),
                    func.coalesce(Lead.value, 0),
                ).where(*lead_filters(r, pipeline=pipeline), at >= start, at < end)
            )
    names = [c.name for c in kept] + ["leads", "value"]
    first, *rest = parts
    labelled = first.with_only_columns(*(col.label(n) for col, n in zip(first.selected_columns, names, strict=True)))
    return union_all(labelled, *rest).subquery("counted")


def month_of(column: Any) -> ColumnElement[date]:
    """The first day of the month of a date or (UTC) instant."""
    return cast(func.date_trunc(literal_column("'month'"), cast(func.timezone("UTC", column), DateTime)), Date)


def period_of(column: Any, group: str) -> ColumnElement[date]:
    assert group in ("day", "week", "month")
    return cast(func.date_trunc(literal_column(f"'{group}'"), cast(func.timezone("UTC", column), DateTime)), Date)


def period_of_date(column: Any, group: str) -> ColumnElement[date]:
    """The first day of the day, week or month of a date (the unit written into the SQL, so the
    SELECT and the GROUP BY are one expression)."""
    assert group in ("day", "week", "month")
    return cast(func.date_trunc(literal_column(f"'{group}'"), cast(column, DateTime)), Date)


def month_of_date(column: Any) -> ColumnElement[date]:
    return cast(func.date_trunc(literal_column("'month'"), cast(column, DateTime)), Date)


def percent(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    """part / whole in percent to one decimal; None of nothing."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def change(now: int | Decimal, before: int | Decimal) -> Decimal | None:
    """How much `now` moved from `before`, in percent (None when there was nothing before)."""
    if not before:
        return None
    return ((Decimal(now) - Decimal(before)) * 100 / Decimal(before)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def hours(seconds: Any) -> Decimal | None:
    if seconds is None:
        return None
    return (Decimal(str(seconds)) / 3600).quantize(Decimal("0.1"), ROUND_HALF_UP)


def days(seconds: Any) -> Decimal | None:
    if seconds is None:
        return None
    return (Decimal(str(seconds)) / 86400).quantize(Decimal("0.1"), ROUND_HALF_UP)


def median_seconds(interval: Any) -> Any:
    """The median of an interval expression, in seconds."""
    return func.percentile_cont(0.5).within_group(func.extract("epoch", interval))


def money(value: Any, currency: str) -> Decimal:
    return money_rules.round_money(Decimal(value or 0), currency)


def month_label(day: date) -> str:
    return day.strftime("%Y-%m")
