"""Tables of commissions (migration 0036): policies with their tiers and members, and commission
rows. A row is never edited once paid and never deleted: a refund or a credit note adds a negative
reversal row pointing at the row it reverses."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    func,
)
from sqlalchemy import text as sql
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.db import Base

MONEY = Numeric(14, 2)


def _fk(table: str, ondelete: str) -> ForeignKey:
    return ForeignKey(f"{table}.id", ondelete=ondelete)


class CommissionPolicy(Base):
    """Who earns what: `basis` "percent" (of the net part of each payment) or "fixed" (per won
    deal), in the policy's currency only, `wait_days` after the payment."""

    __tablename__ = "commission_policies"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    basis: Mapped[str] = mapped_column(String(10))
    currency: Mapped[str] = mapped_column(String(3))
    wait_days: Mapped[int] = mapped_column(Integer, server_default="0")
    starts_on: Mapped[date] = mapped_column(Date)  # payments paid on or after it count
    all_staff: Mapped[bool] = mapped_column(Boolean, server_default="false")
    all_partners: Mapped[bool] = mapped_column(Boolean, server_default="false")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_by: Mapped[int | None] = mapped_column(BigInteger, _fk("users", "SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        CheckConstraint("basis IN ('percent', 'fixed')", name="basis"),
        CheckConstraint("wait_days BETWEEN 0 AND 3650", name="wait_days"),
        Index("uq_commission_policies_name", func.lower(name), unique=True),
    )


class CommissionTier(Base):
    """From `threshold` (paid net in the month, or the deal's number in the month for fixed
    policies) on, `rate` applies: a percent, or an amount per deal."""

    __tablename__ = "commission_tiers"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    policy_id: Mapped[int] = mapped_column(BigInteger, _fk("commission_policies", "CASCADE"))
    threshold: Mapped[Decimal] = mapped_column(MONEY)
    rate: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    __table_args__ = (
        CheckConstraint("threshold >= 0", name="threshold"),
        CheckConstraint("rate >= 0", name="rate"),
        Index("uq_commission_tiers_policy", "policy_id", "threshold", unique=True),
    )


class CommissionPolicyMember(Base):
    """One person, team or partner a policy applies to (besides its all_staff / all_partners)."""

    __tablename__ = "commission_policy_members"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    policy_id: Mapped[int] = mapped_column(BigInteger, _fk("commission_policies", "CASCADE"))
    user_id: Mapped[int | None] = mapped_column(BigInteger, _fk("users", "CASCADE"))
    team_id: Mapped[int | None] = mapped_column(BigInteger, _fk("teams", "CASCADE"))
    partner_id: Mapped[int | None] = mapped_column(BigInteger, _fk("partners", "CASCADE"))
    __table_args__ = (
        CheckConstraint("num_nonnulls(user_id, team_id, partner_id) = 1", name="one"),
        Index("ix_commission_policy_members_policy", "policy_id"),
    )


class Commission(Base):
    """One commission for a staff member (`user_id`) or a partner (`partner_id`). `month` is the
    first day of the payment's month (or the entry's, by hand). `kept_then` is the payment's kept
    amount when it was earned, so a later refund reverses its share. `owner_id`/`team_id` decide who
    sees it: the person themself, or for a partner the partner's managing salesperson."""

    __tablename__ = "commissions"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    policy_id: Mapped[int | None] = mapped_column(BigInteger, _fk("commission_policies", "RESTRICT"))
    user_id: Mapped[int | None] = mapped_column(BigInteger, _fk("users", "RESTRICT"))
    partner_id: Mapped[int | None] = mapped_column(BigInteger, _fk("partners", "RESTRICT"))
    invoice_id: Mapped[int] = mapped_column(BigInteger, _fk("invoices", "RESTRICT"))
    payment_id: Mapped[int | None] = mapped_column(BigInteger, _fk("payments", "RESTRICT"))
    lead_id: Mapped[int | None] = mapped_column(BigInteger, _fk("leads", "SET NULL"))
    reverses_id: Mapped[int | None] = mapped_column(BigInteger, _fk("commissions", "RESTRICT"))
    refund_id: Mapped[int | None] = mapped_column(BigInteger, _fk("payment_refunds", "RESTRICT"))
    credit_note_id: Mapped[int | None] = mapped_column(BigInteger, _fk("invoices", "RESTRICT"))
    month: Mapped[date] = mapped_column(Date)
    base_amount: Mapped[Decimal] = mapped_column(MONEY)
    kept_then: Mapped[Decimal | None] = mapped_column(MONEY)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(10), server_default="pending")
    note: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[int | None] = mapped_column(BigInteger, _fk("users", "SET NULL"))
    team_id: Mapped[int | None] = mapped_column(BigInteger, _fk("teams", "SET NULL"))
    created_by: Mapped[int | None] = mapped_column(BigInteger, _fk("users", "SET NULL"))
    approved_by: Mapped[int | None] = mapped_column(BigInteger, _fk("users", "SET NULL"))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paid_by: Mapped[int | None] = mapped_column(BigInteger, _fk("users", "SET NULL"))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        CheckConstraint("kind IN ('earned', 'manual', 'reversal')", name="kind"),
        CheckConstraint("status IN ('pending', 'approved', 'paid')", name="status"),
        CheckConstraint("num_nonnulls(user_id, partner_id) = 1", name="beneficiary"),
        CheckConstraint(
            "(kind = 'reversal') = (reverses_id IS NOT NULL) AND (kind = 'reversal') = (amount < 0)", name="reversal"
        ),
        CheckConstraint("kind <> 'earned' OR (policy_id IS NOT NULL AND payment_id IS NOT NULL)", name="earned"),
        CheckConstraint("extract(day FROM month) = 1", name="month"),
        # A payment never yields two commissions for the same policy and beneficiary.
        Index(
            "uq_commissions_payment_policy_user",
            "payment_id",
            "policy_id",
            "user_id",
            unique=True,
            postgresql_where=sql("kind = 'earned' AND user_id IS NOT NULL"),
        ),
        Index(
            "uq_commissions_payment_policy_partner",
            "payment_id",
            "policy_id",
            "partner_id",
            unique=True,
            postgresql_where=sql("kind = 'earned' AND partner_id IS NOT NULL"),
        ),
        Index("ix_commissions_owner_created", "owner_id", "created_at"),
        Index("ix_commissions_team_id", "team_id"),
        Index("ix_commissions_user_month", "user_id", "month"),
        Index("ix_commissions_partner_month", "partner_id", "month"),
        Index("ix_commissions_status_month", "status", "month"),
        Index("ix_commissions_invoice_id", "invoice_id"),
        Index("ix_commissions_reverses_id", "reverses_id"),
        Index("ix_commissions_created_at", "created_at", "id"),
    )
