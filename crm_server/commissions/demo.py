"""Demo commissions: two policies, the calculation over the demo's paid invoices, and a few
commissions added by hand on hand-made invoices in each status, so the screens have something
real to show."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import money
from crm_server.auth.models import User
from crm_server.commissions import calculate
from crm_server.commissions.models import Commission, CommissionPolicy, CommissionTier
from crm_server.commissions.service import first_of_month
from crm_server.db import utcnow
from crm_server.invoices.models import Invoice
from crm_server.proposals.models import Proposal

STATUSES = ("pending", "pending", "approved", "paid", "paid")


async def seed_commissions(session: AsyncSession, admin_id: int, sellers: list[User], rng: random.Random) -> None:
    since = date(date.today().year - 1, 1, 1)
    staff = CommissionPolicy(
        name="Sales 5% / 7%", basis="percent", currency="EUR", wait_days=14, starts_on=since, all_staff=True
    )
    deals = CommissionPolicy(
        name="Partner referral", basis="fixed", currency="EUR", wait_days=30, starts_on=since, all_partners=True
    )
    session.add_all([staff, deals])
    await session.flush()
    session.add_all(
        [
            CommissionTier(policy_id=staff.id, threshold=Decimal(0), rate=Decimal(5)),
            CommissionTier(policy_id=staff.id, threshold=Decimal(10000), rate=Decimal(7)),
            CommissionTier(policy_id=deals.id, threshold=Decimal(1), rate=Decimal(250)),
        ]
    )
    await session.flush()
    await calculate.calculate(session, date.today())
    from_proposal = select(Proposal.converted_invoice_id).where(Proposal.converted_invoice_id.is_not(None))
    invoices = (
        await session.scalars(
            select(Invoice)
            .where(Invoice.kind == "invoice", Invoice.status == "paid", Invoice.id.not_in(from_proposal))
            .order_by(Invoice.id)
            .limit(12)
        )
    ).all()
    for invoice in invoices:
        seller = rng.choice(sellers)
        status = rng.choice(STATUSES)
        amount = money.round_money(invoice.net_total * Decimal("0.05"), invoice.currency)
        if amount <= 0:
            continue
        session.add(
            Commission(
                kind="manual",
                user_id=seller.id,
                invoice_id=invoice.id,
                month=first_of_month(invoice.issue_date or date.today()),
                base_amount=invoice.net_total,
                amount=amount,
                currency=invoice.currency,
                status=status,
                note="Agreed with the client by phone",
                owner_id=seller.id,
                team_id=seller.team_id,
                created_by=admin_id,
                approved_by=admin_id if status != "pending" else None,
                approved_at=utcnow() if status != "pending" else None,
                paid_by=admin_id if status == "paid" else None,
                paid_at=utcnow() if status == "paid" else None,
            )
        )
    await session.flush()
