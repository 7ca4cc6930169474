"""Tables of campaigns (migration 0037): the campaign, its links, one row per recipient with its
state (written before each hand-off), tracking events, consent per address and engagement per record.

The engine is channel-neutral: `channel` names the send hook (crm_server.campaigns.engine.CHANNELS),
`address` is whatever that channel sends to (an e-mail address, a phone number for WhatsApp)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.db import Base, IdMixin


class Campaign(IdMixin, Base):
    __tablename__ = "campaigns"
    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20), server_default="email")
    entity: Mapped[str] = mapped_column(String(20))
    filters: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), server_default="draft")
    scheduled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    preset: Mapped[str] = mapped_column(String(30), server_default="custom")
    per_minute: Mapped[int | None] = mapped_column(Integer)
    per_hour: Mapped[int | None] = mapped_column(Integer)
    per_day: Mapped[int | None] = mapped_column(Integer)
    # Signs this campaign's tracking links (HMAC-SHA256); never leaves the server.
    secret: Mapped[str] = mapped_column(String(64))
    excluded: Mapped[dict[str, int]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_batch_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_campaigns_created", text("created_at DESC"), text("id DESC")),)


class CampaignLink(IdMixin, Base):
    """A link of the campaign's body: a click redirects only to one of these (no open redirect)."""

    __tablename__ = "campaign_links"
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(Text)
    __table_args__ = (Index("uq_campaign_links_position", "campaign_id", "position", unique=True),)


class CampaignRecipient(IdMixin, Base):
    __tablename__ = "campaign_recipients"
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    address: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(300), server_default="")
    state: Mapped[str] = mapped_column(String(14), server_default="queued")
    message_id: Mapped[str | None] = mapped_column(String(500))
    handed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    machine_opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    clicked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    unsubscribed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index("ix_campaign_recipients_state", "campaign_id", "state", "id"),
        Index("uq_campaign_recipients_address", "campaign_id", "address", unique=True),
        Index("uq_campaign_recipients_message_id", "message_id", unique=True),
        Index("ix_campaign_recipients_handed", "handed_at"),
    )


class CampaignEvent(IdMixin, Base):
    """What happened to a message: sent, open (machine or person), click, unsubscribe, bounce..."""

    __tablename__ = "campaign_events"
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("campaign_recipients.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    machine: Mapped[bool] = mapped_column(Boolean, server_default="false")
    link_id: Mapped[int | None] = mapped_column(ForeignKey("campaign_links.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        Index("ix_campaign_events_campaign", "campaign_id", "at"),
        Index("ix_campaign_events_recipient", "recipient_id"),
    )


class EmailConsent(Base):
    """Marketing consent of one address (lower-cased): granted when and how; withdrawn by an
    unsubscribe. An address with no granted row has never consented and gets no campaign."""

    __tablename__ = "email_consents"
    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    granted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(200), server_default="")
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Engagement(Base):
    """Engagement of a lead, client or contact (see tracking.score for the formula)."""

    __tablename__ = "engagement_scores"
    entity: Mapped[str] = mapped_column(String(20), primary_key=True)
    entity_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    opens: Mapped[int] = mapped_column(Integer, server_default="0")
    clicks: Mapped[int] = mapped_column(Integer, server_default="0")
    score: Mapped[int] = mapped_column(Integer, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (Index("ix_engagement_scores_score", "entity", "score"),)
