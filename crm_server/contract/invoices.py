"""Invoices, credit notes and payments on the wire. Amounts are Decimal (strings in JSON)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, computed_field

from crm_server.contract.common import After, Model, VersionIn

Money = Decimal


class InvoiceStatus(StrEnum):
    draft = "draft"
    unpaid = "unpaid"
    partially_paid = "partially_paid"
    paid = "paid"
    overdue = "overdue"
    cancelled = "cancelled"


# Issued and still waiting for money: what payments and the overdue job work on.
OPEN_STATUSES = (InvoiceStatus.unpaid, InvoiceStatus.partially_paid, InvoiceStatus.overdue)


class InvoiceAction(StrEnum):
    edit = "edit"  # client, currency, dates and lines (notes can be changed in every status)
    issue = "issue"  # numbered and frozen; its status then follows its money (unpaid, paid, overdue)
    pay = "pay"  # record a payment
    refund = "refund"  # give back part of a payment
    cancel = "cancel"  # a draft simply, an issued invoice by a credit note (refused while money is kept on it)
    send = "send"  # email it with its PDF
    recur = "recur"  # set its recurrence


# What an invoice may do in each status: the server refuses anything else (credit notes are
# further limited by their kind: they are neither paid, cancelled nor recurring).
_A = InvoiceAction
_ISSUED = frozenset({_A.pay, _A.cancel, _A.send, _A.recur, _A.refund})
INVOICE_ACTIONS: dict[InvoiceStatus, frozenset[InvoiceAction]] = {
    InvoiceStatus.draft: frozenset({_A.edit, _A.issue, _A.cancel}),
    InvoiceStatus.unpaid: _ISSUED,
    InvoiceStatus.partially_paid: _ISSUED,
    InvoiceStatus.overdue: _ISSUED,
    InvoiceStatus.paid: _ISSUED - {_A.pay},
    InvoiceStatus.cancelled: frozenset(),
}


def invoice_allows(status: str, action: InvoiceAction) -> bool:
    """Whether INVOICE_ACTIONS lets an invoice in `status` take `action`."""
    return action in INVOICE_ACTIONS[InvoiceStatus(status)]


class InvoiceKind(StrEnum):
    invoice = "invoice"
    credit_note = "credit_note"


class PaymentMethod(StrEnum):
    transfer = "transfer"
    card = "card"
    cash = "cash"
    stripe = "stripe"
    other = "other"


class SendStatus(StrEnum):
    unsent = "unsent"
    queued = "queued"  # a send job is waiting for the SMTP server
    sent = "sent"
    failed = "failed"


class RecurUnit(StrEnum):
    day = "day"
    week = "week"
    month = "month"
    year = "year"


class LineIn(BaseModel):
    """A product line (price, VAT rate and description default from the product) or free text."""

    product_id: int | None = None
    description: str | None = Field(default=None, max_length=2000)
    quantity: Decimal = Field(gt=0, max_digits=14, decimal_places=3)
    unit_price: Money | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    discount_percent: Decimal = Field(default=Decimal(0), ge=0, le=100, max_digits=5, decimal_places=2)
    tax_rate_id: int | None = None


class InvoiceIn(BaseModel):
    client_id: int
    currency: str | None = Field(default=None, description="ISO 4217; defaults to sales.base_currency")
    issue_date: date | None = None
    due_date: date | None = None
    notes: str | None = Field(default=None, max_length=5000)
    lines: list[LineIn] = Field(default_factory=list, max_length=500)


class InvoiceUpdate(BaseModel):
    """A draft's changes; `lines`, when given, replace all lines. An issued invoice takes notes only."""

    version: int
    client_id: int | None = None
    currency: str | None = None
    issue_date: date | None = None
    due_date: date | None = None
    notes: str | None = Field(default=None, max_length=5000)
    lines: list[LineIn] | None = Field(default=None, max_length=500)


class IssueIn(VersionIn):
    issue_date: date | None = Field(default=None, description="defaults to the draft's date, else today")


class RecurrenceIn(BaseModel):
    """Repeat an issued invoice every `every` units, for `cycles` more invoices (None: forever)."""

    every: int = Field(ge=1, le=999)
    unit: RecurUnit = RecurUnit.month
    cycles: int | None = Field(default=None, ge=1, le=1000)


class RecurrenceUpdate(VersionIn):
    """`recurrence` None stops it."""

    recurrence: RecurrenceIn | None


class RecurrenceOut(Model):
    every: int
    unit: RecurUnit
    cycles: int | None
    done: int = Field(description="invoices made from this one so far")
    next_on: date | None = Field(description="date of the next one; None when the cycles are done")
    last_skip: str | None = Field(default=None, description="why the last due generation was skipped")


