"""Demo stock and purchasing, made through the services so the ledger, balances, history and audit
are the real thing: three warehouses, two vendors, opening receipts of the stock-tracked demo
products, a few weeks of deliveries, a transfer, an inventory count, reservations, low-stock
thresholds (some products under them), a reversed delivery, and purchase orders in every status.
Runs after the products demo (crm_server/products/demo.py)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.auth.permissions import Principal
from crm_server.clients.models import Client
from crm_server.contract.purchasing import PurchaseLineIn, PurchaseOrderIn, ReceiveIn, ReceiveLineIn
from crm_server.contract.stock import (
    DocumentKind,
    DocumentLineIn,
    ProductStockSettingsIn,
    ReservationLineIn,
    ReserveIn,
    StockDocumentIn,
    WarehouseIn,
)
from crm_server.products.models import Product
from crm_server.purchasing import service as purchasing
from crm_server.purchasing.models import PurchaseOrder
from crm_server.stock import queries, service

WAREHOUSES = (
    ("Central warehouse", "Industrivägen 12, Stockholm"),
    ("Shop Malmö", "Södergatan 3, Malmö"),
    ("Returns", "Industrivägen 12, Stockholm (hall B)"),
)
VENDORS = (
    ("Nordic Hardware Supply AB", "orders@nordic-hw.example"),
    ("Paper & Labels Ltd", "sales@paperlabels.example"),
)


async def seed_stock(session: AsyncSession, admin_id: int, rng: random.Random) -> None:
    actor = Principal(
        user_id=admin_id,
        team_id=None,
        role_id=0,
        permissions={
            "stock": {"actions": ["view", "create", "edit"], "scope": "all"},
            "purchasing": {"actions": ["view", "create", "edit"], "scope": "all"},
        },
    )
    products = list(
        (await session.scalars(select(Product).where(Product.stock_tracked, Product.active).order_by(Product.id))).all()
    )
    if not products:
        return
    central, shop, returns = [
        (await service.create_warehouse(session, actor, WarehouseIn(name=n, address=a))).id for n, a in WAREHOUSES
    ]
    vendors = []
    for name, email in VENDORS:
        vendor = Client(name=name, email=email, is_vendor=True, created_by=admin_id)
        session.add(vendor)
        vendors.append(vendor)
    await session.flush()

    async def validated(
        kind: DocumentKind,
        lines: list[tuple[Product, int]],
        *,
        warehouse_id: int,
        to_warehouse_id: int | None = None,
        reference: str | None = None,
        reason: str | None = None,
    ) -> int:
        document = await service.create_document(
            session,
            actor,
            StockDocumentIn(
                kind=kind,
                lines=[DocumentLineIn(product_id=p.id, quantity=Decimal(q)) for p, q in lines],
                warehouse_id=warehouse_id,
                to_warehouse_id=to_warehouse_id,
                reference=reference,
                reason=reason,
            ),
        )
        await service.validate_document(session, actor, document.id, None)
        return document.id

    opening = [(p, rng.randint(60, 160)) for p in products]
    await validated(DocumentKind.receipt, opening, warehouse_id=central, reference="Opening stock")
    await validated(
        DocumentKind.receipt,
        [(p, rng.randint(5, 25)) for p in products[::2]],
        warehouse_id=shop,
        reference="Opening stock",
    )
    for _ in range(12):
        picked = rng.sample(products, k=min(3, len(products)))
        await validated(
            DocumentKind.delivery,
            [(p, rng.randint(1, 8)) for p in picked],
            warehouse_id=central,
            reference=f"Order {rng.randint(1000, 9999)}",
        )
    await validated(
        DocumentKind.transfer,
        [(p, 5) for p in products[:4]],
        warehouse_id=central,
        to_warehouse_id=shop,
        reference="Weekly shop refill",
    )
    await validated(
        DocumentKind.transfer,
        [(products[-1], 2)],
        warehouse_id=central,
        to_warehouse_id=returns,
        reference="Damaged in transit",
    )
    await validated(DocumentKind.adjustment, [(products[1], 3)], warehouse_id=shop, reason="Monthly count")
    wrong = await validated(
        DocumentKind.delivery, [(products[2], 4)], warehouse_id=central, reference="Sent to the wrong customer"
    )
    original = await service.get_document(session, wrong)
    await service.reverse_document(session, actor, wrong, original.version)
    await service.reserve(
        session,
        actor,
        ReserveIn(
            source_type="invoice",
            source_id=1,
            warehouse_id=central,
            lines=[ReservationLineIn(product_id=products[0].id, quantity=Decimal(6))],
        ),
    )
    for product in products[:8]:
        await queries.set_product_settings(
            session, actor, product.id, ProductStockSettingsIn(low_threshold=Decimal(rng.choice((10, 25, 150))))
        )

    today = date.today()

    async def order(
        vendor: Client, days: int, lines: list[tuple[Product, int]], *, confirm: bool = True
    ) -> PurchaseOrder:
        made = await purchasing.create_order(
            session,
            actor,
            PurchaseOrderIn(
                vendor_id=vendor.id,
                warehouse_id=central,
                expected_on=today + timedelta(days=days),
                lines=[
                    PurchaseLineIn(
                        product_id=p.id,
                        quantity=Decimal(q),
                        unit_cost=(p.unit_price * Decimal("0.6")).quantize(Decimal("0.01")),
                    )
                    for p, q in lines
                ],
            ),
        )
        return await purchasing.confirm_order(session, actor, made.id, made.version) if confirm else made

    async def receive_all(po: PurchaseOrder, reference: str, first_only: bool = False) -> None:
        lines = (await purchasing.order_out(session, po)).lines[: 1 if first_only else None]
        await purchasing.receive(
            session,
            actor,
            po.id,
            ReceiveIn(
                version=po.version,
                reference=reference,
                lines=[ReceiveLineIn(line_id=line.id, quantity=line.quantity) for line in lines],
            ),
        )

    await order(vendors[0], 14, [(p, 50) for p in products[4:7]], confirm=False)  # a draft
    await order(vendors[0], 7, [(p, 40) for p in products[:3]])  # confirmed: incoming
    await receive_all(await order(vendors[1], 3, [(p, 30) for p in products[7:10]]), "DN 4471", first_only=True)
    await receive_all(await order(vendors[1], -10, [(products[0], 20)]), "DN 4388")
    cancelled = await order(vendors[0], 20, [(products[-1], 10)])
    await purchasing.cancel_order(session, actor, cancelled.id, cancelled.version)
