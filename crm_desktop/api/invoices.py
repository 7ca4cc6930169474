"""Typed calls of the invoices area: the list, an invoice, issuing, cancelling, payments and
refunds, the Pay online link, the PDF, sending by email and repeating. The wire models come from
crm_server.contract.invoices; money and dates arrive parsed (Decimal, date, datetime).

    invoice = await invoices.get_invoice(api, 5)
    operations.run(self, invoices.issue_invoice(api, 5, IssueIn(version=3)), changed=invoices.CHANGED)

A form may hand over what a person typed unchecked (`InvoiceIn.model_construct(**values)`): the
server then judges it, and its refusal names the field next to which the form shows it.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel, TypeAdapter

from crm_desktop.api.client import ApiClient
from crm_server.contract.common import Page, VersionIn
from crm_server.contract.invoices import (
    InvoiceEmailOut,
    InvoiceIn,
    InvoiceOut,
    InvoiceQuery,
    InvoiceUpdate,
    IssueIn,
    PaymentIn,
    PaymentOut,
    PayOnlineOut,
    RecurrenceUpdate,
    RefundIn,
    SendDraft,
    SendIn,
)

# What a change to an invoice (a payment, a refund, a send, a recurrence) announces on the change bus.
CHANGED = frozenset({"invoices", "invoices.invoice"})

_INVOICE_PAGE = TypeAdapter(Page[InvoiceOut])
_PAYMENTS = TypeAdapter(list[PaymentOut])
_EMAILS = TypeAdapter(list[InvoiceEmailOut])


def params(model: BaseModel) -> dict[str, Any]:
    """A query model as query parameters: only what differs from the server's defaults."""
    return model.model_dump(mode="json", exclude_defaults=True, exclude_none=True, warnings=False)


def body(model: BaseModel) -> dict[str, Any]:
    """A request model as JSON: the fields set (a PATCH changes only what it names); it may be
    unchecked (`model_construct`), the server judges it."""
    return model.model_dump(mode="json", exclude_unset=True, warnings=False)


async def list_invoices(api: ApiClient, query: InvoiceQuery | None = None) -> Page[InvoiceOut]:
    """A page of the invoices this user sees (the first 100, newest first, without a query)."""
    return _INVOICE_PAGE.validate_python(await api.get("/api/invoices", **params(query or InvoiceQuery())))


async def create_invoice(api: ApiClient, invoice: InvoiceIn) -> InvoiceOut:
    return InvoiceOut.model_validate(await api.post("/api/invoices", body(invoice)))


async def get_invoice(api: ApiClient, invoice_id: int) -> InvoiceOut:
    return InvoiceOut.model_validate(await api.get(f"/api/invoices/{invoice_id}"))


async def update_invoice(api: ApiClient, invoice_id: int, changes: InvoiceUpdate) -> InvoiceOut:
    """A draft's changes (`lines`, when set, replace all lines); an issued invoice takes notes only."""
    return InvoiceOut.model_validate(await api.patch(f"/api/invoices/{invoice_id}", body(changes)))


async def issue_invoice(api: ApiClient, invoice_id: int, issue: IssueIn) -> InvoiceOut:
    return InvoiceOut.model_validate(await api.post(f"/api/invoices/{invoice_id}/issue", body(issue)))


async def cancel_invoice(api: ApiClient, invoice_id: int, version: int) -> InvoiceOut:
    """Answers the credit note when one was made, else the cancelled draft."""
    answer = await api.post(f"/api/invoices/{invoice_id}/cancel", body(VersionIn(version=version)))
    return InvoiceOut.model_validate(answer)


async def set_recurrence(api: ApiClient, invoice_id: int, recurrence: RecurrenceUpdate) -> InvoiceOut:
    """`recurrence.recurrence` None stops the repeating."""
    answer = await api.put(f"/api/invoices/{invoice_id}/recurrence", body(recurrence))
    return InvoiceOut.model_validate(answer)


async def payments(api: ApiClient, invoice_id: int) -> list[PaymentOut]:
    """The invoice's payments, each with its refunds."""
    return _PAYMENTS.validate_python(await api.get(f"/api/invoices/{invoice_id}/payments"))


async def add_payment(api: ApiClient, invoice_id: int, payment: PaymentIn) -> PaymentOut:
    return PaymentOut.model_validate(await api.post(f"/api/invoices/{invoice_id}/payments", body(payment)))


async def refund_payment(api: ApiClient, invoice_id: int, payment_id: int, refund: RefundIn) -> PaymentOut:
    """Answers the payment with the new refund last in `refunds`."""
    answer = await api.post(f"/api/invoices/{invoice_id}/payments/{payment_id}/refunds", body(refund))
    return PaymentOut.model_validate(answer)


async def pay_online(api: ApiClient, invoice_id: int) -> PayOnlineOut:
    """The invoice's Stripe Checkout link for what is open on it (made, or an open one reused)."""
    return PayOnlineOut.model_validate(await api.post(f"/api/invoices/{invoice_id}/pay-online"))


async def pdf(api: ApiClient, invoice_id: int) -> bytes:
    """The invoice or credit note as a PDF (a draft marked DRAFT)."""
    response: httpx.Response = await api.request("GET", f"/api/invoices/{invoice_id}/pdf", raw=True)
    return response.content


async def send_draft(api: ApiClient, invoice_id: int) -> SendDraft:
    """What the send dialog starts from; `to` is None when the client has no address."""
    return SendDraft.model_validate(await api.get(f"/api/invoices/{invoice_id}/send-draft"))


async def send_invoice(api: ApiClient, invoice_id: int, send: SendIn) -> InvoiceOut:
    """Queue the email with the PDF attached; the invoice answers send_status "queued"."""
    return InvoiceOut.model_validate(await api.post(f"/api/invoices/{invoice_id}/send", body(send)))


async def emails(api: ApiClient, invoice_id: int) -> list[InvoiceEmailOut]:
    """Every send of the invoice."""
    return _EMAILS.validate_python(await api.get(f"/api/invoices/{invoice_id}/emails"))


__all__ = [
    "CHANGED",
    "add_payment",
    "cancel_invoice",
    "create_invoice",
    "emails",
    "get_invoice",
    "issue_invoice",
    "list_invoices",
    "pay_online",
    "payments",
    "pdf",
    "refund_payment",
    "send_draft",
    "send_invoice",
    "set_recurrence",
    "update_invoice",
]
