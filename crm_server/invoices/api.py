"""HTTP routes of invoices and payments: parse, authorize, call the service, serialize."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from crm_server.auth.permissions import Principal
from crm_server.contract.common import Page
from crm_server.contract.invoices import (
    InvoiceIn,
    InvoiceOut,
    InvoiceQuery,
    InvoiceUpdate,
    IssueIn,
    PaymentIn,
    PaymentOut,
    VersionIn,
)
from crm_server.invoices import service
from crm_server.routing import Session, TxRoute, require

router = APIRouter(prefix="/api", route_class=TxRoute, tags=["invoices"])


@router.get("/invoices", response_model=Page[InvoiceOut])
async def list_invoices(session: Session, query: Annotated[InvoiceQuery, Query()],
                        principal: Principal = require("invoices", "view")) -> Page[InvoiceOut]:
    return await service.list_invoices(session, principal, query)


@router.post("/invoices", response_model=InvoiceOut, status_code=201)
async def create_invoice(body: InvoiceIn, session: Session,
                         actor: Principal = require("invoices", "create")) -> InvoiceOut:
    return await service.invoice_out(session, await service.create_draft(session, actor, body))


@router.get("/invoices/{invoice_id}", response_model=InvoiceOut)
async def get_invoice(invoice_id: int, session: Session,
                      principal: Principal = require("invoices", "view")) -> InvoiceOut:
    return await service.invoice_out(session, await service.visible_invoice(session, principal, invoice_id))


@router.patch("/invoices/{invoice_id}", response_model=InvoiceOut)
async def update_invoice(invoice_id: int, body: InvoiceUpdate, session: Session,
                         actor: Principal = require("invoices", "edit")) -> InvoiceOut:
    return await service.invoice_out(session, await service.update_invoice(session, actor, invoice_id, body))


@router.post("/invoices/{invoice_id}/issue", response_model=InvoiceOut)
async def issue_invoice(invoice_id: int, body: IssueIn, session: Session,
                        actor: Principal = require("invoices", "edit")) -> InvoiceOut:
    return await service.invoice_out(session, await service.issue_invoice(session, actor, invoice_id, body))


@router.post("/invoices/{invoice_id}/cancel", response_model=InvoiceOut)
async def cancel_invoice(invoice_id: int, body: VersionIn, session: Session,
                         actor: Principal = require("invoices", "edit")) -> InvoiceOut:
    """Answers the credit note when one was made, else the cancelled draft."""
    invoice, credit = await service.cancel_invoice(session, actor, invoice_id, body)
    return await service.invoice_out(session, credit or invoice)


@router.get("/invoices/{invoice_id}/payments", response_model=list[PaymentOut])
async def list_payments(invoice_id: int, session: Session,
                        principal: Principal = require("payments", "view")) -> list[PaymentOut]:
    return await service.list_payments(session, principal, invoice_id)


@router.post("/invoices/{invoice_id}/payments", response_model=PaymentOut, status_code=201)
async def add_payment(invoice_id: int, body: PaymentIn, session: Session,
                      actor: Principal = require("payments", "create")) -> PaymentOut:
    return await service.add_payment(session, actor, invoice_id, body)
