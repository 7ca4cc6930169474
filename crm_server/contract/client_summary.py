"""One client as the whole picture on the wire: its deals, proposals, invoices (with what is still
owed), payments, tickets and sales orders, each with its totals and its newest records.

A section the user's role may not see (a salesperson has no payments or tickets) is None:
absent, not empty. A section the role sees holds only the records within the role's scope (own,
team or all), as the area's own list would. Sums are per currency, largest first; a client that
only ever dealt in one currency has one line. (Its own module: contract.leads imports
contract.clients, so these models, which hold a LeadOut, cannot live there.)"""

from __future__ import annotations

from decimal import Decimal
from typing import Generic, TypeVar

from pydantic import Field

from crm_server.contract.common import Model
from crm_server.contract.invoices import InvoiceOut, Money
from crm_server.contract.leads import LeadOut
from crm_server.contract.orders import OrderOut
from crm_server.contract.payments import PaymentRow
from crm_server.contract.proposals import ProposalOut
from crm_server.contract.tickets import TicketOut

ItemT = TypeVar("ItemT")
TotalT = TypeVar("TotalT")

ZERO = Decimal("0.00")


class AreaTotal(Model):
    """The money of one area in one currency. What `total` and `open` add up, by area:
    deals: won / still open (their value); proposals: accepted / awaiting an answer (sent or open);
    payments: kept (received less refunded) / -; orders: every live order (not cancelled, refunded
    or failed) / not completed yet."""

    currency: str
    total: Money = ZERO
    open: Money = ZERO


class InvoiceTotal(AreaTotal):
    """Invoices in one currency: `total` invoiced (issued, less credit notes), `paid` kept on them,
    `open` still owed (the open balance), `overdue` the part of it past its due date."""

    paid: Money = ZERO
    overdue: Money = ZERO


class SummarySection(Model, Generic[ItemT, TotalT]):
    """One area of the client: how many records (`open_count`: still in play: open deals, proposals
    awaiting an answer, invoices with money owed, open tickets, orders not completed), the sums per
    currency, and the newest records (up to the summary's `limit`; the area's list has the rest)."""

    count: int
    open_count: int = 0
    totals: list[TotalT] = Field(default_factory=list)
    items: list[ItemT] = Field(default_factory=list)


class ClientSummaryOut(Model):
    client_id: int
    deals: SummarySection[LeadOut, AreaTotal] | None = None
    proposals: SummarySection[ProposalOut, AreaTotal] | None = None
    invoices: SummarySection[InvoiceOut, InvoiceTotal] | None = None
    payments: SummarySection[PaymentRow, AreaTotal] | None = None
    tickets: SummarySection[TicketOut, AreaTotal] | None = None
    orders: SummarySection[OrderOut, AreaTotal] | None = None
    stage_names: dict[int, str] = Field(default_factory=dict, description="status_id -> name, of the deals shown")
