"""Automation tables: rules, their run log and planned date triggers; webhook subscriptions, the
outbox of deliveries and each delivery's attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy import text as sql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.db import Base, IdMixin


class Rule(IdMixin, Base):
    __tablename__ = "automation_rules"
    name: Mapped[str] = mapped_column(String(200))
    entity: Mapped[str] = mapped_column(String(20))
    trigger: Mapped[dict[str, Any]] = mapped_column(JSONB)
    conditions: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sql("'{}'::jsonb"))
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=sql("'[]'::jsonb"))
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    # Round-robin's last pick per team ({"rr:<team>": user_id}).
    state: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sql("'{}'::jsonb"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # A manager's rule: it sees only this team's records (None: an admin's rule, every record).
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        Index("ix_automation_rules_entity", "entity", postgresql_where=sql("active")),
        Index("ix_automation_rules_team", "team_id"),
    )


class Run(IdMixin, Base):
    """One evaluation of a rule on a record: each condition's result, and (when it matched) the
    actions done. `queued` runs wait for their job; the job and the outcome commit together."""

    __tablename__ = "automation_runs"
    rule_id: Mapped[int] = mapped_column(ForeignKey("automation_rules.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    outcome: Mapped[str] = mapped_column(String(20))
    depth: Mapped[int] = mapped_column(Integer, server_default="0")
    chain: Mapped[list[int]] = mapped_column(JSONB, server_default=sql("'[]'::jsonb"))
    change: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sql("'{}'::jsonb"))
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=sql("'[]'::jsonb"))
    matched: Mapped[bool] = mapped_column(Boolean, server_default="false")
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=sql("'[]'::jsonb"))
    detail: Mapped[str] = mapped_column(Text, server_default="")
    __table_args__ = (
        Index("ix_automation_runs_rule", "rule_id", "at"),
        Index("ix_automation_runs_record", "entity", "entity_id", "at"),
    )


class Planned(IdMixin, Base):
    """A date trigger's next moment for one record; moved when the date changes."""

    __tablename__ = "automation_planned"
    rule_id: Mapped[int] = mapped_column(ForeignKey("automation_rules.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    fire_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        UniqueConstraint("rule_id", "entity", "entity_id", name="uq_automation_planned_record"),
        Index("ix_automation_planned_fire_at", "fire_at"),
    )


class Subscription(IdMixin, Base):
    __tablename__ = "webhook_subscriptions"
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(Text)
    event_types: Mapped[list[str]] = mapped_column(JSONB, server_default=sql("'[]'::jsonb"))
    # "whsec_<base64>": needed to sign each delivery, so kept (never shown after creation).
    secret: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Delivery(IdMixin, Base):
    """The outbox: written in the transaction of the change it tells about."""

    __tablename__ = "webhook_deliveries"
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(60))
    message_id: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(10), server_default="pending")  # pending delivered failed dead
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index("ix_webhook_deliveries_subscription", "subscription_id", "created_at"),
        Index("ix_webhook_deliveries_status", "status", postgresql_where=sql("status IN ('pending', 'dead')")),
    )


class Attempt(IdMixin, Base):
    __tablename__ = "webhook_attempts"
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    response_excerpt: Mapped[str] = mapped_column(Text, server_default="")
    error: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id", "at"),)
