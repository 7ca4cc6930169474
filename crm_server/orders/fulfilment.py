"""What an order's status does to stock, the way invoices do it (invoices.reservations): a
processing order holds its stock-tracked lines in the invoices' warehouse, a completed one is
delivered by a validated delivery document that consumes the hold, a cancelled, refunded or failed
one gives the hold back. Each step looks at what the order holds and did already, so the same status
arriving twice changes nothing. A refusal for want of stock does not refuse the order (the store has
taken it already): the order keeps state "short" and the reason, for a person to see."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.contract.orders import OrderStatus, StockState
from crm_server.contract.stock import (
    DocumentKind,
    DocumentLineIn,
    ReleaseIn,
    ReservationLineIn,
    ReserveIn,
    StockDocumentIn,
)
from crm_server.db import savepoint
from crm_server.errors import ValidationFailed
from crm_server.invoices.reservations import invoice_warehouse
from crm_server.orders.models import SalesOrder, SalesOrderLine
from crm_server.products.models import Product
from crm_server.stock import service as stock
from crm_server.stock.models import StockReservation

SOURCE = "sales_order"
RELEASING = frozenset({OrderStatus.cancelled, OrderStatus.refunded, OrderStatus.failed})


async def _wanted(session: AsyncSession, order: SalesOrder) -> dict[int, Decimal]:
    rows = await session.execute(
        select(SalesOrderLine.product_id, SalesOrderLine.quantity)
        .join(Product, Product.id == SalesOrderLine.product_id)
        .where(SalesOrderLine.order_id == order.id, Product.stock_tracked, SalesOrderLine.quantity > 0)
    )
    wanted: dict[int, Decimal] = defaultdict(Decimal)
    for product_id, quantity in rows:
        wanted[product_id] += quantity
    return dict(wanted)


async def _held(session: AsyncSession, order: SalesOrder) -> list[StockReservation]:
    return list(
        (
            await session.scalars(
                select(StockReservation)
                .where(StockReservation.source_type == SOURCE, StockReservation.source_id == order.id)
                .order_by(StockReservation.product_id)
            )
        ).all()
    )


def _set(order: SalesOrder, state: StockState, note: str | None = None) -> None:
    order.stock_state, order.stock_note = state.value, note


async def _release(session: AsyncSession, order: SalesOrder) -> bool:
    if not await _held(session, order):
        return False
    await stock.release(session, None, ReleaseIn(source_type=SOURCE, source_id=order.id))
    return True


async def _hold(session: AsyncSession, order: SalesOrder) -> str | None:
    wanted = await _wanted(session, order)
    held = await _held(session, order)
    if order.stock_state == StockState.reserved and {r.product_id: r.quantity for r in held} == wanted:
        return None
    await _release(session, order)
    if not wanted:
        _set(order, StockState.none)
        return None
    warehouse_id = await invoice_warehouse(session)
    if warehouse_id is None:
        _set(order, StockState.none, "No active warehouse: stock is not kept, nothing was reserved.")
        return None
    try:
        async with savepoint(session):
            await stock.reserve(
                session,
                None,
                ReserveIn(
                    source_type=SOURCE,
                    source_id=order.id,
                    warehouse_id=warehouse_id,
                    lines=[ReservationLineIn(product_id=p, quantity=q) for p, q in sorted(wanted.items())],
                ),
            )
    except ValidationFailed as exc:
        _set(order, StockState.short, f"Stock could not be reserved: {exc.message}")
        return "stock short"
    _set(order, StockState.reserved)
    return "stock reserved"


async def _deliver(session: AsyncSession, order: SalesOrder) -> str | None:
    """One validated delivery per order, from the warehouse that holds it (else the invoices' one)."""
    wanted = await _wanted(session, order)
    held = await _held(session, order)
    if not wanted:
        await _release(session, order)
        _set(order, StockState.none)
        return None
    warehouse_id = held[0].warehouse_id if held else await invoice_warehouse(session)
    if warehouse_id is None:
        _set(order, StockState.none, "No active warehouse: stock is not kept, nothing was delivered.")
        return None
    try:
        async with savepoint(session):
            document = await stock.create_document(
                session,
                None,
                StockDocumentIn(
                    kind=DocumentKind.delivery,
                    warehouse_id=warehouse_id,
                    source_type=SOURCE,
                    source_id=order.id,
                    reference=order.number,
                    notes=f"Web shop order {order.number}.",
                    lines=[DocumentLineIn(product_id=p, quantity=q) for p, q in sorted(wanted.items())],
                ),
            )
            await stock.validate_document(session, None, document.id, None)
    except ValidationFailed as exc:
        _set(order, StockState.short, f"Stock could not be delivered: {exc.message}")
        return "stock short"
    await _release(session, order)  # a hold beyond what was delivered (lines shrank) goes back
    order.delivery_id = document.id
    _set(order, StockState.delivered)
    return f"delivered by {document.number}"


async def settle(session: AsyncSession, order: SalesOrder) -> str | None:
    """Bring the order's stock in line with its status; says what it did, or None for nothing.
    Pending, on hold and draft leave things as they are (an order put on hold keeps its hold)."""
    status = OrderStatus(order.status)
    if order.stock_state == StockState.delivered:
        if status in RELEASING and not order.stock_note:
            order.stock_note = (
                f"Delivered before it was {status.value}: take returned goods back with a receipt in Stock."
            )
        return None
    if status == OrderStatus.processing:
        return await _hold(session, order)
    if status == OrderStatus.completed:
        return await _deliver(session, order)
    if status in RELEASING:
        if await _release(session, order):
            _set(order, StockState.released)
            return "stock released"
        if order.stock_state == StockState.short:
            _set(order, StockState.none)
    return None
