"""The rules of sales orders. Orders are made and changed only by their store (a webhook or the
reconciliation, through `apply_store_order`); people read them. Every change is audited and
announced in the caller's transaction; nothing here commits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, delete, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events, paging
from crm_server.admin import audit
from crm_server.auth.permissions import Principal
from crm_server.clients.models import Client
from crm_server.contract.common import Page
from crm_server.contract.orders import (
    STATUS_LABELS,
    HeldOut,
    OrderLineOut,
    OrderOut,
    OrderQuery,
    OrderStatus,
    StockState,
)
from crm_server.errors import NotFound
from crm_server.orders import fulfilment, matching
from crm_server.orders.matching import StoreCustomer, StoreLine
from crm_server.orders.models import SalesOrder, SalesOrderLine
from crm_server.paging import like_pattern
from crm_server.products.models import Product
from crm_server.stock.models import StockReservation, Warehouse

MODULE = "orders"
ENTITY = "sales_order"
PREFIX = {"woocommerce": "WC"}
ORDER_FIELDS = (
    "status",
    "client_id",
    "currency",
    "total",
    "total_tax",
    "shipping_total",
    "discount_total",
    "external_number",
    "external_modified_at",
    "stock_state",
    "stock_note",
)
SORTS: dict[str, Any] = {
    "created_at": SalesOrder.created_at,
    "number": SalesOrder.number,
    "total": SalesOrder.total,
    "external_modified_at": SalesOrder.external_modified_at,
}


@dataclass(frozen=True)
class StoreOrder:
    """An order as its store last saw it, in the store's own words made neutral."""

    source: str
    external_id: str
    external_number: str
    status: OrderStatus
    currency: str
    modified_at: datetime
    total: Decimal
    total_tax: Decimal = Decimal(0)
    shipping_total: Decimal = Decimal(0)
    discount_total: Decimal = Decimal(0)
    customer: StoreCustomer = field(default_factory=StoreCustomer)
    lines: list[StoreLine] = field(default_factory=list)


def _fields(order: SalesOrder) -> dict[str, Any]:
    return {n: getattr(order, n) for n in ORDER_FIELDS}


# --- reading -------------------------------------------------------------------------------------


def _with_client() -> Select[Any]:
    count = (
        select(func.count(SalesOrderLine.id))
        .where(SalesOrderLine.order_id == SalesOrder.id)
        .correlate(SalesOrder)
        .scalar_subquery()
    )
    return select(SalesOrder, Client.name, Client.email, count).join(Client, Client.id == SalesOrder.client_id)


def _out(row: Any) -> OrderOut:
    order, client_name, client_email, line_count = row
    return OrderOut.model_validate(order).model_copy(
        update={"client_name": client_name, "client_email": client_email, "line_count": line_count or 0}
    )


async def list_orders(session: AsyncSession, principal: Principal, query: OrderQuery) -> Page[OrderOut]:
    stmt = _with_client().where(principal.scope_filter(MODULE, SalesOrder.owner_id, SalesOrder.team_id))
    if query.status is not None:
        stmt = stmt.where(SalesOrder.status == query.status.value)
    if query.stock_state is not None:
        stmt = stmt.where(SalesOrder.stock_state == query.stock_state.value)
    if query.client_id is not None:
        stmt = stmt.where(SalesOrder.client_id == query.client_id)
    if query.q and query.q.strip():
        pattern = like_pattern(query.q)
        stmt = stmt.where(
            or_(
                func.lower(SalesOrder.number).like(pattern, escape="\\"),
                func.lower(SalesOrder.external_number).like(pattern, escape="\\"),
                Client.search_text.like(pattern, escape="\\"),
            )
        )
    order = paging.sort_order(SORTS[query.sort.lstrip("-")], SalesOrder.id, query.sort.startswith("-"))
    return await paging.page(session, stmt, query.offset, query.limit, _out, order, whole_rows=True, after=query.after)


async def visible_order(session: AsyncSession, principal: Principal, order_id: int) -> SalesOrder:
    """The order, if this user may see it; otherwise 404 (whether it exists is not told)."""
    order = await session.get(SalesOrder, order_id)
    if order is None or not principal.sees(MODULE, order.owner_id, order.team_id):
        raise NotFound("No such sales order.")
    return order


async def order_out(session: AsyncSession, order: SalesOrder) -> OrderOut:
    """One order with its lines, skipped lines and the stock it holds now."""
    await session.flush()
    row = (await session.execute(_with_client().where(SalesOrder.id == order.id))).one()
    lines = (
        await session.scalars(
            select(SalesOrderLine).where(SalesOrderLine.order_id == order.id).order_by(SalesOrderLine.position)
        )
    ).all()
    held = (
        await session.execute(
            select(StockReservation, Product.sku, Product.name, Warehouse.name)
            .join(Product, Product.id == StockReservation.product_id)
            .join(Warehouse, Warehouse.id == StockReservation.warehouse_id)
            .where(StockReservation.source_type == fulfilment.SOURCE, StockReservation.source_id == order.id)
            .order_by(StockReservation.product_id)
        )
    ).all()
    return _out(row).model_copy(
        update={
            "lines": [OrderLineOut.model_validate(line) for line in lines],
            "held": [
                HeldOut(
                    product_id=r.product_id,
                    sku=sku,
                    product_name=name,
                    warehouse_id=r.warehouse_id,
                    warehouse_name=where,
                    quantity=r.quantity,
                )
                for r, sku, name, where in held
            ],
        }
    )


