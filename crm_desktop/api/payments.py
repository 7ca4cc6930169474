"""Typed calls of the payments list: every payment the user may see, across invoices, each with the
invoice it settles (crm_server.contract.payments). Recording and refunding a payment are calls of
an invoice: crm_desktop.api.invoices.add_payment and refund_payment."""

from __future__ import annotations

from pydantic import TypeAdapter

from crm_desktop.api import invoices
from crm_desktop.api.client import ApiClient
from crm_desktop.api.invoices import params
from crm_server.contract.common import Page
from crm_server.contract.payments import PaymentQuery, PaymentRow

# A payment or a refund is a change of its invoice: that is what the change bus announces.
CHANGED = invoices.CHANGED

_PAYMENT_PAGE = TypeAdapter(Page[PaymentRow])


async def list_payments(api: ApiClient, query: PaymentQuery | None = None) -> Page[PaymentRow]:
    """A page of the payments this user sees (the first 100, latest first, without a query)."""
    return _PAYMENT_PAGE.validate_python(await api.get("/api/payments", **params(query or PaymentQuery())))


__all__ = ["CHANGED", "list_payments"]
