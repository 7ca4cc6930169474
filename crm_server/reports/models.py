"""Tables of the reports area: each lead's moves between statuses (written by the triggers of
migration 0030, never by the application), what was spent per lead source and month, and the
reports e-mailed on a schedule (with who asked not to get one)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

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
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
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
        # A lead's moves in order, with where each went: the funnel's stays read from the index alone.
        Index("ix_lead_status_history_lead", "lead_id", "at", "id", postgresql_include=["to_status_id"]),
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


class ReportSchedule(Base):
    """A report e-mailed daily, weekly or monthly at an hour (UTC) to users and roles, each recipient
    getting it as they may see it (their scope)."""

    __tablename__ = "report_schedules"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    report: Mapped[str] = mapped_column(String(20))
    period: Mapped[str] = mapped_column(String(20))
    filters: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    frequency: Mapped[str] = mapped_column(String(10))
    hour: Mapped[int] = mapped_column(SmallInteger)
    weekday: Mapped[int | None] = mapped_column(SmallInteger)
    day_of_month: Mapped[int | None] = mapped_column(SmallInteger)
    user_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), server_default="{}")
    role_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), server_default="{}")
    send_empty: Mapped[bool] = mapped_column(Boolean, server_default="false")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    next_run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[str | None] = mapped_column(String(20))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    __table_args__ = (
        CheckConstraint("frequency IN ('daily', 'weekly', 'monthly')", name="frequency"),
        CheckConstraint("hour BETWEEN 0 AND 23", name="hour"),
        Index("ix_report_schedules_due", "next_run_at", postgresql_where=text("active")),
    )


class ReportScheduleOptout(Base):
    """A recipient who asked not to get a schedule's e-mail."""

    __tablename__ = "report_schedule_optouts"
    schedule_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("report_schedules.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)


class CustomReport(Base):
    """A saved custom report: its definition (checked against the allow-list on every run), its
    owner, and the roles and teams it is shared with."""

    __tablename__ = "custom_reports"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    entity: Mapped[str] = mapped_column(String(30))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    owner_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    shared_role_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), server_default="{}")
    shared_team_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), server_default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    __table_args__ = (Index("ix_custom_reports_owner", "owner_id", "name"),)
