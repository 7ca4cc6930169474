"""HTTP routes of invoices and payments: parse, authorize, call the service, serialize."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from crm_server.auth.permissions import Principal
from crm_server.contract.common import After, Page, VersionIn
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
from crm_server.documents.sources import render_invoice
from crm_server.integrations import stripe
from crm_server.invoices import recurring, sending, service
from crm_server.routing import Session, TxRoute, require

router = APIRouter(prefix="/api", route_class=TxRoute, tags=["invoices"])


@router.get("/invoices", response_model=Page[InvoiceOut])
async def list_invoices(
    session: Session, query: Annotated[InvoiceQuery, Query()], principal: Principal = require("invoices", "view")
) -> Page[InvoiceOut]:
    return await service.list_invoices(session, principal, query)


@router.post("/invoices", response_model=InvoiceOut, status_code=201)
async def create_invoice(
    body: InvoiceIn, session: Session, actor: Principal = require("invoices", "create")
) -> InvoiceOut:
    return await service.invoice_out(session, await service.create_draft(session, actor, body))


@router.get("/invoices/{invoice_id}", response_model=InvoiceOut)
async def get_invoice(
    invoice_id: int, session: Session, principal: Principal = require("invoices", "view")
) -> InvoiceOut:
    return await service.invoice_out(session, await service.visible_invoice(session, principal, invoice_id))


@router.patch("/invoices/{invoice_id}", response_model=InvoiceOut)
async def update_invoice(
    invoice_id: int, body: InvoiceUpdate, session: Session, actor: Principal = require("invoices", "edit")
) -> InvoiceOut:
    return await service.invoice_out(session, await service.update_invoice(session, actor, invoice_id, body))


@router.post("/invoices/{invoice_id}/issue", response_model=InvoiceOut)
async def issue_invoice(
    invoice_id: int, body: IssueIn, session: Session, actor: Principal = require("invoices", "edit")
) -> InvoiceOut:
    return await service.invoice_out(session, await service.issue_invoice(session, actor, invoice_id, body))


@router.post("/invoices/{invoice_id}/cancel", response_model=InvoiceOut)
async def cancel_invoice(
    invoice_id: int, body: VersionIn, session: Session, actor: Principal = require("invoices", "edit")
) -> InvoiceOut:
    """Answers the credit note when one was made, else the cancelled draft."""
    invoice, credit = await service.cancel_invoice(session, actor, invoice_id, body)
    return await service.invoice_out(session, credit or invoice)


@router.put("/invoices/{invoice_id}/recurrence", response_model=InvoiceOut)
async def set_recurrence(
    invoice_id: int, body: RecurrenceUpdate, session: Session, actor: Principal = require("invoices", "edit")
) -> InvoiceOut:
    """Set, change or stop (recurrence null) how an issued invoice recurs."""
    return await service.invoice_out(session, await recurring.set_recurrence(session, actor, invoice_id, body))


@router.get("/invoices/{invoice_id}/payments", response_model=list[PaymentOut])
async def list_payments(
    invoice_id: int, session: Session, principal: Principal = require("payments", "view")
) -> list[PaymentOut]:
    return await service.list_payments(session, principal, invoice_id)


@router.post("/invoices/{invoice_id}/payments", response_model=PaymentOut, status_code=201)
async def add_payment(
    invoice_id: int, body: PaymentIn, session: Session, actor: Principal = require("payments", "create")
) -> PaymentOut:
    return await service.add_payment(session, actor, invoice_id, body)


@router.post("/invoices/{invoice_id}/payments/{payment_id}/refunds", response_model=PaymentOut, status_code=201)
async def refund_payment(
    invoice_id: int, payment_id: int, body: RefundIn, session: Session, actor: Principal = require("payments", "edit")
) -> PaymentOut:
    """Record money given back from a payment; answers the payment with its refunds."""
    return await service.refund_payment(session, actor, payment_id, body, invoice_id=invoice_id)


@router.post("/invoices/{invoice_id}/pay-online", response_model=PayOnlineOut)
async def pay_online(invoice_id: int, session: Session, actor: Principal = require("invoices", "edit")) -> PayOnlineOut:
    """The invoice's "Pay online" link: its open Stripe Checkout Session for the open amount, or a new one."""
    return await stripe.checkout_link(session, actor, invoice_id)


# --- PDF and sending by email --------------------------------------------------------------------


def pdf_response(filename: str, data: bytes) -> Response:
    """A PDF shown in place by browsers and viewers, saved under its number."""
    return Response(
        content=data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "no-store"},
    )


@router.get(
    "/invoices/{invoice_id}/pdf", response_class=Response, responses={200: {"content": {"application/pdf": {}}}}
)
async def invoice_pdf(
    invoice_id: int, session: Session, principal: Principal = require("invoices", "view")
) -> Response:
    """The invoice or credit note as a PDF (drafts as draft-<id>.pdf, marked DRAFT)."""
    return pdf_response(*await render_invoice(session, await service.visible_invoice(session, principal, invoice_id)))


@router.get("/invoices/{invoice_id}/send-draft", response_model=SendDraft)
async def send_draft(
    invoice_id: int, session: Session, principal: Principal = require("invoices", "view")
) -> SendDraft:
    """What the send dialog starts from; `to` is null when the client has no address."""
    return await sending.send_draft(session, principal, invoice_id)


@router.post("/invoices/{invoice_id}/send", response_model=InvoiceOut)
async def send_invoice(
    invoice_id: int, body: SendIn, session: Session, actor: Principal = require("invoices", "edit")
) -> InvoiceOut:
    """Queue the email with the PDF attached; the invoice answers send_status "queued"."""
    return await service.invoice_out(session, await sending.send(session, actor, invoice_id, body))


@router.get("/invoices/{invoice_id}/emails", response_model=list[InvoiceEmailOut])
async def invoice_emails(
    invoice_id: int, session: Session, principal: Principal = require("invoices", "view")
) -> list[InvoiceEmailOut]:
    return await sending.invoice_emails(session, principal, invoice_id)


@router.get("/invoice-emails", response_model=Page[InvoiceEmailOut])
async def email_log(
    session: Session,
    status: Annotated[str | None, Query(pattern="^(queued|sent|failed)$")] = None,
    invoice_id: int | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after: After = None,
    principal: Principal = require("invoices", "view"),
) -> Page[InvoiceEmailOut]:
    """The outgoing email log of the invoices this user sees, newest first."""
    return await sending.email_log(session, principal, status, invoice_id, offset, limit, after)
