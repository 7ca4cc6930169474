"""One client as the whole picture: per area (deals, proposals, invoices, payments, tickets, sales
orders) the count, the sums per currency and the newest records, in the asking user's scope.

Each area costs two or three queries whatever the client's size: one grouped aggregate (count and
sums per currency, with FILTER clauses for the open parts) and the area's own list service for the
first page (the same scope rules, names and shapes as the area's list). Every query starts from the
area's client_id index. An area the user's role may not view is left out (None)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin import settings
from crm_server.auth.permissions import Principal
from crm_server.clients.service import visible_client
from crm_server.contract.client_summary import AreaTotal, ClientSummaryOut, InvoiceTotal, SummarySection
from crm_server.contract.invoices import OPEN_STATUSES as INVOICE_OPEN
from crm_server.contract.invoices import InvoiceOut, InvoiceQuery
from crm_server.contract.leads import LeadOut
from crm_server.contract.orders import OrderOut, OrderQuery
from crm_server.contract.payments import PaymentQuery, PaymentRow
from crm_server.contract.proposals import ProposalOut, ProposalQuery
from crm_server.contract.tickets import OPEN_STATUSES as TICKET_OPEN
from crm_server.contract.tickets import TicketFilters, TicketOut, TicketQuery
from crm_server.db import utcnow
from crm_server.invoices import service as invoices
from crm_server.invoices.models import Invoice, Payment
from crm_server.leads import service as leads
from crm_server.leads.models import Lead, PipelineStatus
from crm_server.orders import service as orders
from crm_server.orders.models import SalesOrder
from crm_server.payments import service as payments
from crm_server.proposals import service as proposals
from crm_server.proposals.models import Proposal
from crm_server.tickets import queries as ticket_queries
from crm_server.tickets import service as tickets
from crm_server.tickets.models import Ticket

ZERO = Decimal("0.00")
AWAITING = ("sent", "open")  # proposals waiting for the client's answer
DEAD_ORDERS = ("cancelled", "refunded", "failed")
INVOICE_OPEN_VALUES = tuple(s.value for s in INVOICE_OPEN)


def _sum(value: Any, condition: ColumnElement[bool] | None = None) -> Any:
    summed = func.sum(value) if condition is None else func.sum(value).filter(condition)
    return func.coalesce(summed, ZERO)


def _count(condition: ColumnElement[bool]) -> Any:
    return func.count().filter(condition)


async def _grouped(session: AsyncSession, stmt: Select[Any]) -> Sequence[Any]:
    """Rows of (currency, count, open_count, sums...): one per currency the client dealt in."""
    rows: Sequence[Any] = (await session.execute(stmt)).all()
    return rows


def _counts(rows: Sequence[Any]) -> tuple[int, int]:
    return sum(r[1] for r in rows), sum(r[2] for r in rows)


def _by_size(totals: list[Any]) -> list[Any]:
    """Largest first (what the client is mostly billed in leads), then by currency code."""
    return sorted(totals, key=lambda t: (-abs(t.total) - abs(t.open), t.currency))


async def _deals(session: AsyncSession, principal: Principal, client_id: int, limit: int) -> SummarySection[Any, Any]:
    """The leads that became (or were won into) this client: won value, and the value still open."""
    base_currency = str(await settings.get(session, "sales.base_currency"))
    where = [
        principal.scope_filter(leads.MODULE, Lead.owner_id, Lead.team_id),
        Lead.converted_client_id == client_id,
        Lead.merged_into_id.is_(None),
    ]
    currency = func.coalesce(Lead.currency, base_currency)
    rows = await _grouped(
        session,
        select(
            currency,
            func.count(),
            _count(PipelineStatus.kind == "open"),
            _sum(Lead.value, PipelineStatus.kind == "won"),
            _sum(Lead.value, PipelineStatus.kind == "open"),
        )
        .join(PipelineStatus, PipelineStatus.id == Lead.status_id)
        .where(*where)
        .group_by(currency),
    )
    items = (await session.scalars(select(Lead).where(*where).order_by(Lead.created_at.desc()).limit(limit))).all()
    count, open_count = _counts(rows)
    totals = [AreaTotal(currency=r[0], total=r[3], open=r[4]) for r in rows if r[3] or r[4]]
    return SummarySection[LeadOut, AreaTotal](
        count=count, open_count=open_count, totals=_by_size(totals), items=[leads.lead_out(lead) for lead in items]
    )


async def _proposals(
    session: AsyncSession, principal: Principal, client_id: int, limit: int
) -> SummarySection[Any, Any]:
    query = ProposalQuery(client_id=client_id, limit=limit)
    awaiting = Proposal.status.in_(AWAITING)
    rows = await _grouped(
        session,
        select(
            Proposal.currency,
            func.count(),
            _count(awaiting),
            _sum(Proposal.gross_total, Proposal.status == "accepted"),
            _sum(Proposal.gross_total, awaiting),
        )
        .where(*proposals._conditions(principal, query))
        .group_by(Proposal.currency),
    )
    page = await proposals.list_proposals(session, principal, query)
    count, open_count = _counts(rows)
    totals = [AreaTotal(currency=r[0], total=r[3], open=r[4]) for r in rows]
    return SummarySection[ProposalOut, AreaTotal](
        count=count, open_count=open_count, totals=_by_size(totals), items=page.items
    )


async def _invoices(
    session: AsyncSession, principal: Principal, client_id: int, limit: int
) -> SummarySection[Any, Any]:
    """Invoiced = every issued invoice and credit note (a cancelled invoice and its credit note make
    nothing); paid = what is kept on invoices; open = what is still owed; overdue = the part of it
    past its due date (also before the nightly job marks it)."""
    query = InvoiceQuery(client_id=client_id, limit=limit)
    issued = Invoice.status != "draft"
    owed = Invoice.status.in_(INVOICE_OPEN_VALUES)
    late = owed & ((Invoice.status == "overdue") | (Invoice.due_date < date.today()))
    rows = await _grouped(
        session,
        select(
            Invoice.currency,
            func.count(),
            _count(owed),
            _sum(Invoice.gross_total, issued),
            _sum(Invoice.paid_total, issued & (Invoice.kind == "invoice")),
            _sum(Invoice.gross_total - Invoice.paid_total, owed),
            _sum(Invoice.gross_total - Invoice.paid_total, late),
        )
        .where(*invoices._conditions(principal, query, date.today()))
        .group_by(Invoice.currency),
    )
    page = await invoices.list_invoices(session, principal, query)
    count, open_count = _counts(rows)
    totals = [InvoiceTotal(currency=r[0], total=r[3], paid=r[4], open=r[5], overdue=r[6]) for r in rows]
    return SummarySection[InvoiceOut, InvoiceTotal](
        count=count, open_count=open_count, totals=_by_size(totals), items=page.items
    )


async def _payments(
    session: AsyncSession, principal: Principal, client_id: int, limit: int
) -> SummarySection[Any, Any]:
    query = PaymentQuery(client_id=client_id, limit=limit)
    rows = await _grouped(
        session,
        select(Invoice.currency, func.count(), literal(0), _sum(Payment.amount - Payment.refunded_total))
        .select_from(Payment)
        .join(Invoice, Invoice.id == Payment.invoice_id)
        .where(*payments._conditions(principal, query))
        .group_by(Invoice.currency),
    )
    page = await payments.list_payments(session, principal, query)
    count, _ = _counts(rows)
    totals = [AreaTotal(currency=r[0], total=r[3]) for r in rows]
    return SummarySection[PaymentRow, AreaTotal](count=count, totals=_by_size(totals), items=page.items)


async def _tickets(session: AsyncSession, principal: Principal, client_id: int, limit: int) -> SummarySection[Any, Any]:
    where = ticket_queries.conditions(principal, TicketFilters(client_id=client_id), utcnow())
    open_ = Ticket.status.in_([s.value for s in TICKET_OPEN])
    row = (await session.execute(select(func.count(), _count(open_)).where(*where))).one()
    page = await tickets.list_tickets(session, principal, TicketQuery(client_id=client_id, limit=limit))
    return SummarySection[TicketOut, AreaTotal](count=row[0], open_count=row[1], items=page.items)


async def _orders(session: AsyncSession, principal: Principal, client_id: int, limit: int) -> SummarySection[Any, Any]:
    live = SalesOrder.status.not_in(DEAD_ORDERS)
    open_ = live & (SalesOrder.status != "completed")
    rows = await _grouped(
        session,
        select(
            SalesOrder.currency,
            func.count(),
            _count(open_),
            _sum(SalesOrder.total, live),
            _sum(SalesOrder.total, open_),
        )
        .where(
            principal.scope_filter(orders.MODULE, SalesOrder.owner_id, SalesOrder.team_id),
            SalesOrder.client_id == client_id,
        )
        .group_by(SalesOrder.currency),
    )
    page = await orders.list_orders(session, principal, OrderQuery(client_id=client_id, limit=limit))
    count, open_count = _counts(rows)
    totals = [AreaTotal(currency=r[0], total=r[3], open=r[4]) for r in rows]
    return SummarySection[OrderOut, AreaTotal](
        count=count, open_count=open_count, totals=_by_size(totals), items=page.items
    )


async def client_summary(session: AsyncSession, principal: Principal, client_id: int, limit: int) -> ClientSummaryOut:
    """The client's whole picture (404 for a client this user may not see)."""
    await visible_client(session, principal, client_id)
    out = ClientSummaryOut(client_id=client_id)
    if principal.can("leads", "view"):
        out.deals = await _deals(session, principal, client_id, limit)
        stages = {lead.status_id for lead in out.deals.items}
        if stages:
            named = await session.execute(
                select(PipelineStatus.id, PipelineStatus.name).where(PipelineStatus.id.in_(stages))
            )
            out.stage_names = {row[0]: row[1] for row in named}
    if principal.can("proposals", "view"):
        out.proposals = await _proposals(session, principal, client_id, limit)
    if principal.can("invoices", "view"):
        out.invoices = await _invoices(session, principal, client_id, limit)
    if principal.can("payments", "view"):
        out.payments = await _payments(session, principal, client_id, limit)
    if principal.can("tickets", "view"):
        out.tickets = await _tickets(session, principal, client_id, limit)
    if principal.can("orders", "view"):
        out.orders = await _orders(session, principal, client_id, limit)
    return out
