"""Reading payments across invoices; a payment is seen by whoever sees its invoice (own/team/all)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import paging
from crm_server.auth.permissions import Principal
from crm_server.clients.models import Client
from crm_server.contract.common import Page
from crm_server.contract.invoices import PaymentOut
from crm_server.contract.payments import PaymentQuery, PaymentRow
from crm_server.errors import ValidationFailed
from crm_server.invoices.models import Invoice, Payment
from crm_server.paging import like_pattern

SORTS: dict[str, Any] = {"paid_on": Payment.paid_on, "amount": Payment.amount, "created_at": Payment.created_at}


def _conditions(principal: Principal, query: PaymentQuery) -> list[ColumnElement[bool]]:
    if query.paid_from and query.paid_to and query.paid_from > query.paid_to:
        raise ValidationFailed("The start date is after the end date.", field="paid_from")
    where = [principal.scope_filter("payments", Invoice.owner_id, Invoice.team_id)]
    if query.paid_from is not None:
        where.append(Payment.paid_on >= query.paid_from)
    if query.paid_to is not None:
        where.append(Payment.paid_on <= query.paid_to)
    if query.method is not None:
        where.append(Payment.method == query.method.value)
    if query.client_id is not None:
        where.append(Invoice.client_id == query.client_id)
    if query.q and query.q.strip():
        pattern = like_pattern(query.q)
        where.append(
            or_(
                Invoice.number.ilike(pattern, escape="\\"),
                Payment.reference.ilike(pattern, escape="\\"),
                Client.name.ilike(pattern, escape="\\"),
            )
        )
    return where


async def list_payments(session: AsyncSession, principal: Principal, query: PaymentQuery) -> Page[PaymentRow]:
    column = SORTS[query.sort.lstrip("-")]
    order = (column.desc(), Payment.id.desc()) if query.sort.startswith("-") else (column.asc(), Payment.id.asc())

    def row(r: Any) -> PaymentRow:
        payment, number, currency, client_id, client_name = r
        return PaymentRow(
            **PaymentOut.model_validate(payment).model_dump(),
            invoice_number=number,
            currency=currency,
            client_id=client_id,
            client_name=client_name or "",
        )

    stmt = (
        select(Payment, Invoice.number, Invoice.currency, Invoice.client_id, Client.name)
        .join(Invoice, Invoice.id == Payment.invoice_id)
        .join(Client, Client.id == Invoice.client_id)
        .where(*_conditions(principal, query))
    )
    return await paging.page(session, stmt, query.offset, query.limit, row, order, whole_rows=True, after=query.after)
