"""Issued invoices hold the stock they sell: issuing reserves the stock-tracked lines in the
invoices' warehouse (the `stock.invoice_warehouse_id` setting; 0: the first active warehouse, none
at all: stock is not kept, nothing to hold), a delivery note for the invoice consumes the hold, and
cancelling the invoice gives back what is still held. Beyond what is available is refused, naming
the product and what is available, like any reservation (unless negative stock is allowed)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin import settings
from crm_server.auth.permissions import Principal
from crm_server.contract.stock import ReleaseIn, ReservationLineIn, ReserveIn
from crm_server.invoices.models import Invoice, InvoiceLine
from crm_server.products.models import Product
from crm_server.stock import service as stock
from crm_server.stock.models import Warehouse

SOURCE = "invoice"


async def invoice_warehouse(session: AsyncSession) -> int | None:
    chosen = int(await settings.get(session, "stock.invoice_warehouse_id"))
    if chosen:
        return chosen
    return await session.scalar(select(Warehouse.id).where(Warehouse.active).order_by(Warehouse.id).limit(1))


async def reserve_for(session: AsyncSession, actor: Principal | None, invoice: Invoice) -> None:
    rows = await session.execute(
        select(InvoiceLine.product_id, InvoiceLine.quantity)
        .join(Product, Product.id == InvoiceLine.product_id)
        .where(InvoiceLine.invoice_id == invoice.id, Product.stock_tracked)
        .order_by(InvoiceLine.position)
    )
    wanted: dict[int, Decimal] = defaultdict(Decimal)
    for product_id, quantity in rows:
        if product_id is not None:  # the join keeps product lines only
            wanted[product_id] += quantity
    if not wanted:
        return
    warehouse_id = await invoice_warehouse(session)
    if warehouse_id is None:
        return
    await stock.reserve(
        session,
        actor,
        ReserveIn(
            source_type=SOURCE,
            source_id=invoice.id,
            warehouse_id=warehouse_id,
            lines=[ReservationLineIn(product_id=p, quantity=q) for p, q in wanted.items()],
        ),
    )


async def release_for(session: AsyncSession, actor: Principal | None, invoice: Invoice) -> None:
    await stock.release(session, actor, ReleaseIn(source_type=SOURCE, source_id=invoice.id))