# --- from the store ------------------------------------------------------------------------------


def _announce(session: AsyncSession, order: SalesOrder, action: str) -> None:
    events.emit(
        session,
        module=MODULE,
        entity=ENTITY,
        entity_id=order.id,
        action=action,
        owner_id=order.owner_id,
        team_id=order.team_id,
        data={
            "number": order.number,
            "status": order.status,
            "stock_state": order.stock_state,
            "version": order.version,
        },
    )


async def _locked(session: AsyncSession, source: str, external_id: str) -> SalesOrder | None:
    """The order of this store id, with every other writer of the same order kept waiting (two
    events for one new order would otherwise both insert it)."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"{ENTITY}:{source}:{external_id}"}
    )
    return (
        await session.scalars(
            select(SalesOrder)
            .where(SalesOrder.source == source, SalesOrder.external_id == external_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one_or_none()


async def _replace_lines(session: AsyncSession, order: SalesOrder, lines: list[tuple[Product, StoreLine]]) -> None:
    await session.execute(delete(SalesOrderLine).where(SalesOrderLine.order_id == order.id))
    for i, (product, line) in enumerate(lines, start=1):
        session.add(
            SalesOrderLine(
                order_id=order.id,
                position=i,
                product_id=product.id,
                sku=product.sku,
                name=(line.name.strip() or product.name)[:300],
                quantity=line.quantity,
                unit_price=line.unit_price,
                line_total=line.line_total,
            )
        )
    await session.flush()


async def apply_store_order(session: AsyncSession, data: StoreOrder) -> str:
    """Make or update the order from its store's state; an older or the same state changes nothing.
    Answers what it did in words (the inbox's event browser shows it)."""
    order = await _locked(session, data.source, data.external_id)
    if order is not None and data.modified_at <= order.external_modified_at:
        return f"{order.number} unchanged: the CRM has this state of the order or a newer one."
    client, new_client = await matching.client_for(session, data.customer)
    matched = await matching.lines_for(session, data.lines, data.currency)
    before = _fields(order) if order is not None else {}
    values = dict(
        status=data.status.value,
        client_id=client.id,
        currency=data.currency,
        total=data.total,
        total_tax=data.total_tax,
        shipping_total=data.shipping_total,
        discount_total=data.discount_total,
        external_number=data.external_number,
        external_modified_at=data.modified_at,
        skipped_lines=matched.skipped,
        owner_id=client.owner_id,
        team_id=client.team_id,
    )
    created = order is None
    if order is None:
        number = f"{PREFIX.get(data.source, data.source.upper())}-{data.external_number}"
        order = SalesOrder(number=number, source=data.source, external_id=data.external_id, **values)
        session.add(order)
    else:
        for key, value in values.items():
            setattr(order, key, value)
    await session.flush()
    await _replace_lines(session, order, matched.lines)
    stock_done = await fulfilment.settle(session, order)
    await session.flush()
    changes = audit.diff(before, _fields(order))
    if matched.skipped:
        changes.append({"field": "skipped_lines", "old": None, "new": len(matched.skipped)})
    audit.record(
        session,
        actor_id=None,
        entity=ENTITY,
        entity_id=order.id,
        action="created" if created else "updated",
        changes=changes,
    )
    _announce(session, order, "created" if created else "updated")
    said = [f"{len(matched.lines)} line{'s' if len(matched.lines) != 1 else ''}"]
    if matched.skipped:
        said.append(f"{len(matched.skipped)} skipped")
    if matched.created:
        said.append(f"new product{'s' if len(matched.created) != 1 else ''} {', '.join(matched.created)}")
    if new_client:
        said.append(f"new client {client.name}")
    if stock_done:
        said.append(stock_done)
    verb = "Created" if created else "Updated"
    return f"{verb} {order.number} ({STATUS_LABELS[order.status]}; {'; '.join(said)})"


async def retry_short(session: AsyncSession, limit: int = 200) -> list[str]:
    """Orders that could not hold or deliver their stock try again (stock may have arrived since);
    returns the numbers of those that now could. The store's next change would do it too, but a
    store may not change a paid order for days."""
    waiting = (
        await session.scalars(
            select(SalesOrder)
            .where(
                SalesOrder.stock_state == StockState.short.value,
                SalesOrder.status.in_((OrderStatus.processing.value, OrderStatus.completed.value)),
            )
            .order_by(SalesOrder.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    settled = []
    for order in waiting:
        before = _fields(order)
        await fulfilment.settle(session, order)
        if order.stock_state == StockState.short.value:
            continue
        await session.flush()
        audit.record(
            session,
            actor_id=None,
            entity=ENTITY,
            entity_id=order.id,
            action="updated",
            changes=audit.diff(before, _fields(order)),
        )
        _announce(session, order, "updated")
        settled.append(order.number)
    return settled
