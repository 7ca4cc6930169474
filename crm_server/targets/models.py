"""A sales target: what one person or one team should win in a month (its first day), in the base
currency. Exactly one of user_id and team_id is set (migration 0032)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, ForeignKey, Identity, Index, Numeric, String, func
from sqlalchemy import text as sql
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.db import Base


class SalesTarget(Base):
    __tablename__ = "sales_targets"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    month: Mapped[date] = mapped_column(Date)
    user_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("teams.id", ondelete="CASCADE"))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    updated_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (team_id IS NULL)", name="who"),
        CheckConstraint("amount >= 0", name="amount"),
        CheckConstraint("extract(day FROM month) = 1", name="month"),
        Index("uq_sales_targets_user", "month", "user_id", unique=True, postgresql_where=sql("user_id IS NOT NULL")),
        Index("uq_sales_targets_team", "month", "team_id", unique=True, postgresql_where=sql("team_id IS NOT NULL")),
    )
