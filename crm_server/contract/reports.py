"""Reports on the wire. Amounts are Decimal (strings in JSON)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from crm_server.contract.common import Model


class ReportBasis(StrEnum):
    accrual = "accrual"  # by invoice date: what was billed, paid or not
    cash = "cash"  # by payment date: what came in


class SalesQuery(BaseModel):
    basis: ReportBasis = ReportBasis.accrual
    date_from: date | None = Field(default=None, description="defaults to the first day of this year")
    date_to: date | None = Field(default=None, description="defaults to today")
    group: Literal["day", "week", "month"] = "month"
    currency: str | None = Field(default=None, description="ISO 4217; defaults to sales.base_currency")


class SalesPeriod(Model):
    period_start: date
    total: Decimal = Field(description="gross: invoices less credit notes (accrual) or payments received (cash)")
    count: int = Field(description="invoices and credit notes (accrual) or payments (cash)")


class SalesReportOut(Model):
    basis: ReportBasis
    currency: str
    date_from: date
    date_to: date
    group: str
    periods: list[SalesPeriod] = Field(description="every period of the range, empty ones with 0")
    total: Decimal
    other_basis_total: Decimal = Field(description="the same range's total on the other basis")
    explanation: str = Field(description="what this basis counts and why the two totals differ, in figures")


# --- the standard reports of issue #20: each answers figures, then tables (a chart each) ----------

# "custom": a saved custom report (crm_server.reports.custom), named by custom_report_id; schedulable.
ReportKey = Literal["funnel", "lost", "sources", "activity", "forecast", "support", "receivables", "daily", "custom"]
REPORT_TITLES: dict[str, str] = {
    "funnel": "Sales funnel",
    "lost": "Lost deals",
    "sources": "Lead sources",
    "activity": "Team activity",
    "forecast": "Pipeline and forecast",
    "support": "Support",
    "receivables": "Receivables",
    "daily": "Daily summary",
    "custom": "Custom report",
}
ColumnKind = Literal["text", "count", "money", "percent", "hours", "days"]
# A cell: text, a whole count, or a Decimal (money, percent, hours, days: a string in JSON, parse by
# the column's kind); None where there is nothing to say (a median of no tickets, an ROI of no cost).
Cell = int | Decimal | str | None


class ReportQuery(BaseModel):
    """The filters every standard report takes; one that does not apply to a report is ignored."""

    date_from: date | None = Field(default=None, description="defaults to the first day of this year")
    date_to: date | None = Field(default=None, description="defaults to today")
    team_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    owner_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    source: str | None = Field(default=None, max_length=100, description="a lead source's name")
    pipeline_id: int | None = Field(default=None, ge=1, le=2**63 - 1, description="defaults to the default one")
    group: Literal["day", "week", "month"] = Field(default="month", description="team activity's periods")
    currency: str | None = Field(default=None, description="ISO 4217; defaults to sales.base_currency")
    custom_report_id: int | None = Field(default=None, ge=1, le=2**63 - 1, description="the saved custom report")


class ReportColumn(Model):
    key: str
    title: str
    kind: ColumnKind = "text"


class ReportTable(Model):
    """One breakdown: its rows, and the chart drawn from it (the first column names each bar or
    point; `chart_columns` are the plotted ones)."""

    key: str
    title: str
    columns: list[ReportColumn]
    rows: list[list[Cell]] = Field(description="one list per row, cells in the order of `columns`")
    chart: Literal["bar", "stacked", "line", "none"] = "bar"
    chart_columns: list[str] = Field(default_factory=list)
    note: str = Field(default="", description="how the figures are counted, in one sentence or two")


class ReportFigure(Model):
    label: str
    value: Cell
    kind: ColumnKind


class ReportOut(Model):
    key: ReportKey
    title: str
    date_from: date
    date_to: date
    currency: str
    figures: list[ReportFigure] = Field(description="the key numbers, shown above the chart")
    tables: list[ReportTable]


class SourceCostIn(BaseModel):
    """What was spent on a lead source in one month; amount 0 removes the entry."""

    source: str = Field(min_length=1, max_length=100)
    month: date = Field(description="any day of the month")
    amount: Decimal = Field(ge=0, le=Decimal("999999999999.99"), max_digits=14, decimal_places=2)
    currency: str | None = Field(default=None, description="ISO 4217; defaults to sales.base_currency")


class SourceCostOut(Model):
    id: int
    source: str
    month: date
    amount: Decimal
    currency: str


class StageProbabilityIn(BaseModel):
    win_probability: Decimal = Field(ge=0, le=100, max_digits=5, decimal_places=2)


class StageProbabilityOut(Model):
    id: int
    pipeline_id: int
    name: str
    kind: str
    position: int
    win_probability: Decimal


# --- scheduled reports ----------------------------------------------------------------------------

# A schedule's range, relative to the day it is sent (UTC days).
SchedulePeriod = Literal[
    "today", "yesterday", "last_7_days", "last_30_days", "last_month", "month_to_date", "year_to_date"
]


class ScheduleFilters(BaseModel):
    team_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    owner_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    source: str | None = Field(default=None, max_length=100)
    pipeline_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    group: Literal["day", "week", "month"] = "month"
    currency: str | None = Field(default=None, max_length=3)
    custom_report_id: int | None = Field(
        default=None, ge=1, le=2**63 - 1, description='report "custom": which saved one'
    )


class ScheduleIn(BaseModel):
    """A standard report e-mailed as .xlsx (key figures in the body) at `hour` UTC: daily, weekly on
    `weekday` (1 = Monday) or monthly on `day_of_month` (1-28), to users and everyone in roles; each
    recipient gets the report as they may see it."""

    name: str = Field(min_length=1, max_length=200)
    report: ReportKey
    period: SchedulePeriod = "yesterday"
    filters: ScheduleFilters = Field(default_factory=ScheduleFilters)
    frequency: Literal["daily", "weekly", "monthly"] = "daily"
    hour: int = Field(default=7, ge=0, le=23)
    weekday: int | None = Field(default=None, ge=1, le=7)
    day_of_month: int | None = Field(default=None, ge=1, le=28)
    user_ids: list[int] = Field(default_factory=list, max_length=500)
    role_ids: list[int] = Field(default_factory=list, max_length=50)
    send_empty: bool = Field(default=False, description="send even when the report counts nothing")
    active: bool = True


class ScheduleOut(Model):
    id: int
    name: str
    report: str
    period: str
    filters: dict[str, Any]
    frequency: str
    hour: int
    weekday: int | None
    day_of_month: int | None
    user_ids: list[int]
    role_ids: list[int]
    send_empty: bool
    active: bool
    next_run_at: datetime
    last_run_at: datetime | None
    last_status: str | None = Field(description="sent, empty (not sent), failed")
    last_error: str | None
    unsubscribed: bool = Field(default=False, description="the viewer asked not to get it")
