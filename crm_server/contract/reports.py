"""Reports on the wire. Amounts are Decimal (strings in JSON)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Literal

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
