"""The daily calculation: commissions for payments whose waiting days have passed, and reversals
for refunds and credit notes. Idempotent: a payment yields at most one commission per policy and
beneficiary (a unique index backs it), and a reversal only ever takes a row down to what it is
still worth (calc.still_owed), so running it twice changes nothing.

Which invoices earn: those made from a proposal (proposals.converted_invoice_id). The deal's lead
is the proposal's lead, or else the newest lead converted into the proposal's client. The staff
beneficiary is that lead's owner (no lead: the proposal's owner); the partner is the one the lead
is credited to (a lead registration that is registered or won). A policy applies to a staff
member if it is for all staff, names them, or names their team; to a partner if it is for all
partners or names it. Only invoices in the policy's currency count. Percent policies earn on
each payment's kept net part; fixed policies once per deal, on the payment that settles the
invoice in full."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, func, or_, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.auth.models import User
from crm_server.commissions import calc
from crm_server.commissions.models import Commission, CommissionPolicy, CommissionPolicyMember, CommissionTier
from crm_server.commissions.service import announce_row, beneficiary_scope, created_changes, first_of_month
from crm_server.contract.commissions import CalculateOut
from crm_server.invoices.models import Invoice, Payment, PaymentRefund
from crm_server.leads.models import Lead
from crm_server.partners.models import LeadRegistration
from crm_server.proposals.models import Proposal

CREDITED_STATES = ("registered", "won")
BATCH = 5000


@dataclass(frozen=True)
class Deal:
    lead_id: int | None
    staff_id: int | None
    partner_id: int | None


async def deal_of(session: AsyncSession, invoice_id: int) -> Deal | None:
    """The deal an invoice comes from, or None for an invoice made by hand."""
    proposal = (await session.scalars(select(Proposal).where(Proposal.converted_invoice_id == invoice_id))).first()
    if proposal is None:
        return None
    lead: Lead | None = None
    if proposal.lead_id is not None:
        lead = await session.get(Lead, proposal.lead_id)
    elif proposal.client_id is not None:
        lead = (
            await session.scalars(
                select(Lead).where(Lead.converted_client_id == proposal.client_id).order_by(Lead.id.desc()).limit(1)
            )
        ).first()
    partner = None
    if lead is not None:
        partner = await session.scalar(
            select(LeadRegistration.partner_id).where(
                LeadRegistration.lead_id == lead.id, LeadRegistration.state.in_(CREDITED_STATES)
            )
        )
    staff = lead.owner_id if lead is not None else proposal.owner_id
    return Deal(lead.id if lead is not None else None, staff, partner)


async def _applies(session: AsyncSession, policy: CommissionPolicy, deal: Deal) -> list[tuple[int | None, int | None]]:
    """The (user_id, partner_id) beneficiaries of `policy` for the deal."""
    members = (
        await session.scalars(select(CommissionPolicyMember).where(CommissionPolicyMember.policy_id == policy.id))
    ).all()
    out: list[tuple[int | None, int | None]] = []
    if deal.staff_id is not None:
        team = await session.scalar(select(User.team_id).where(User.id == deal.staff_id))
        if policy.all_staff or any(
            m.user_id == deal.staff_id or (team is not None and m.team_id == team) for m in members
        ):
            out.append((deal.staff_id, None))
    if deal.partner_id is not None and (policy.all_partners or any(m.partner_id == deal.partner_id for m in members)):
        out.append((None, deal.partner_id))
    return out


def _who(user_id: int | None, partner_id: int | None) -> Any:
    return Commission.user_id == user_id if user_id is not None else Commission.partner_id == partner_id


async def _earned_in_month(
    session: AsyncSession, policy_id: int, user_id: int | None, partner_id: int | None, month: date
) -> tuple[Decimal, int]:
    """The net base already counted and the deals already earned this month (for the tiers)."""
    base, count = (
        await session.execute(
            select(func.coalesce(func.sum(Commission.base_amount), 0), func.count()).where(
                Commission.kind == "earned",
                Commission.policy_id == policy_id,
                _who(user_id, partner_id),
                Commission.month == month,
            )
        )
    ).one()
    return Decimal(base), int(count)


async def calculate(session: AsyncSession, today: date) -> CalculateOut:
    """One calculation at a time, whichever process runs it (a reversal is worked out from the rows
    there are, so two at once could both add one); the lock ends with the transaction."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('commissions.calculate'))"))
    earned = 0
    policies = (
        await session.scalars(select(CommissionPolicy).where(CommissionPolicy.active).order_by(CommissionPolicy.id))
    ).all()
    for policy in policies:
        tiers = [
            (t.threshold, t.rate)
            for t in (await session.scalars(select(CommissionTier).where(CommissionTier.policy_id == policy.id))).all()
        ]
        earned += await _earn(session, policy, tiers, today - timedelta(days=policy.wait_days))
    reversed_ = await _reverse(session, first_of_month(today))
    return CalculateOut(earned=earned, reversed=reversed_)