class SendIn(BaseModel):
    """An email with the invoice's PDF attached; subject and message default to a sentence naming
    the invoice (what GET .../send-draft proposes)."""

    to: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    subject: str | None = Field(default=None, max_length=400)
    message: str | None = Field(default=None, max_length=10000)


class SendDraft(BaseModel):
    """What the send dialog starts from (GET .../send-draft): the client's address, or None when
    the client has none yet, and the proposed subject and message."""

    to: str | None
    subject: str
    message: str


class InvoiceEmailOut(Model):
    """One send of an invoice (the invoices' email log)."""

    id: int
    invoice_id: int
    invoice_number: str | None = None
    recipient: str
    subject: str
    status: str  # queued, sent, failed
    error: str | None
    attempts: int
    sent_at: datetime | None
    created_by: int | None
    created_at: datetime


class LineOut(Model):
    id: int
    position: int
    product_id: int | None
    description: str
    quantity: Decimal
    unit_price: Money
    discount_percent: Decimal
    tax_rate_id: int
    tax_percent: Decimal
    net: Money
    tax: Money
    gross: Money


class InvoiceOut(Model):
    id: int
    kind: InvoiceKind
    number: str | None
    status: InvoiceStatus
    client_id: int
    client_name: str = ""
    currency: str
    issue_date: date | None
    due_date: date | None
    notes: str | None
    net_total: Money
    tax_total: Money
    gross_total: Money
    paid_total: Money
    credited_invoice_id: int | None
    owner_id: int | None
    team_id: int | None
    issued_at: datetime | None
    cancelled_at: datetime | None
    send_status: SendStatus = SendStatus.unsent
    sent_at: datetime | None = None
    send_error: str | None = None
    recurrence: RecurrenceOut | None = None
    recurred_from_id: int | None = None
    created_at: datetime
    updated_at: datetime
    version: int
    lines: list[LineOut] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]  # mypy takes no decorator over @property (pydantic says so)
    @property
    def open_amount(self) -> Money:
        """What is still to be paid (0 for drafts, cancelled invoices and credit notes)."""
        if self.status in OPEN_STATUSES or self.status is InvoiceStatus.paid:
            return self.gross_total - self.paid_total
        return Decimal("0.00")


InvoiceSort = Literal[
    "number",
    "-number",
    "issue_date",
    "-issue_date",
    "due_date",
    "-due_date",
    "gross_total",
    "-gross_total",
    "created_at",
    "-created_at",
]


class InvoiceQuery(BaseModel):
    status: InvoiceStatus | None = None
    kind: InvoiceKind | None = None
    client_id: int | None = None
    overdue: bool = Field(default=False, description="open and past its due date")
    issued_from: date | None = None
    issued_to: date | None = None
    q: str | None = Field(default=None, max_length=200, description="part of the number or the client's name")
    sort: InvoiceSort = "-created_at"
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=100, ge=1, le=500)
    after: After = None


class PaymentIn(BaseModel):
    amount: Money = Field(gt=0, max_digits=14, decimal_places=2)
    paid_on: date | None = Field(default=None, description="defaults to today")
    method: PaymentMethod = PaymentMethod.transfer
    reference: str | None = Field(default=None, max_length=200)


class RefundIn(BaseModel):
    """Money given back from a payment (at most what is left of it); the reason is kept in the audit."""

    amount: Money = Field(gt=0, max_digits=14, decimal_places=2)
    reason: str = Field(max_length=500)
    refunded_on: date | None = Field(default=None, description="defaults to today")
    reference: str | None = Field(default=None, max_length=200)


class RefundOut(Model):
    id: int
    payment_id: int
    amount: Money
    refunded_on: date
    reason: str
    reference: str | None
    created_by: int | None
    created_at: datetime


class PaymentOut(Model):
    id: int
    invoice_id: int
    amount: Money
    paid_on: date
    method: PaymentMethod
    reference: str | None
    external_ref: str | None = Field(default=None, description="the provider's id of the money, e.g. pi_...")
    refunded_total: Money = Decimal("0.00")
    refunds: list[RefundOut] = Field(default_factory=list, description="filled by an invoice's payment list")
    created_by: int | None
    created_at: datetime

    @computed_field  # type: ignore[prop-decorator]  # mypy takes no decorator over @property (pydantic says so)
    @property
    def refundable(self) -> Money:
        """What can still be given back."""
        return self.amount - self.refunded_total


class PayOnlineOut(Model):
    """An invoice's "Pay online" link: a Stripe Checkout Session for what is open on it."""

    invoice_id: int
    url: str
    session_id: str
    amount: Money
    currency: str
    expires_at: datetime
    reused: bool = False  # an open session asking the same amount was handed out again
