"""Tables of the activities area: notes, follow-ups and notification preferences."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.clients.models import Versioned
from crm_server.db import Base, IdMixin, TimestampsMixin

FOLLOW_UP_KINDS = ("call", "email", "whatsapp", "meeting")
FOLLOW_UP_STATUSES = ("open", "done", "cancelled")

# Reminder stages, as bits of follow_ups.reminders_sent: each is sent once.
REMIND_BEFORE = 1
REMIND_DUE = 2
REMIND_OVERDUE = 4


class Note(IdMixin, TimestampsMixin, Base):
    """A note on a lead or a client. A converted lead's notes get the client too, so both show them."""

    __tablename__ = "notes"
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    __table_args__ = (
        Index("ix_notes_lead", "lead_id", "created_at"),
        Index("ix_notes_client", "client_id", "created_at"),
        CheckConstraint("lead_id IS NOT NULL OR client_id IS NOT NULL", name="parent"),
    )


class FollowUp(IdMixin, TimestampsMixin, Versioned, Base):
    """A call, email, WhatsApp or meeting due at a time, on a lead or a client."""

    __tablename__ = "follow_ups"
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    notes: Mapped[str] = mapped_column(Text, server_default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(10), server_default="open")
    outcome: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Bit set of reminder stages already sent (REMIND_*); a reschedule clears it.
    reminders_sent: Mapped[int] = mapped_column(Integer, server_default="0")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    __table_args__ = (
        Index("ix_follow_ups_lead", "lead_id", "status", "due_at"),
        Index("ix_follow_ups_client", "client_id", "status", "due_at"),
        Index("ix_follow_ups_owner_due", "owner_id", "due_at"),
        # What the reminder job scans every minute: open ones only.
        Index("ix_follow_ups_open_due", "due_at", postgresql_where=text("status = 'open'")),
        # The team activity report: follow-ups done in a range (migration 0030).
        Index("ix_follow_ups_done_at", "completed_at", postgresql_where=text("status = 'done'")),
        CheckConstraint("lead_id IS NOT NULL OR client_id IS NOT NULL", name="parent"),
        CheckConstraint("kind IN ('call', 'email', 'whatsapp', 'meeting')", name="kind"),
        CheckConstraint("status IN ('open', 'done', 'cancelled')", name="status"),
    )


class NotificationPreference(Base):
    """A kind of notification a user switched off (or back on). No row: the kind is on."""

    __tablename__ = "notification_preferences"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(50), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# Follow-ups counted per UTC day, state, kind, owner and team: a done one on the day it was done, an
# open one on the day it is due. Kept by the triggers of migration 0040 (never written by the
# application): team activity and Home's overdue figures read these instead of counting millions.
follow_up_day_counts = Table(
    "follow_up_day_counts",
    Base.metadata,
    Column("day", Date, nullable=False),
    Column("state", String(10), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("owner_id", Integer),
    Column("team_id", Integer),
    Column("n", BigInteger, nullable=False),
    UniqueConstraint(
        "day",
        "state",
        "kind",
        "owner_id",
        "team_id",
        name="uq_follow_up_day_counts",
        postgresql_nulls_not_distinct=True,
    ),
)
