"""What every standard report shares: the chosen range as dates and as UTC instants, the currency,
the pipeline, the scope and filters on leads, and the small arithmetic of percentages and medians.

Days are UTC days: a range [from, to] is the instants from `from` 00:00 UTC to the end of `to`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, Date, DateTime, cast, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import money as money_rules
from crm_server.admin import settings
from crm_server.auth.permissions import Principal
from crm_server.contract.reports import ReportQuery
from crm_server.errors import ValidationFailed
from crm_server.invoices.service import checked_currency
from crm_server.leads.models import Lead, Pipeline
from crm_server.reports.service import MAX_PERIODS, periods

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
    q = r.query
    out = [
        Lead.archived_at.is_(None),
        r.principal.scope_filter("leads", Lead.owner_id, Lead.team_id),
        r.principal.scope_filter("reports", Lead.owner_id, Lead.team_id),
    ]
    if q.team_id is not None:
        out.append(Lead.team_id == q.team_id)
    if q.owner_id is not None:
        out.append(Lead.owner_id == q.owner_id)
    if q.source is not None:
        out.append(Lead.source == q.source)
    if pipeline and q.pipeline_id is not None:
        out.append(Lead.pipeline_id == q.pipeline_id)
    return out


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