async def _earn(session: AsyncSession, policy: CommissionPolicy, tiers: list[calc.Tier], cutoff: date) -> int:
    """Commissions of `policy` for payments made from its start day to `cutoff`, oldest first (the
    tiers fill in payment order), in batches by (paid_on, id) so payments that earn nothing (no
    beneficiary under the policy) never stop the ones after them."""
    from_proposal = exists().where(Proposal.converted_invoice_id == Invoice.id)
    done = exists().where(
        Commission.payment_id == Payment.id, Commission.policy_id == policy.id, Commission.kind == "earned"
    )
    stmt = (
        select(Payment, Invoice)
        .join(Invoice, Invoice.id == Payment.invoice_id)
        .where(
            Payment.paid_on >= policy.starts_on,
            Payment.paid_on <= cutoff,
            Invoice.kind == "invoice",
            Invoice.currency == policy.currency,
            Payment.amount > Payment.refunded_total,
            from_proposal,
            ~done,
        )
        .order_by(Payment.paid_on, Payment.id)
        .limit(BATCH)
    )
    if policy.basis == "fixed":  # only a settled invoice; its newest payment is the one (_settles)
        stmt = stmt.where(Invoice.status == "paid")
    made = 0
    after: tuple[date, int] | None = None
    while True:
        batch = stmt if after is None else stmt.where(tuple_(Payment.paid_on, Payment.id) > after)
        found = (await session.execute(batch)).all()
        for payment, invoice in found:
            if policy.basis == "fixed" and not await _settles(session, payment):
                continue
            deal = await deal_of(session, invoice.id)
            if deal is None:
                continue
            for user_id, partner_id in await _applies(session, policy, deal):
                made += await _earn_one(session, policy, tiers, payment, invoice, deal, user_id, partner_id)
        if len(found) < BATCH:
            return made
        after = (found[-1][0].paid_on, found[-1][0].id)


async def _settles(session: AsyncSession, payment: Payment) -> bool:
    newest = await session.scalar(
        select(Payment.id)
        .where(Payment.invoice_id == payment.invoice_id, Payment.amount > Payment.refunded_total)
        .order_by(Payment.paid_on.desc(), Payment.id.desc())
        .limit(1)
    )
    return newest == payment.id


