"""Custom reports on the wire (issue #20): a definition (entity, columns, filters, grouping,
aggregate, chart), its result, and a saved one shared with roles or teams. Field names are checked
against the server's per-entity allow-list (GET /api/reports/custom/fields lists it)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from crm_server.contract.common import Model
from crm_server.contract.reports import ReportColumn

CustomEntity = Literal["leads", "clients", "activities", "tickets", "proposals", "invoices", "payments", "stock"]
FilterOp = Literal["=", "!=", "<", ">", "contains", "is empty", "in", "between", "within"]
# A relative range for op "within", counted in UTC days from today.
RelativeRange = Literal[
    "today", "yesterday", "last_7_days", "last_30_days", "this_week", "this_month", "last_month", "this_year"
]
FilterValue = int | Decimal | str | list[int | Decimal | str] | None


class CustomFilter(BaseModel):
    """One condition: `field` `op` `value`. "in" and "between" take a list (between: [from, to]);
    "within" takes a RelativeRange name; "is empty" takes no value."""

    field: str = Field(min_length=1, max_length=60)
    op: FilterOp
    value: FilterValue = None


class CustomDefinition(BaseModel):
    entity: CustomEntity
    columns: list[str] = Field(default_factory=list, max_length=30, description="shown when not grouped")
    filters: list[CustomFilter] = Field(default_factory=list, max_length=20)
    group_by: list[str] = Field(
        default_factory=list, max_length=10, description='up to two; a date field as "field:month" (day, week, month)'
    )
    aggregate: Literal["count", "sum", "avg"] = "count"
    aggregate_field: str | None = Field(default=None, max_length=60, description="the numeric field of sum / avg")
    chart: Literal["bar", "line", "pie", "table"] = "bar"
    row_limit: int = Field(default=1000, ge=1, le=1000, description="rows answered at most; more says so")


class CustomFieldOut(Model):
    key: str
    label: str
    kind: str = Field(description="text, number, money, date, datetime, person, team, status")
    groupable: bool


class CustomEntityOut(Model):
    key: str
    label: str
    fields: list[CustomFieldOut]


class CustomResultOut(Model):
    entity: str
    columns: list[ReportColumn]
    rows: list[list[int | Decimal | str | None]]
    grouped: bool
    chart: str
    truncated: bool = Field(description="more rows than the limit: the rest are not shown")
    row_limit: int
    note: str = ""


class CustomReportIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    definition: CustomDefinition
    shared_role_ids: list[int] = Field(default_factory=list, max_length=50)
    shared_team_ids: list[int] = Field(default_factory=list, max_length=50)


class CustomReportOut(Model):
    id: int
    name: str
    entity: str
    definition: CustomDefinition
    owner_id: int
    shared_role_ids: list[int]
    shared_team_ids: list[int]
    mine: bool = False
    updated_at: datetime
