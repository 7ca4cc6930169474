"""Tables of the invoices area: invoices and credit notes, their lines, payments and number series."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.clients.models import Versioned
from crm_server.db import Base, IdMixin, TimestampsMixin

MONEY = Numeric(14, 2)


class InvoiceSeries(IdMixin, Base):
    """A gapless counter per series ("invoice", "credit_note") and year, locked FOR UPDATE by the
    issuing transaction: a rolled-back issue gives its number back, which a sequence would not."""

    __tablename__ = "invoice_series"
    series: Mapped[str] = mapped_column(String(20))
    year: Mapped[int] = mapped_column(Integer)
    next_value: Mapped[int] = mapped_column(Integer, server_default="1")
    __table_args__ = (Index("uq_invoice_series_series_year", "series", "year", unique=True),)


class Invoice(IdMixin, TimestampsMixin, Versioned, Base):
    """An invoice or a credit note. Totals are stored so lists never recompute them. Issued ones are
    never deleted: they are cancelled by a credit note (credited_invoice_id points at the original)."""

    __tablename__ = "invoices"
    kind: Mapped[str] = mapped_column(String(20), server_default="invoice")
    number: Mapped[str | None] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), server_default="draft")
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="RESTRICT"))
    currency: Mapped[str] = mapped_column(String(3))
    issue_date: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
    net_total: Mapped[Decimal] = mapped_column(MONEY, server_default="0")
    tax_total: Mapped[Decimal] = mapped_column(MONEY, server_default="0")
    gross_total: Mapped[Decimal] = mapped_column(MONEY, server_default="0")
    paid_total: Mapped[Decimal] = mapped_column(MONEY, server_default="0")
    credited_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"))
    # Copied from the client: whoever owns the client sees its invoices (own / team scope).
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Sending by email: the last send's outcome (every attempt is an InvoiceEmail row).
    send_status: Mapped[str] = mapped_column(String(10), server_default="unsent")
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    send_error: Mapped[str | None] = mapped_column(Text)
    # Recurrence, kept on the issued source invoice: every N units, for `recur_cycles` cycles (None:
    # forever); `recur_done` counts the invoices made so far, `recur_next_on` is the next one's date.
    recur_every: Mapped[int | None] = mapped_column(Integer)
    recur_unit: Mapped[str | None] = mapped_column(String(5))
    recur_cycles: Mapped[int | None] = mapped_column(Integer)
    recur_done: Mapped[int] = mapped_column(Integer, server_default="0")
    recur_next_on: Mapped[date | None] = mapped_column(Date)
    recur_last_skip: Mapped[str | None] = mapped_column(Text)
    recurred_from_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"))
    __table_args__ = (
        CheckConstraint("kind IN ('invoice', 'credit_note')", name="kind"),
        CheckConstraint("send_status IN ('unsent', 'queued', 'sent', 'failed')", name="send_status"),
        CheckConstraint("recur_unit IN ('day', 'week', 'month', 'year')", name="recur_unit"),
        CheckConstraint(
            "(recur_every IS NULL) = (recur_unit IS NULL) AND (recur_every IS NULL OR recur_every > 0)",
            name="recur_rule",
        ),
        CheckConstraint(
            "status IN ('draft', 'unpaid', 'partially_paid', 'paid', 'overdue', 'cancelled')", name="status"
        ),
        Index("uq_invoices_number", "number", unique=True),
        Index("ix_invoices_client_id", "client_id"),
        # Home's overdue figure and the receivables report read from the index alone (migration 0040).
        Index(
            "ix_invoices_open_due",
            "due_date",
            postgresql_include=[
                "currency",
                "gross_total",
                "paid_total",
                "owner_id",
                "team_id",
                "client_id",
                "kind",
                "issue_date",
            ],
            postgresql_where=text("status IN ('unpaid', 'partially_paid', 'overdue')"),
        ),
        Index("ix_invoices_owner_created", "owner_id", "created_at"),  # own scope, newest first
        Index("ix_invoices_owner_status", "owner_id", "status", "created_at"),  # own scope by status
        Index("ix_invoices_team_id", "team_id"),
        Index("ix_invoices_status_due", "status", "due_date"),
        Index("ix_invoices_issue_created", "issue_date", "created_at", "id"),  # date ranges, newest first
        Index("ix_invoices_created_at", "created_at"),
        Index("ix_invoices_credited_invoice_id", "credited_invoice_id"),
        Index("ix_invoices_recurred_from_id", "recurred_from_id"),
        Index("ix_invoices_recur_next_on", "recur_next_on", postgresql_where=text("recur_every IS NOT NULL")),
        # The list on a million invoices (migration 0010, tests/perf/bench_invoices.py).
        Index("ix_invoices_gross_total", "gross_total"),
        Index("ix_invoices_number_trgm", "number", postgresql_using="gin", postgresql_ops={"number": "gin_trgm_ops"}),
        Index("ix_invoices_number_prefix", "number", postgresql_ops={"number": "varchar_pattern_ops"}),
        # Sorts on columns drafts leave empty, "empty last" both ways, a cursor's range (migration 0024).
        *(
            Index(f"ix_invoices_{name}_{way}", text(f"{name} {way} NULLS LAST"), text(f"id {way}"))
            for name, ways in (("number", ("desc",)), ("issue_date", ("asc", "desc")), ("due_date", ("asc", "desc")))
            for way in ways
        ),
    )


class LineColumns:
    """A priced line of a document (invoices, proposals); the VAT percent is copied at the time, so
    a later rate change leaves it alone."""

    position: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    discount_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), server_default="0")
    tax_rate_id: Mapped[int] = mapped_column(ForeignKey("tax_rates.id", ondelete="RESTRICT"))
    tax_percent: Mapped[Decimal] = mapped_column(Numeric(6, 3))
    net: Mapped[Decimal] = mapped_column(MONEY)
    tax: Mapped[Decimal] = mapped_column(MONEY)
    gross: Mapped[Decimal] = mapped_column(MONEY)


class InvoiceLine(LineColumns, IdMixin, Base):
    __tablename__ = "invoice_lines"
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    __table_args__ = (Index("ix_invoice_lines_invoice", "invoice_id", "position"),)


class Payment(IdMixin, TimestampsMixin, Base):
    """Money received against an invoice; several may settle one invoice. `amount` is what came in
    and stays so; refunds (PaymentRefund rows) add up in `refunded_total`, and the invoice's paid total
    counts only what was kept. `external_ref` is the payment provider's id of the money (a Stripe
    payment intent): unique per method, so a provider's retried or twin events record it once."""

    __tablename__ = "payments"
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    paid_on: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str | None] = mapped_column(String(200))
    external_ref: Mapped[str | None] = mapped_column(String(200))
    refunded_total: Mapped[Decimal] = mapped_column(MONEY, server_default="0")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("refunded_total >= 0 AND refunded_total <= amount", name="refunded_range"),
        CheckConstraint("method IN ('transfer', 'card', 'cash', 'stripe', 'other')", name="method"),
        Index("ix_payments_invoice", "invoice_id", "paid_on"),
        # The payments list's sorts, the id the tie (migration 0024).
        *(Index(f"ix_payments_{name}", name, "id") for name in ("paid_on", "amount", "created_at")),
        Index(
            "uq_payments_method_external_ref",
            "method",
            "external_ref",
            unique=True,
            postgresql_where=text("external_ref IS NOT NULL"),
        ),
    )


class PaymentRefund(IdMixin, TimestampsMixin, Base):
    """Money given back from a payment, by a person or a provider's refund event; the payment's
    `refunded_total` is the sum of its rows (kept under the invoice's lock, bounded by a check)."""

    __tablename__ = "payment_refunds"
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="RESTRICT"))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    refunded_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_payment_refunds_payment", "payment_id", "id"),
    )


class InvoiceEmail(IdMixin, TimestampsMixin, Base):
    """One send of an invoice by email (the invoices' email log): queued by the user or the recurring
    job, sent by a job after commit; a failure keeps the SMTP server's words."""

    __tablename__ = "invoice_emails"
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(400))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), server_default="queued")
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'sent', 'failed')", name="status"),
        Index("ix_invoice_emails_invoice", "invoice_id", "id"),
        Index("ix_invoice_emails_created_at", "created_at"),
    )
