"""Tables of the partners area (migration 0035).

A partner is a company outside the office with a managing salesperson; its people sign in to the
portal as partner users (never staff users: their own table, sessions and invitations). A lead
registration tells which partner a lead is credited to and until when it is protected."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy import text as sql
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.db import Base

REGISTRATION_STATES = ("registered", "needs_review", "lapsed", "won", "lost", "rejected")


class Partner(Base):
    __tablename__ = "partners"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    managing_user_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    email: Mapped[str] = mapped_column(String(320), server_default="")
    phone: Mapped[str] = mapped_column(String(50), server_default="")
    notes: Mapped[str] = mapped_column(Text, server_default="")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    # Whether the partner's portal shows the value of their won leads.
    share_values: Mapped[bool] = mapped_column(Boolean, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (Index("uq_partners_name_lower", func.lower(name), unique=True),)


class PartnerUser(Base):
    """A person of a partner company who signs in to the portal (password, optional TOTP)."""

    __tablename__ = "partner_users"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    partner_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    full_name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    password_hash: Mapped[str | None] = mapped_column(Text)
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled: Mapped[bool] = mapped_column(Boolean, server_default="false")
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lockout_count: Mapped[int] = mapped_column(Integer, server_default="0")
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    invited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (Index("uq_partner_users_email_lower", func.lower(email), unique=True),)


class PartnerInvitation(Base):
    """An invitation e-mailed to a partner user: only the token's SHA-256 is kept; used once."""

    __tablename__ = "partner_invitations"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    partner_user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("partner_users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PartnerSession(Base):
    """A portal sign-in (cookie): only the token's SHA-256 is kept. `verified` is false while the
    second step (TOTP) is still owed; the CSRF token is per session."""

    __tablename__ = "partner_sessions"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    partner_user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("partner_users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    verified: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[str | None] = mapped_column(String(50))
    address: Mapped[str | None] = mapped_column(INET)


class LeadRegistration(Base):
    """A lead a partner submitted. `lead_id` is set once a lead exists (registered, or accepted after
    review); the submitted fields are kept as typed so a review can judge them."""

    __tablename__ = "lead_registrations"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    partner_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    partner_user_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("partner_users.id", ondelete="SET NULL"))
    lead_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("leads.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(20))
    company: Mapped[str] = mapped_column(String(200), server_default="")
    contact: Mapped[str] = mapped_column(String(200), server_default="")
    phone: Mapped[str] = mapped_column(String(50), server_default="")
    email: Mapped[str] = mapped_column(String(320), server_default="")
    interest: Mapped[str] = mapped_column(String(200), server_default="")
    notes: Mapped[str] = mapped_column(Text, server_default="")
    protected_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        CheckConstraint("state IN ('registered', 'needs_review', 'lapsed', 'won', 'lost', 'rejected')", name="state"),
        Index("uq_lead_registrations_lead", "lead_id", unique=True, postgresql_where=sql("lead_id IS NOT NULL")),
        Index("ix_lead_registrations_partner_created", "partner_id", "created_at"),
        Index("ix_lead_registrations_state_until", "state", "protected_until"),
    )


class PartnerSubmission(Base):
    """Every lead a partner user sent and how it was answered ("already registered" leaves no
    registration): what limits how fast a partner may probe for existing leads."""

    __tablename__ = "partner_submissions"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    partner_user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("partner_users.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    outcome: Mapped[str] = mapped_column(String(20))
    __table_args__ = (Index("ix_partner_submissions_user_at", "partner_user_id", "at"),)
