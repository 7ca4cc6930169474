"""Tables of the reports area: each lead's moves between statuses (written by the triggers of
migration 0030, never by the application) and what was spent per lead source and month."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Numeric,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.db import Base


class LeadStatusHistory(Base):
    """One move: `from_status_id` NULL is where the lead started."""

    __tablename__ = "lead_status_history"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    lead_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("leads.id", ondelete="CASCADE"))
    pipeline_id: Mapped[int] = mapped_column(BigInteger)
    from_status_id: Mapped[int | None] = mapped_column(BigInteger)
    to_status_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index("ix_lead_status_history_lead", "lead_id", "at", "id"),
        Index("ix_lead_status_history_to", "to_status_id", "at"),
    )


class LeadSourceCost(Base):
    """What was spent on a lead source in a month (its first day), in one currency."""

    __tablename__ = "lead_source_costs"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    month: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    updated_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        UniqueConstraint("source", "month", "currency", name="uq_lead_source_costs"),
        CheckConstraint("amount >= 0", name="amount"),
        CheckConstraint("extract(day FROM month) = 1", name="month"),
    )
