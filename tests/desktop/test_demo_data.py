"""The --demo sample data: every built-in role has people, filling twice changes nothing, invoices
and proposals are there in every status, stock lies in three warehouses with purchase orders in every
status, and the demo admin signs in with the documented password."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from crm_server.auth.models import Role, User
from crm_server.demo import DEMO_ADMIN_EMAIL, DEMO_PASSWORD, seed
from crm_server.invoices.demo import INVOICE_STATUSES
from crm_server.invoices.models import Invoice, InvoiceEmail, Payment
from crm_server.leads.models import Lead
from crm_server.proposals.models import Proposal
from crm_server.purchasing.models import PurchaseOrder
from crm_server.stock.models import StockDocument, Warehouse
from crm_server.tickets.models import Ticket
from tests.support import LiveServer


def test_demo_data_is_filled_once_and_the_admin_signs_in(server: LiveServer) -> None:
    async def scenario() -> None:
        async with server.session() as s:
            assert await seed(s) is True
        async with server.session() as s:
            assert await seed(s) is False
            per_role = dict(
                (
                    await s.execute(
                        select(Role.name, func.count(User.id)).join(User, User.role_id == Role.id).group_by(Role.name)
                    )
                ).all()
            )
            users = await s.scalar(select(func.count()).select_from(User))
            leads = await s.scalar(select(func.count()).select_from(Lead))
            tickets = await s.scalar(select(func.count()).select_from(Ticket))
            invoices = dict(
                (
                    await s.execute(
                        select(Invoice.status, func.count()).where(Invoice.kind == "invoice").group_by(Invoice.status)
                    )
                ).all()
            )
            credit_notes = (await s.scalars(select(Invoice).where(Invoice.kind == "credit_note"))).all()
            recurring = await s.scalar(select(func.count()).where(Invoice.recur_every.is_not(None)))
            drifting = await s.scalar(
                select(func.count())
                .select_from(Invoice)
                .where(
                    Invoice.paid_total
                    != select(func.coalesce(func.sum(Payment.amount), 0))
                    .where(Payment.invoice_id == Invoice.id)
                    .scalar_subquery(),
                    Invoice.kind == "invoice",
                )
            )
            proposals = dict((await s.execute(select(Proposal.status, func.count()).group_by(Proposal.status))).all())
            on_lead = await s.scalar(select(func.count()).where(Proposal.lead_id.is_not(None)))
            converted = await s.scalar(select(func.count()).where(Proposal.converted_invoice_id.is_not(None)))
            expired = await s.scalar(
                select(func.count()).where(
                    Proposal.valid_until < func.current_date(),
                    Proposal.status.in_(("draft", "sent", "open", "revised")),
                )
            )
            numbered = await s.scalar(select(func.count()).where(Invoice.number.is_not(None)))
            emails = dict(
                (await s.execute(select(InvoiceEmail.status, func.count()).group_by(InvoiceEmail.status))).all()
            )
            warehouses = set((await s.scalars(select(Warehouse.name))).all())
            orders = dict(
                (await s.execute(select(PurchaseOrder.status, func.count()).group_by(PurchaseOrder.status))).all()
            )
            documents = dict(
                (
                    await s.execute(
                        select(StockDocument.kind, func.count())
                        .where(StockDocument.status.in_(("validated", "reversed")))
                        .group_by(StockDocument.kind)
                    )
                ).all()
            )
        assert set(per_role) == {"Admin", "Manager", "Salesperson", "Support agent", "Accountant", "Warehouse"}
        assert users == 15 and leads and leads > 1000  # 10 people, and 5 support agents and managers
        assert tickets and tickets > 100
        assert invoices == INVOICE_STATUSES and sum(invoices.values()) == 40
        assert len(credit_notes) == 1 and credit_notes[0].credited_invoice_id is not None
        assert recurring == 1 and drifting == 0  # paid totals are exactly the payments made
        assert numbered == 40 - INVOICE_STATUSES["draft"] + 1  # every issued invoice and the credit note
        assert proposals == {"draft": 3, "sent": 3, "open": 2, "revised": 2, "accepted": 3, "declined": 2}
        assert on_lead == 1 and converted == 1 and expired == 1
        assert emails == {"sent": 11, "failed": 1}
        assert warehouses == {"Central warehouse", "Shop Malmö", "Returns"}
        assert orders == {"draft": 1, "confirmed": 1, "partially_received": 1, "received": 1, "cancelled": 1}
        assert set(documents) == {"receipt", "delivery", "transfer", "adjustment"}
        async with server.client() as http:
            body = await server.login(http, DEMO_ADMIN_EMAIL, DEMO_PASSWORD)
            assert body["user"]["role_name"] == "Admin"
            unread = (await http.get("/api/notifications/unread-count")).json()["unread"]
            assert unread == 3

    asyncio.run(scenario())
