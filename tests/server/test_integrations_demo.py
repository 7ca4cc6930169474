"""The integrations demo data (crm_server/{webforms,orders,integrations}/demo.py, seeded by
crm_server.demo): website forms, web shop orders in every status whose stock matches their status, and
an inbox history in which every processed event's work exists and every problem says why."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import func, select

from crm_server.demo import DEMO_ADMIN_EMAIL, DEMO_PASSWORD, seed
from crm_server.integrations.models import InboxEvent
from crm_server.invoices.models import Payment
from crm_server.leads.models import Lead
from crm_server.orders.models import SalesOrder, SalesOrderLine
from crm_server.products.models import Product
from crm_server.stock.models import StockDocument, StockDocumentLine, StockReservation
from crm_server.webforms.models import WebForm
from tests.support import LiveServer


async def test_demo_has_forms_orders_and_an_inbox_history(server: LiveServer) -> None:
    async with server.session() as s:
        assert await seed(s) is True
    async with server.session() as s:
        forms = set((await s.scalars(select(WebForm.name))).all())
        assert forms == {"Contact us", "Request a quote"}

        orders = (await s.scalars(select(SalesOrder).order_by(SalesOrder.id))).all()
        assert len(orders) == 12
        assert {o.status for o in orders} == {
            "pending",
            "processing",
            "on_hold",
            "completed",
            "cancelled",
            "refunded",
            "failed",
        }
        assert [o.number for o in orders if o.skipped_lines] == ["WC-1049"]
        assert await s.scalar(select(Product.id).where(Product.sku == "WOO-TOTE-BAG")) is not None
        for order in orders:
            tracked: dict[int, Decimal] = defaultdict(Decimal)
            for product_id, quantity in (
                await s.execute(
                    select(SalesOrderLine.product_id, SalesOrderLine.quantity)
                    .join(Product, Product.id == SalesOrderLine.product_id)
                    .where(SalesOrderLine.order_id == order.id, Product.stock_tracked)
                )
            ).all():
                tracked[product_id] += quantity
            held = dict(
                (
                    await s.execute(
                        select(StockReservation.product_id, StockReservation.quantity).where(
                            StockReservation.source_type == "sales_order", StockReservation.source_id == order.id
                        )
                    )
                ).all()
            )
            if order.status == "processing":
                assert order.stock_state == "reserved" and held == tracked, order.number
            elif order.status in ("completed", "refunded"):
                assert order.stock_state == "delivered" and not held and order.delivery_id, order.number
                delivered = dict(
                    (
                        await s.execute(
                            select(StockDocumentLine.product_id, StockDocumentLine.quantity).where(
                                StockDocumentLine.document_id == order.delivery_id
                            )
                        )
                    ).all()
                )
                document = await s.get_one(StockDocument, order.delivery_id)
                assert delivered == tracked and document.status == "validated", order.number
            else:
                assert not held and order.stock_state in ("none", "released"), order.number
            if order.status == "cancelled" and order.stock_state == "released":
                assert order.delivery_id is None

        per_status = dict((await s.execute(select(InboxEvent.status, func.count()).group_by(InboxEvent.status))).all())
        assert per_status["processed"] >= 20 and per_status["ignored"] >= 2
        assert per_status["failed"] == 1 and per_status["needs_attention"] == 1 and per_status["rejected"] == 1
        assert set((await s.scalars(select(InboxEvent.provider))).all()) == {
            "facebook",
            "forms",
            "woocommerce",
            "stripe",
        }
        problem = await s.scalar(select(InboxEvent).where(InboxEvent.status == "needs_attention"))
        assert problem is not None and problem.provider == "stripe" and "No invoice" in (problem.error or "")
        failed = await s.scalar(select(InboxEvent).where(InboxEvent.status == "failed"))
        assert failed is not None and failed.provider == "facebook" and failed.error and failed.next_attempt_at is None
        rejected = await s.scalar(select(InboxEvent).where(InboxEvent.status == "rejected"))
        assert rejected is not None and (rejected.error or "").startswith("Bad signature")
        assert rejected.headers["stripe-signature"] == "(hidden)"
        assert await s.scalar(select(func.count()).where(InboxEvent.status == "pending")) == 0
        unexplained = await s.scalar(
            select(func.count()).where(InboxEvent.status == "processed", InboxEvent.outcome.is_(None))
        )
        assert unexplained == 0

        leadgen = (
            await s.scalars(
                select(InboxEvent).where(InboxEvent.event_type == "leadgen", InboxEvent.status == "processed")
            )
        ).all()
        assert len(leadgen) == 5
        for event in leadgen:
            lead = await s.scalar(select(Lead).where(Lead.source_details["leadgen_id"].astext == event.event_id))
            assert lead is not None and lead.source == "Facebook" and f"#{lead.id}" in (event.outcome or "")
        form_leads = await s.scalar(
            select(func.count()).where(Lead.source == "Website form", Lead.source_details.has_key("form_id"))
        )
        assert form_leads == 4
        for event in (
            await s.scalars(select(InboxEvent).where(InboxEvent.provider == "stripe", InboxEvent.status == "processed"))
        ).all():
            intent = event.payload["data"]["object"].get("payment_intent") or event.payload["data"]["object"]["id"]
            assert await s.scalar(select(Payment.id).where(Payment.external_ref == intent)) is not None
    async with server.client() as http:
        await server.login(http, DEMO_ADMIN_EMAIL, DEMO_PASSWORD)
        states = {p["provider"]: p for p in (await http.get("/api/integrations")).json()}
        assert states["stripe"]["state"] == "needs_attention" and states["forms"]["state"] == "connected"
        assert states["facebook"]["state"] == "needs_attention"
        listed = (await http.get("/api/orders", params={"limit": 50})).json()
        assert listed["total"] == 12
