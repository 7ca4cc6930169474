"""Reading stock: the overview per product and warehouse, the low-stock list, a product's stock and
its history (every move with the running quantity, a window function over the ledger)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, String, and_, cast, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import Label

from crm_server import events, keyset, paging
from crm_server.admin import audit
from crm_server.auth.models import User
from crm_server.auth.permissions import Principal
from crm_server.contract.common import Page
from crm_server.contract.purchasing import OPEN_PURCHASE_STATUSES
from crm_server.contract.stock import (
    HistoryQuery,
    LevelOut,
    LevelQuery,
    LowStockOut,
    MoveOut,
    ProductStockOut,
    ProductStockSettingsIn,
    WarehouseLevel,
)
from crm_server.db import utcnow
from crm_server.errors import NotFound, ValidationFailed
from crm_server.paging import like_pattern
from crm_server.products.models import Product
from crm_server.purchasing.models import PurchaseOrder, PurchaseOrderLine
from crm_server.stock import ledger
from crm_server.stock.models import QTY, StockDocument, StockLevel, StockMove, StockProductSettings, Warehouse

OPEN = tuple(s.value for s in OPEN_PURCHASE_STATUSES)
ZERO = Decimal("0.000")  # quantities answer with three decimals, zero included
AVAILABLE = (StockLevel.on_hand - StockLevel.reserved).label("available")
LEVEL_SORTS: dict[str, tuple[Any, ...]] = {
    "sku": (func.lower(Product.sku, type_=String), StockLevel.warehouse_id),  # typed: a cursor carries text
    "name": (Product.name, Product.id, StockLevel.warehouse_id),
    "warehouse": (Warehouse.name, Product.name, Product.id),
    "on_hand": (StockLevel.on_hand, StockLevel.product_id, StockLevel.warehouse_id),
    "reserved": (StockLevel.reserved, StockLevel.product_id, StockLevel.warehouse_id),
    "available": (AVAILABLE, StockLevel.product_id, StockLevel.warehouse_id),
}


def _open_remaining() -> Any:
    return cast(func.coalesce(func.sum(PurchaseOrderLine.quantity - PurchaseOrderLine.received), 0), QTY)


def _incoming_here() -> Any:
    """Ordered, not yet received, on open orders delivering to this row's warehouse."""
    return (
        select(_open_remaining())
        .select_from(PurchaseOrderLine)
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.order_id)
        .where(
            PurchaseOrderLine.product_id == StockLevel.product_id,
            PurchaseOrder.warehouse_id == StockLevel.warehouse_id,
            PurchaseOrder.status.in_(OPEN),
        )
        .correlate(StockLevel)
        .scalar_subquery()
    )


def _level_conditions(query: LevelQuery) -> tuple[list[ColumnElement[bool]], bool, bool]:
    """The WHERE clause, and whether it needs the products / the settings joined."""
    where: list[ColumnElement[bool]] = []
    needs_product = needs_settings = False
    if query.warehouse_id is not None:
        where.append(StockLevel.warehouse_id == query.warehouse_id)
    if query.product_id is not None:
        where.append(StockLevel.product_id == query.product_id)
    if query.q and query.q.strip():
        where.append(Product.search_text.like(like_pattern(query.q), escape="\\"))
        needs_product = True
    if query.low_only:
        where.append(StockProductSettings.low_since.is_not(None))
        needs_settings = True
    if query.nonzero_only:
        where.append(
            or_(
                StockLevel.on_hand != 0,
                StockLevel.reserved != 0,
                exists(
                    select(PurchaseOrderLine.id)
                    .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.order_id)
                    .where(
                        PurchaseOrderLine.product_id == StockLevel.product_id,
                        PurchaseOrder.warehouse_id == StockLevel.warehouse_id,
                        PurchaseOrder.status.in_(OPEN),
                    )
                ),
            )
        )
    return where, needs_product, needs_settings


