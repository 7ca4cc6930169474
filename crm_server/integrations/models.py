"""The integration inbox: every webhook event as it arrived, with what became of it; and each
provider's standing problem (an expired token), if any."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, Numeric, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.db import Base, IdMixin


class InboxEvent(IdMixin, Base):
    """One event from an outside system, stored before the provider got its 2xx, so nothing
    acknowledged is lost. Unique by (provider, event_id): a provider's retry finds the first one and
    changes nothing. A request refused at the door (bad signature, malformed) is kept as `rejected`
    with no event id: logged for the admin, never worked on, in little room (headers, the body's first
    4 KB, its size and SHA-256), limited per address and purged after 7 days."""

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
    # A rejected request's whole body: how big it was and its SHA-256 (only its start is kept).
    body_size: Mapped[int | None] = mapped_column(Integer)
    body_sha256: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (
        Index(
            "uq_integration_events_provider_event",
            "provider",
            "event_id",
            unique=True,
            postgresql_where=text("event_id IS NOT NULL"),
        ),
        # The event browser: newest first, by provider or status or neither.
        Index("ix_integration_events_received", "received_at", "id"),
        Index("ix_integration_events_provider_received", "provider", "received_at", "id"),
        Index("ix_integration_events_status_received", "status", "received_at", "id"),
        Index("ix_integration_events_due", "next_attempt_at", postgresql_where=text("status IN ('pending', 'failed')")),
        Index("ix_integration_events_remote_at", "provider", "remote", "received_at"),
        # Refusals per address (the limit) and by age (the purge).
        Index(
            "ix_integration_events_rejected_remote",
            "remote",
            "received_at",
            postgresql_where=text("status = 'rejected'"),
        ),
    )


class ProviderProblem(Base):
    """A provider-wide problem found while working (a revoked token): the integrations page shows it
    until a test or a processed event proves it gone."""

    __tablename__ = "integration_problems"
    provider: Mapped[str] = mapped_column(String(30), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    reauthorize: Mapped[bool] = mapped_column(Boolean, server_default="false")
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class StripeCustomer(Base):
    """A Stripe customer id known to be a CRM client (learnt from a payment matched by its invoice
    number or by a person): a later payment of that customer that names no invoice is looked for
    among the client's open invoices (crm_server/integrations/stripe.py)."""

    __tablename__ = "stripe_customers"
    customer_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (Index("ix_stripe_customers_client_id", "client_id"),)


class StripeCheckout(IdMixin, Base):
    """A Stripe Checkout Session made for an invoice's "Pay online" link: reused while it is open and
    asks for what is still open on the invoice; its metadata names the invoice."""

    __tablename__ = "stripe_checkout_sessions"
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"))
    session_id: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        Index("uq_stripe_checkout_sessions_session_id", "session_id", unique=True),
        Index("ix_stripe_checkout_sessions_invoice", "invoice_id", "id"),
    )
