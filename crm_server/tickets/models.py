"""Tables of the tickets area."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.clients.models import Versioned
from crm_server.db import Base, IdMixin, TimestampsMixin

PRIORITIES = ("normal", "high", "critical")
STATUSES = ("new", "assigned", "in_process", "pending_customer", "resolved", "deployed", "closed")
OPEN_STATUSES = ("new", "assigned", "in_process", "pending_customer")
_OPEN = "archived_at IS NULL"
# The priority sort's key (critical first), stored so the sort and the board read it in index order.
PRIORITY_RANK = "CASE priority WHEN 'critical' THEN 0 WHEN 'high' THEN 1 ELSE 2 END"
# What the scope and the queue's filters test, carried by the live-status index: counts, the board
# and the few-matches pages read that index only, never the live rows scattered over the table.
_COVERED = (
    "assignee_id",
    "created_by",
    "team_id",
    "category_id",
    "client_id",
    "priority",
    "number",
    "created_at",
    "updated_at",
    "first_response_due_at",
    "first_responded_at",
    "search_text",  # the queue's search among the scope's open tickets is tested index-only too
)


class TicketCategory(IdMixin, TimestampsMixin, Versioned, Base):
    """What a ticket is about; decides which team gets it (admin-editable mapping)."""

    __tablename__ = "ticket_categories"
    name: Mapped[str] = mapped_column(String(100))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    position: Mapped[int] = mapped_column(Integer, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    __table_args__ = (Index("uq_ticket_categories_name_lower", func.lower(name), unique=True),)


class Ticket(IdMixin, TimestampsMixin, Versioned, Base):
    """A customer's problem, from the first message to closing. Archived, never deleted."""

    __tablename__ = "tickets"
    # From ticket_number_seq (the migration creates it): shown as #1234, carried in email subjects.
    number: Mapped[int] = mapped_column(BigInteger, server_default=text("nextval('ticket_number_seq')"))
    subject: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, server_default="")
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    # Who wrote in when no client/contact matched (inbound email); also the reply address.
    requester_email: Mapped[str | None] = mapped_column(String(320))
    priority: Mapped[str] = mapped_column(String(10), server_default="normal")
    category_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_categories.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), server_default="new")
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    first_response_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set when the managers were told of a missed first response: they are told once.
    breach_notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    search_text: Mapped[str] = mapped_column(Text, Computed("lower(subject)", persisted=True))
    priority_rank: Mapped[int] = mapped_column(SmallInteger, Computed(PRIORITY_RANK, persisted=True))
    __table_args__ = (
        CheckConstraint("priority IN ('normal', 'high', 'critical')", name="priority"),
        CheckConstraint(
            "status IN ('new', 'assigned', 'in_process', 'pending_customer', 'resolved', 'deployed', 'closed')",
            name="status",
        ),
        Index("uq_tickets_number", "number", unique=True),
        Index(
            "ix_tickets_live_status",
            "status",
            "priority_rank",
            "id",
            postgresql_include=list(_COVERED),
            postgresql_where=text(_OPEN),
        ),
        Index("ix_tickets_live_priority", "priority_rank", "id", postgresql_where=text(_OPEN)),
        # The due-time sort, "empty last" both ways: one index per direction.
        *(
            Index(
                f"ix_tickets_live_due_{way}",
                text(f"first_response_due_at {way} NULLS LAST"),
                text(f"id {way}"),
                postgresql_where=text(_OPEN),
            )
            for way in ("asc", "desc")
        ),
        Index("ix_tickets_team", "team_id", "status", "created_at", postgresql_where=text(_OPEN)),
        Index("ix_tickets_assignee", "assignee_id", "status", "created_at", postgresql_where=text(_OPEN)),
        # Newest first in the queue and in the archive: each walks its own rows.
        Index("ix_tickets_live_created", "created_at", "id", postgresql_where=text(_OPEN)),
        Index("ix_tickets_archived_created", "created_at", "id", postgresql_where=text("archived_at IS NOT NULL")),
        Index("ix_tickets_archived_number", "number", postgresql_where=text("archived_at IS NOT NULL")),
        Index("ix_tickets_client_id", "client_id"),
        Index("ix_tickets_live_updated", "updated_at", postgresql_where=text("archived_at IS NULL")),
        Index(
            "ix_tickets_first_response_due",
            "first_response_due_at",
            postgresql_where=text("first_responded_at IS NULL AND archived_at IS NULL"),
        ),
        Index("ix_tickets_closed_at", "closed_at", postgresql_where=text("status = 'closed' AND archived_at IS NULL")),
        Index(
            "ix_tickets_search_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
        # The queue's search: the live subjects only (the one above serves the archive and global search).
        Index(
            "ix_tickets_live_search_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
            postgresql_where=text(_OPEN),
        ),
        Index("ix_tickets_tags", "tags", postgresql_using="gin"),
    )


class TicketComment(IdMixin, TimestampsMixin, Base):
    """One message of the conversation: internal (staff only) or public (emailed to the customer)."""

    __tablename__ = "ticket_comments"
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The customer's address when the comment came in by email (no author_id then).
    author_email: Mapped[str | None] = mapped_column(String(320))
    body: Mapped[str] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean, server_default="false")
    __table_args__ = (Index("ix_ticket_comments_ticket", "ticket_id", "created_at"),)


class TicketAttachment(IdMixin, TimestampsMixin, Base):
    """A file of a ticket, kept in the database so it commits and is backed up with the ticket."""

    __tablename__ = "ticket_attachments"
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_comments.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    # Deferred: lists of attachments never drag the bytes along.
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    __table_args__ = (Index("ix_ticket_attachments_ticket", "ticket_id"),)


class TicketEmail(IdMixin, TimestampsMixin, Base):
    """An email to the customer: written with the change, sent after commit by a job, and left
    here with its error when the SMTP server refuses it."""

    __tablename__ = "ticket_emails"
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # created, status, comment
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(400))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), server_default="queued")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'sent', 'failed')", name="status"),
        Index("ix_ticket_emails_ticket", "ticket_id", "created_at"),
    )
