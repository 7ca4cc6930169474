"""Typed calls of the reports area: the sales report per month, week or day on the accrual or the
cash basis (crm_server.contract.reports). A report changes nothing; it is read again when what it
counts changes: WATCHED."""

from __future__ import annotations

from crm_desktop.api import payments
from crm_desktop.api.client import ApiClient
from crm_desktop.api.invoices import params
from crm_server.contract.reports import SalesQuery, SalesReportOut

# The sales report counts invoices, credit notes and payments: it reloads after any of them changes
# (a payment's live event names "invoices.payment", which carries "invoices" too).
WATCHED = payments.CHANGED | {"*"}


async def sales(api: ApiClient, query: SalesQuery | None = None) -> SalesReportOut:
    """Without a query: this year by month on the accrual basis, in the base currency."""
    return SalesReportOut.model_validate(await api.get("/api/reports/sales", **params(query or SalesQuery())))


__all__ = ["WATCHED", "sales"]
