"""Tables of the proposals area: proposals and their lines (the shape of invoice lines)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.clients.models import Versioned
from crm_server.db import Base, IdMixin, TimestampsMixin
from crm_server.invoices.models import LineColumns

MONEY = Numeric(14, 2)


class Proposal(IdMixin, TimestampsMixin, Versioned, Base):
    """An offer to exactly one lead or client. Totals are stored (from money.py) so lists never
    recompute them. `revision` counts how often a sent proposal was changed; `version` is the
    optimistic-concurrency counter every record has."""

    __tablename__ = "proposals"
    number: Mapped[str | None] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), server_default="draft")
    revision: Mapped[int] = mapped_column(Integer, server_default="1")
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="RESTRICT"))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="RESTRICT"))
    title: Mapped[str | None] = mapped_column(String(300))
    currency: Mapped[str] = mapped_column(String(3))
    valid_until: Mapped[date] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
    net_total: Mapped[Decimal] = mapped_column(MONEY, server_default="0")
    tax_total: Mapped[Decimal] = mapped_column(MONEY, server_default="0")
    gross_total: Mapped[Decimal] = mapped_column(MONEY, server_default="0")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    declined_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    declined_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    converted_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"))
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'sent', 'open', 'revised', 'accepted', 'declined')", name="status"),
        CheckConstraint("(lead_id IS NULL) <> (client_id IS NULL)", name="one_party"),
        Index("uq_proposals_number", "number", unique=True),
        Index("uq_proposals_converted_invoice_id", "converted_invoice_id", unique=True),
        Index("ix_proposals_lead_id", "lead_id"),
        Index("ix_proposals_client_id", "client_id"),
        Index("ix_proposals_owner_id", "owner_id"),
        Index("ix_proposals_team_id", "team_id"),
        Index("ix_proposals_status", "status", "valid_until"),
        Index("ix_proposals_created_at", "created_at"),
    )


class ProposalLine(LineColumns, IdMixin, Base):
    __tablename__ = "proposal_lines"
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    __table_args__ = (Index("ix_proposal_lines_proposal", "proposal_id", "position"),)