async def levels(session: AsyncSession, query: LevelQuery) -> Page[LevelOut]:
    """One row per product and warehouse that has ever held, reserved or expected it. The total is
    counted with only the joins the filters need (the page itself joins names in).

    Each full page carries `next`: given back as `after`, the following page starts after the last
    row's sort values (every sort column is filled and each sort ends in a unique key, so a row
    comparison finds them; see keyset.py), not counted."""
    where, needs_product, needs_settings = _level_conditions(query)
    columns = LEVEL_SORTS[query.sort.lstrip("-")]
    descending = query.sort.startswith("-")
    order = [c.desc() for c in columns] if descending else list(columns)
    terms = [keyset.Term(c.element if isinstance(c, Label) else c, descending, nulls_last=False) for c in columns]
    # The page's keys first, from narrow rows; then only its rows in full. An OFFSET computes every
    # row it skips, so a deep page must not work out "incoming" for the 250,000 rows before it.
    keys_stmt = (
        select(
            StockLevel.product_id, StockLevel.warehouse_id, *(c.label(f"sort_key_{i}") for i, c in enumerate(columns))
        )
        .select_from(StockLevel)
        .join(Product, Product.id == StockLevel.product_id)
        .join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
        .outerjoin(StockProductSettings, StockProductSettings.product_id == StockLevel.product_id)
        .where(*where)
        .order_by(*order)
    )
    if query.after is None:
        count: Select[Any] = select(func.count()).select_from(StockLevel)
        if needs_product:
            count = count.join(Product, Product.id == StockLevel.product_id)
        if needs_settings:
            count = count.join(StockProductSettings, StockProductSettings.product_id == StockLevel.product_id)
        total = int(await session.scalar(count.where(*where)) or 0)
        keys_stmt = keys_stmt.offset(query.offset).limit(query.limit)
    else:  # one row past the page says whether more follow
        main, _ = keyset.after(terms, keyset.decode(query.after, terms))
        keys_stmt = keys_stmt.where(main).limit(query.limit + 1)
    keys = keys_stmt.subquery("page_keys")
    stmt = (
        select(
            StockLevel.product_id,
            Product.sku,
            Product.name.label("product_name"),
            Product.unit,
            StockLevel.warehouse_id,
            Warehouse.name.label("warehouse_name"),
            StockLevel.on_hand,
            StockLevel.reserved,
            AVAILABLE,
            _incoming_here().label("incoming"),
            StockProductSettings.low_threshold,
            StockProductSettings.low_since.is_not(None).label("low"),
            *(keys.c[f"sort_key_{i}"] for i in range(len(columns))),
        )
        .select_from(keys)
        .join(
            StockLevel, and_(StockLevel.product_id == keys.c.product_id, StockLevel.warehouse_id == keys.c.warehouse_id)
        )
        .join(Product, Product.id == StockLevel.product_id)
        .join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
        .outerjoin(StockProductSettings, StockProductSettings.product_id == StockLevel.product_id)
    )
    rows = list((await session.execute(stmt.order_by(*order))).mappings().all())
    if query.after is None:
        more, exact = total > query.offset + len(rows), True
    else:
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        total, exact = query.offset + len(rows) + more, not more
    following = keyset.encode([rows[-1][f"sort_key_{i}"] for i in range(len(columns))]) if more and rows else None
    items = [LevelOut.model_validate({**row, "low": bool(row["low"])}) for row in rows]
    return Page[LevelOut](
        items=items, total=total, offset=query.offset, limit=query.limit, total_exact=exact, next=following
    )


def _product_totals() -> tuple[Any, Any, Any]:
    on_hand = (
        select(cast(func.coalesce(func.sum(StockLevel.on_hand), 0), QTY))
        .where(StockLevel.product_id == StockProductSettings.product_id)
        .scalar_subquery()
    )
    reserved = (
        select(cast(func.coalesce(func.sum(StockLevel.reserved), 0), QTY))
        .where(StockLevel.product_id == StockProductSettings.product_id)
        .scalar_subquery()
    )
    incoming = (
        select(_open_remaining())
        .select_from(PurchaseOrderLine)
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.order_id)
        .where(PurchaseOrderLine.product_id == StockProductSettings.product_id, PurchaseOrder.status.in_(OPEN))
        .scalar_subquery()
    )
    return on_hand, reserved, incoming


async def low_stock(session: AsyncSession, q: str | None, offset: int, limit: int) -> Page[LowStockOut]:
    """Products below their threshold, longest low first."""
    on_hand, reserved, incoming = _product_totals()
    stmt = (
        select(
            StockProductSettings.product_id,
            Product.sku,
            Product.name.label("product_name"),
            Product.unit,
            StockProductSettings.low_threshold,
            on_hand.label("on_hand"),
            reserved.label("reserved"),
            (on_hand - reserved).label("available"),
            incoming.label("incoming"),
            StockProductSettings.low_since,
        )
        .join(Product, Product.id == StockProductSettings.product_id)
        .where(StockProductSettings.low_since.is_not(None))
    )
    if q and q.strip():
        stmt = stmt.where(Product.search_text.like(like_pattern(q), escape="\\"))
    return await paging.page(
        session,
        stmt,
        offset,
        limit,
        lambda r: LowStockOut.model_validate(dict(r._mapping)),
        (StockProductSettings.low_since.asc(), StockProductSettings.product_id.asc()),
        whole_rows=True,
    )


