"""WhatsApp: opt-ins per number, templates synced from the Cloud API, messages in and out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.db import Base, IdMixin


class OptIn(IdMixin, Base):
    """A number's consent to WhatsApp messages (when, how, who recorded it); an opt-out ends it."""

    __tablename__ = "whatsapp_opt_ins"
    phone: Mapped[str] = mapped_column(String(20), unique=True)  # E.164
    opted_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    method: Mapped[str | None] = mapped_column(String(200))
    recorded_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    opted_out_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Template(IdMixin, Base):
    """A message template as the Cloud API last listed it; only APPROVED ones can be sent."""

    __tablename__ = "whatsapp_templates"
    meta_id: Mapped[str | None] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(512))
    language: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(30), server_default="")
    status: Mapped[str] = mapped_column(String(30))
    body: Mapped[str] = mapped_column(Text, server_default="")
    reason: Mapped[str | None] = mapped_column(Text)
    synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Written in the CRM (migration 0041): the record field behind each {{n}}, header, footer, buttons.
    header: Mapped[str | None] = mapped_column(Text)
    footer: Mapped[str | None] = mapped_column(Text)
    buttons: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    variables: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    authored: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (UniqueConstraint("name", "language", name="uq_whatsapp_templates_name_language"),)


class Message(IdMixin, Base):
    """One message in or out; `status` is the last one a webhook brought (a 200 is only "queued")."""

    __tablename__ = "whatsapp_messages"
    lead_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("leads.id", ondelete="CASCADE"))
    client_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("clients.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(20))
    direction: Mapped[str] = mapped_column(String(3))  # in, out
    template_name: Mapped[str | None] = mapped_column(String(512))
    template_language: Mapped[str | None] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text, server_default="")
    status: Mapped[str] = mapped_column(String(20))  # queued, sent, delivered, read, failed, received
    error: Mapped[str | None] = mapped_column(Text)
    wamid: Mapped[str | None] = mapped_column(String(200))  # Meta's message id
    created_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    status_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    parameters: Mapped[list[str] | None] = mapped_column(JSONB)  # the {{n}} values it was sent with
    follow_up_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("follow_ups.id", ondelete="SET NULL"))
    campaign_recipient_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("campaign_recipients.id", ondelete="SET NULL")
    )

    __table_args__ = (
        CheckConstraint("direction IN ('in', 'out')", name="direction"),
        Index("uq_whatsapp_messages_wamid", "wamid", unique=True),
        Index("ix_whatsapp_messages_phone", "phone", "direction", "created_at"),
        Index("ix_whatsapp_messages_lead", "lead_id"),
        Index("ix_whatsapp_messages_client", "client_id"),
        Index("ix_whatsapp_messages_campaign_recipient", "campaign_recipient_id"),
    )


class WhatsAppCampaign(Base):
    """A campaign of the engine (crm_server.campaigns) sent on WhatsApp: its approved template and
    whether it sends in business hours only (`held_for_hours`: paused by the clock, not a person)."""

    __tablename__ = "whatsapp_campaigns"
    campaign_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    template_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("whatsapp_templates.id", ondelete="RESTRICT"))
    business_hours_only: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    held_for_hours: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
