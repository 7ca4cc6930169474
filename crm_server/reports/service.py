"""The sales report: totals per day, week or month on the basis the user chooses, next to the other
basis's total over the same range and a sentence that explains the difference in figures.

Accrual counts issued documents on their issue date at their gross total: a cancelled invoice still
counts on its date and its credit note (a negative twin dated the day it was cancelled) takes it
back, so the figures of a closed period never change. Drafts count nowhere. Cash counts payments on
the day they arrived. Only documents in the chosen currency count (amounts are never converted),
and only those the user may see (their invoice scope, narrowed by their reports scope)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Date, DateTime, cast, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import money
from crm_server.admin import settings
from crm_server.auth.permissions import Principal
from crm_server.contract.reports import ReportBasis, SalesPeriod, SalesQuery, SalesReportOut
from crm_server.errors import ValidationFailed
from crm_server.invoices.models import Invoice, Payment
from crm_server.invoices.service import checked_currency

MAX_PERIODS = 1000  # a few years of days: more is a list nobody reads


def period_start(day: date, group: str) -> date:
    """The first day of the period `day` falls in (weeks start on Monday, as date_trunc says)."""
    if group == "day":
        return day
    if group == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def next_period(start: date, group: str) -> date:
    if group == "day":
        return start + timedelta(days=1)
    if group == "week":
        return start + timedelta(weeks=1)
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


def periods(date_from: date, date_to: date, group: str) -> list[date]:
    """Every period's first day from the one holding `date_from` to the one holding `date_to`."""
    out, start = [], period_start(date_from, group)
    while start <= date_to:
        out.append(start)
        start = next_period(start, group)
    return out


def _period(column: Any, group: str) -> ColumnElement[date]:
    """date_trunc on the date as a plain timestamp (no time zone in play); the unit is written into
    the SQL, not bound, so the SELECT and the GROUP BY are the same expression."""
    assert group in ("day", "week", "month")
    return cast(func.date_trunc(literal_column(f"'{group}'"), cast(column, DateTime)), Date)


def _scope(principal: Principal) -> list[ColumnElement[bool]]:
    return [
        principal.scope_filter("invoices", Invoice.owner_id, Invoice.team_id),
        principal.scope_filter("reports", Invoice.owner_id, Invoice.team_id),
    ]


async def _accrual(
    session: AsyncSession, principal: Principal, currency: str, date_from: date, date_to: date, group: str
) -> dict[date, tuple[Decimal, int]]:
    start = _period(Invoice.issue_date, group)
    rows = await session.execute(
        select(start, func.sum(Invoice.gross_total), func.count())
        .where(
            Invoice.status != "draft",
            Invoice.currency == currency,
            Invoice.issue_date >= date_from,
            Invoice.issue_date <= date_to,
            *_scope(principal),
        )
        .group_by(start)
    )
    return {r[0]: (Decimal(r[1]), int(r[2])) for r in rows}


async def _cash(
    session: AsyncSession, principal: Principal, currency: str, date_from: date, date_to: date, group: str
) -> dict[date, tuple[Decimal, int]]:
    start = _period(Payment.paid_on, group)
    rows = await session.execute(
        select(start, func.sum(Payment.amount), func.count())
        .join(Invoice, Invoice.id == Payment.invoice_id)
        .where(
            Invoice.currency == currency, Payment.paid_on >= date_from, Payment.paid_on <= date_to, *_scope(principal)
        )
        .group_by(start)
    )
    return {r[0]: (Decimal(r[1]), int(r[2])) for r in rows}


def _amount(value: Decimal, currency: str) -> str:
    places = money.minor_unit(currency)
    return f"{money.round_money(value, currency):,.{places}f} {currency}"


def explain(basis: ReportBasis, accrual: Decimal, cash: Decimal, currency: str) -> str:
    """What each basis counts, both totals, and where the difference comes from, in one paragraph."""
    said = {
        ReportBasis.accrual: (
            "Accrual counts invoices on their invoice date, paid or not "
            f"(credit notes take cancelled ones back): {_amount(accrual, currency)}."
        ),
        ReportBasis.cash: f"Cash counts payments on the day they arrived: {_amount(cash, currency)}.",
    }
    other = ReportBasis.cash if basis is ReportBasis.accrual else ReportBasis.accrual
    text = f"{said[basis]} {said[other]}"
    difference = accrual - cash
    if difference > 0:
        why = (
            f"The {_amount(difference, currency)} difference is invoiced but not yet paid in this range, "
            "less payments received in it for earlier invoices."
        )
    elif difference < 0:
        why = (
            f"Cash is {_amount(-difference, currency)} more: payments received in this range for invoices "
            "dated before it, beyond what is still unpaid of this range's invoices."
        )
    else:
        why = "The two agree: everything invoiced in this range was paid in it (or the differences cancel out)."
    return f"{text} {why}"


async def sales_report(session: AsyncSession, principal: Principal, query: SalesQuery) -> SalesReportOut:
    """Totals per period on the chosen basis (every period present, empty ones at 0)."""
    today = date.today()
    date_to = query.date_to or today
    date_from = query.date_from or date(date_to.year, 1, 1)
    if date_from > date_to:
        raise ValidationFailed(
            f"The start date {date_from.isoformat()} is after the end date {date_to.isoformat()}.", field="date_from"
        )
    starts = periods(date_from, date_to, query.group)
    if len(starts) > MAX_PERIODS:
        raise ValidationFailed(
            f"That is {len(starts)} {query.group}s; group by a longer period or choose a "
            f"shorter range (at most {MAX_PERIODS}).",
            field="group",
        )
    currency = checked_currency(query.currency or str(await settings.get(session, "sales.base_currency")))
    args: tuple[Any, ...] = (session, principal, currency, date_from, date_to, query.group)
    by_basis = {ReportBasis.accrual: await _accrual(*args), ReportBasis.cash: await _cash(*args)}
    totals = {basis: sum((v[0] for v in found.values()), Decimal(0)) for basis, found in by_basis.items()}
    chosen = by_basis[query.basis]
    zero = money.round_money(0, currency)
    rows = [
        SalesPeriod(
            period_start=start,
            total=money.round_money(chosen.get(start, (zero, 0))[0], currency),
            count=chosen.get(start, (zero, 0))[1],
        )
        for start in starts
    ]
    other = ReportBasis.cash if query.basis is ReportBasis.accrual else ReportBasis.accrual
    return SalesReportOut(
        basis=query.basis,
        currency=currency,
        date_from=date_from,
        date_to=date_to,
        group=query.group,
        periods=rows,
        total=money.round_money(totals[query.basis], currency),
        other_basis_total=money.round_money(totals[other], currency),
        explanation=explain(query.basis, totals[ReportBasis.accrual], totals[ReportBasis.cash], currency),
    )