async def product_stock(session: AsyncSession, product: Product) -> ProductStockOut:
    rows = (
        await session.execute(
            select(StockLevel.warehouse_id, Warehouse.name, StockLevel.on_hand, StockLevel.reserved)
            .join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
            .where(StockLevel.product_id == product.id)
            .order_by(func.lower(Warehouse.name))
        )
    ).all()
    incoming_rows: dict[int | None, Decimal] = dict(
        (
            await session.execute(
                select(PurchaseOrder.warehouse_id, _open_remaining())
                .select_from(PurchaseOrderLine)
                .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.order_id)
                .where(PurchaseOrderLine.product_id == product.id, PurchaseOrder.status.in_(OPEN))
                .group_by(PurchaseOrder.warehouse_id)
            )
        ).all()
    )
    settings_row = await session.get(StockProductSettings, product.id)
    warehouses = [
        WarehouseLevel(
            warehouse_id=w,
            warehouse_name=name,
            on_hand=on_hand,
            reserved=reserved,
            available=on_hand - reserved,
            incoming=Decimal(incoming_rows.get(w, ZERO)),
        )
        for w, name, on_hand, reserved in rows
    ]
    on_hand_total = sum((w.on_hand for w in warehouses), ZERO)
    reserved_total = sum((w.reserved for w in warehouses), ZERO)
    return ProductStockOut(
        product_id=product.id,
        sku=product.sku,
        name=product.name,
        unit=product.unit,
        stock_tracked=product.stock_tracked,
        active=product.active,
        on_hand=on_hand_total,
        reserved=reserved_total,
        available=on_hand_total - reserved_total,
        incoming=sum((Decimal(v) for v in incoming_rows.values()), ZERO),
        low_threshold=settings_row.low_threshold if settings_row else None,
        low=bool(settings_row and settings_row.low_since is not None),
        warehouses=warehouses,
    )


async def get_product(session: AsyncSession, product_id: int) -> Product:
    product = await session.get(Product, product_id)
    if product is None:
        raise NotFound("No such product.")
    return product


async def lookup(session: AsyncSession, sku: str) -> ProductStockOut:
    """A product by its SKU exactly (any case): what a barcode scanner types."""
    code = sku.strip()
    if not code:
        raise ValidationFailed("Type or scan a SKU.", field="sku")
    product = (await session.scalars(select(Product).where(func.lower(Product.sku) == code.lower()))).one_or_none()
    if product is None:
        raise NotFound(f"No product with SKU {code}.", field="sku", code="unknown_sku")
    return await product_stock(session, product)


async def set_product_settings(
    session: AsyncSession, actor: Principal, product_id: int, data: ProductStockSettingsIn
) -> ProductStockOut:
    """Set or clear the low-stock threshold; a product already below a new threshold is low now
    (and the warehouse role is told)."""
    product = await get_product(session, product_id)
    row = await session.get(StockProductSettings, product_id, with_for_update=True, populate_existing=True)
    old = row.low_threshold if row else None
    if row is None:
        row = StockProductSettings(product_id=product_id)
        session.add(row)
    row.low_threshold = data.low_threshold
    row.updated_at = utcnow()
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="stock_product_settings",
        entity_id=product_id,
        action="updated",
        changes=audit.diff({"low_threshold": old}, {"low_threshold": data.low_threshold}),
    )
    await ledger.watch_low(session, {product_id})
    events.emit(
        session,
        module="stock",
        entity="stock_product_settings",
        entity_id=product_id,
        action="updated",
        actor_id=actor.user_id,
        data={"low_threshold": None if data.low_threshold is None else str(data.low_threshold)},
    )
    return await product_stock(session, product)


async def history(session: AsyncSession, product_id: int, query: HistoryQuery) -> Page[MoveOut]:
    """Every move of the product with the running quantities after it, over all warehouses and in
    its own warehouse (windows over the whole ledger of the product, then filtered and paged)."""
    await get_product(session, product_id)
    ledger_rows = (
        select(
            StockMove.id,
            StockMove.created_at.label("at"),
            StockMove.product_id,
            StockMove.warehouse_id,
            StockMove.quantity,
            StockMove.document_id,
            StockMove.document_type,
            StockMove.document_line_id,
            StockMove.created_by,
            func.sum(StockMove.quantity).over(order_by=StockMove.id).label("running_total"),
            func.sum(StockMove.quantity)
            .over(partition_by=StockMove.warehouse_id, order_by=StockMove.id)
            .label("running_warehouse"),
        )
        .where(StockMove.product_id == product_id)
        .subquery()
    )
    stmt = (
        select(
            ledger_rows,
            Warehouse.name.label("warehouse_name"),
            StockDocument.number.label("document_number"),
            User.full_name.label("created_by_name"),
        )
        .join(Warehouse, Warehouse.id == ledger_rows.c.warehouse_id)
        .join(StockDocument, StockDocument.id == ledger_rows.c.document_id)
        .outerjoin(User, User.id == ledger_rows.c.created_by)
    )
    if query.warehouse_id is not None:
        stmt = stmt.where(ledger_rows.c.warehouse_id == query.warehouse_id)
    order = (ledger_rows.c.id.desc(),) if query.newest_first else (ledger_rows.c.id.asc(),)
    return await paging.page(
        session,
        stmt,
        query.offset,
        query.limit,
        lambda r: MoveOut.model_validate(dict(r._mapping)),
        order,
        whole_rows=True,
        after=query.after,
    )
