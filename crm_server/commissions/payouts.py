"""What is owed to whom: the payout report (per beneficiary and month: pending, approved, paid)
and a partner's summary for the portal dashboard. Reversals are netted in the month they were
made, in their own status column."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import money
from crm_server.admin import settings
from crm_server.auth.models import User
from crm_server.auth.permissions import Principal
from crm_server.commissions.models import Commission
from crm_server.commissions.service import MODULE, first_of_month
from crm_server.contract.commissions import MonthSummary, PartnerSummary, PayoutOut, PayoutRow
from crm_server.errors import ValidationFailed
from crm_server.partners.models import Partner

ZERO = Decimal(0)


def _sum_of(status: str | tuple[str, ...]) -> Any:
    statuses = (status,) if isinstance(status, str) else status
    return func.coalesce(func.sum(case((Commission.status.in_(statuses), Commission.amount), else_=0)), 0)


def _range(month_from: date, month_to: date) -> tuple[date, date]:
    if not 1900 <= month_from.year <= 9998 or not 1900 <= month_to.year <= 9998:
        raise ValidationFailed("Choose months between 1900 and 9998.", field="month_from")
    first, last = first_of_month(month_from), first_of_month(month_to)
    if first > last:
        raise ValidationFailed("The start month is after the end month.", field="month_from")
    return first, last


async def payouts(session: AsyncSession, principal: Principal, month_from: date, month_to: date) -> PayoutOut:
    """Per beneficiary, month and currency, in the viewer's scope; newest month first, then by name."""
    first, last = _range(month_from, month_to)
    name = func.coalesce(User.full_name, Partner.name, "")
    rows = await session.execute(
        select(
            Commission.user_id,
            Commission.partner_id,
            name,
            Commission.month,
            Commission.currency,
            _sum_of("pending"),
            _sum_of("approved"),
            _sum_of("paid"),
        )
        .outerjoin(User, User.id == Commission.user_id)
        .outerjoin(Partner, Partner.id == Commission.partner_id)
        .where(
            principal.scope_filter(MODULE, Commission.owner_id, Commission.team_id),
            Commission.month >= first,
            Commission.month <= last,
        )
        .group_by(Commission.user_id, Commission.partner_id, name, Commission.month, Commission.currency)
        .order_by(Commission.month.desc(), name, Commission.currency)
        .limit(10_000)
    )
    out = []
    for user_id, partner_id, who, month, currency, pending, approved, paid in rows:
        pending, approved, paid = (money.round_money(Decimal(v), currency) for v in (pending, approved, paid))
        out.append(
            PayoutRow(
                kind="user" if user_id is not None else "partner",
                id=user_id if user_id is not None else partner_id,
                name=who,
                month=month,
                currency=currency,
                pending=pending,
                approved=approved,
                paid=paid,
                total=pending + approved + paid,
            )
        )
    return PayoutOut(month_from=first, month_to=last, rows=out)


async def partner_summary(session: AsyncSession, partner_id: int) -> PartnerSummary:
    """The partner's commissions for its portal dashboard: earned (all, reversals netted), pending
    (not yet paid: pending or approved) and paid, in total (in the base currency, or the one the
    partner earns in) and by month, newest first."""
    rows = (
        await session.execute(
            select(
                Commission.month,
                Commission.currency,
                func.coalesce(func.sum(Commission.amount), 0),
                _sum_of(("pending", "approved")),
                _sum_of("paid"),
            )
            .where(Commission.partner_id == partner_id)
            .group_by(Commission.month, Commission.currency)
            .order_by(Commission.month.desc(), Commission.currency)
            .limit(240)
        )
    ).all()
    months = [
        MonthSummary(
            month=m,
            currency=c,
            earned=money.round_money(Decimal(e), c),
            pending=money.round_money(Decimal(p), c),
            paid=money.round_money(Decimal(d), c),
        )
        for m, c, e, p, d in rows
    ]
    base = str(await settings.get(session, "sales.base_currency"))
    currencies = {m.currency for m in months}
    currency = base if base in currencies or not currencies else sorted(currencies)[0]
    mine = [m for m in months if m.currency == currency]
    return PartnerSummary(
        currency=currency if months else None,
        earned=sum((m.earned for m in mine), ZERO),
        pending=sum((m.pending for m in mine), ZERO),
        paid=sum((m.paid for m in mine), ZERO),
        months=months,
    )