async def _earn_one(
    session: AsyncSession,
    policy: CommissionPolicy,
    tiers: list[calc.Tier],
    payment: Payment,
    invoice: Invoice,
    deal: Deal,
    user_id: int | None,
    partner_id: int | None,
) -> int:
    month = first_of_month(payment.paid_on)
    before, deals = await _earned_in_month(session, policy.id, user_id, partner_id, month)
    if policy.basis == "fixed":
        if deal.lead_id is None or await session.scalar(
            select(Commission.id).where(
                Commission.kind == "earned",
                Commission.policy_id == policy.id,
                Commission.lead_id == deal.lead_id,
                _who(user_id, partner_id),
            )
        ):
            return 0  # once per deal
        base, kept = invoice.net_total, invoice.paid_total
        amount = calc.fixed_commission(tiers, deals + 1, invoice.currency)
    else:
        kept = payment.amount - payment.refunded_total
        base = calc.net_part(kept, invoice.net_total, invoice.gross_total, invoice.currency)
        amount = calc.percent_commission(tiers, before, base, invoice.currency)
    owner, team = await beneficiary_scope(session, user_id, partner_id)
    row_id = await session.scalar(
        insert(Commission)
        .values(
            kind="earned",
            policy_id=policy.id,
            user_id=user_id,
            partner_id=partner_id,
            invoice_id=invoice.id,
            payment_id=payment.id,
            lead_id=deal.lead_id,
            month=month,
            base_amount=base,
            kept_then=kept,
            amount=amount,
            currency=invoice.currency,
            owner_id=owner,
            team_id=team,
        )
        .on_conflict_do_nothing()
        .returning(Commission.id)
    )
    if row_id is None:
        return 0
    row = await session.get(Commission, row_id)
    assert row is not None
    announce_row(session, None, row, "created", created_changes(row))
    return 1


async def _reverse(session: AsyncSession, month: date) -> int:
    """Negative rows for earned and by-hand commissions whose invoice had money refunded or was
    credited, down to what each is still worth. A reversal counts in the month it is made (a paid
    commission is not unpaid: the next payout is smaller)."""
    refunded = exists().where(Payment.invoice_id == Invoice.id, Payment.refunded_total > 0)
    rows = (
        await session.execute(
            select(Commission, Invoice, CommissionPolicy.basis)
            .join(Invoice, Invoice.id == Commission.invoice_id)
            .outerjoin(CommissionPolicy, CommissionPolicy.id == Commission.policy_id)
            .where(Commission.kind != "reversal", or_(Invoice.status == "cancelled", refunded))
            .order_by(Commission.id)
        )
    ).all()
    made = 0
    for original, invoice, basis in rows:
        credit_note = await session.scalar(
            select(Invoice.id).where(Invoice.credited_invoice_id == invoice.id, Invoice.kind == "credit_note")
        )
        refund_id = None
        if basis == "fixed" or original.payment_id is None:
            kept_now = invoice.paid_total
            refunds = (
                select(PaymentRefund.id)
                .join(Payment, Payment.id == PaymentRefund.payment_id)
                .where(Payment.invoice_id == invoice.id)
            )
        else:
            payment = await session.get(Payment, original.payment_id)
            assert payment is not None
            kept_now = payment.amount - payment.refunded_total
            refunds = select(PaymentRefund.id).where(PaymentRefund.payment_id == payment.id)
        refund_id = await session.scalar(refunds.order_by(PaymentRefund.id.desc()).limit(1))
        credited = invoice.status == "cancelled"
        kept_then = original.kept_then if original.kind == "earned" else None
        target = calc.still_owed(original.amount, kept_now, kept_then, credited, original.currency)
        reversed_total = await session.scalar(
            select(func.coalesce(func.sum(Commission.amount), 0)).where(Commission.reverses_id == original.id)
        )
        now = original.amount + Decimal(reversed_total or 0)
        if target >= now:
            continue
        row = Commission(
            kind="reversal",
            policy_id=original.policy_id,
            user_id=original.user_id,
            partner_id=original.partner_id,
            invoice_id=original.invoice_id,
            payment_id=original.payment_id,
            lead_id=original.lead_id,
            reverses_id=original.id,
            refund_id=None if credited else refund_id,
            credit_note_id=credit_note if credited else None,
            month=month,
            base_amount=Decimal(0),
            amount=target - now,
            currency=original.currency,
            note="Credit note" if credited else "Refund",
            owner_id=original.owner_id,
            team_id=original.team_id,
        )
        session.add(row)
        await session.flush()
        announce_row(session, None, row, "created", created_changes(row))
        made += 1
    return made
