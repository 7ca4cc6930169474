"""The integration inbox: every webhook event as it arrived, with what became of it; and each
provider's standing problem (an expired token), if any."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Index, Integer, LargeBinary, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.db import Base, IdMixin


class InboxEvent(IdMixin, Base):
    """One event from an outside system, stored before the provider got its 2xx, so nothing
    acknowledged is lost. Unique by (provider, event_id): a provider's retry finds the first one and
    changes nothing. A request refused at the door (bad signature, malformed) is kept as `rejected`
    with no event id: logged for the admin, never worked on."""

    __tablename__ = "integration_events"
    provider: Mapped[str] = mapped_column(String(30))
    event_id: Mapped[str | None] = mapped_column(String(300))
    event_type: Mapped[str] = mapped_column(String(100), server_default="")
    status: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(Text)
    remote: Mapped[str | None] = mapped_column(String(100))
    headers: Mapped[dict[str, str]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    body: Mapped[bytes] = mapped_column(LargeBinary, server_default=text("''::bytea"), deferred=True)
    __table_args__ = (
        Index("uq_integration_events_provider_event", "provider", "event_id", unique=True,
              postgresql_where=text("event_id IS NOT NULL")),
        # The event browser: newest first, by provider or status or neither.
        Index("ix_integration_events_received", "received_at", "id"),
        Index("ix_integration_events_provider_received", "provider", "received_at", "id"),
        Index("ix_integration_events_status_received", "status", "received_at", "id"),
        Index("ix_integration_events_due", "next_attempt_at",
              postgresql_where=text("status IN ('pending', 'failed')")),
        Index("ix_integration_events_remote_at", "provider", "remote", "received_at"),
    )


class ProviderProblem(Base):
    """A provider-wide problem found while working (a revoked token): the integrations page shows it
    until a test or a processed event proves it gone."""

    __tablename__ = "integration_problems"
    provider: Mapped[str] = mapped_column(String(30), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    reauthorize: Mapped[bool] = mapped_column(Boolean, server_default="false")
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
