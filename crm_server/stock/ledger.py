"""The only code that changes stock: balance rows updated atomically in the caller's transaction,
moves appended to the ledger, and the low-stock watch.

Concurrency: every change is one conditional `UPDATE stock_levels ... WHERE on_hand - reserved >= q`
(when it lowers what is available). PostgreSQL locks the row and re-checks the condition on the
latest committed version, so of twenty requests for the last five units exactly five pass and the
balance never drops below zero; an update is never lost because it adds to the row, never writes a
figure read earlier. Rows are touched in (product, warehouse) order so two multi-line documents
cannot deadlock each other."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.activities import preferences
from crm_server.admin import settings
from crm_server.auth.models import Role, User
from crm_server.db import utcnow
from crm_server.errors import ValidationFailed
from crm_server.products.models import Product
from crm_server.stock.models import StockLevel, StockProductSettings, Warehouse

ZERO = Decimal(0)
LOW_KIND = "stock_low"
WAREHOUSE_ROLE = "Warehouse"


@dataclass(frozen=True)
class Change:
    """A change of one product in one warehouse; `field` names the input it came from (errors)."""

    product_id: int
    warehouse_id: int
    on_hand: Decimal = ZERO
    reserved: Decimal = ZERO
    field: str = "lines"


async def allow_negative(session: AsyncSession) -> bool:
    return bool(await settings.get(session, "stock.allow_negative"))


async def ensure_levels(session: AsyncSession, pairs: set[tuple[int, int]]) -> None:
    """Balance rows exist before they are locked (a first receipt into a new warehouse)."""
    if pairs:
        await session.execute(
            insert(StockLevel)
            .values([{"product_id": p, "warehouse_id": w} for p, w in sorted(pairs)])
            .on_conflict_do_nothing()
        )


async def lock_level(session: AsyncSession, product_id: int, warehouse_id: int) -> StockLevel:
    await ensure_levels(session, {(product_id, warehouse_id)})
    return (
        await session.scalars(
            select(StockLevel)
            .where(StockLevel.product_id == product_id, StockLevel.warehouse_id == warehouse_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one()


async def shortage(session: AsyncSession, change: Change, wanted: Decimal) -> ValidationFailed:
    """The refusal, naming the product and what is available of it there."""
    row = (
        await session.execute(
            select(Product.sku, Product.name, Warehouse.name, StockLevel.on_hand - StockLevel.reserved)
            .select_from(StockLevel)
            .join(Product, Product.id == StockLevel.product_id)
            .join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
            .where(StockLevel.product_id == change.product_id, StockLevel.warehouse_id == change.warehouse_id)
        )
    ).one()
    sku, name, warehouse, available = row
    return ValidationFailed(
        f"Not enough {name} ({sku}) in {warehouse}: {available.normalize():f} available, "
        f"{wanted.normalize():f} needed.",
        field=change.field,
        code="insufficient_stock",
        extra={
            "product_id": change.product_id,
            "sku": sku,
            "warehouse_id": change.warehouse_id,
            "available": str(available),
        },
    )


async def apply(session: AsyncSession, changes: list[Change], *, check: bool | None = None) -> None:
    """Apply balance changes (summed per product and warehouse, in key order). A change that lowers
    what is available is refused if it would go below zero, unless negative stock is allowed."""
    merged: dict[tuple[int, int], Change] = {}
    for c in changes:
        key = (c.product_id, c.warehouse_id)
        old = merged.get(key)
        merged[key] = (
            c
            if old is None
            else Change(c.product_id, c.warehouse_id, old.on_hand + c.on_hand, old.reserved + c.reserved, old.field)
        )
    if not merged:
        return
    await ensure_levels(session, set(merged))
    refuse_negative = (not await allow_negative(session)) if check is None else check
    for key in sorted(merged):
        c = merged[key]
        available_delta = c.on_hand - c.reserved
        stmt = (
            update(StockLevel)
            .where(StockLevel.product_id == c.product_id, StockLevel.warehouse_id == c.warehouse_id)
            .values(
                on_hand=StockLevel.on_hand + c.on_hand, reserved=StockLevel.reserved + c.reserved, updated_at=utcnow()
            )
            .returning(StockLevel.product_id)
        )
        if refuse_negative and available_delta < 0:
            stmt = stmt.where(StockLevel.on_hand - StockLevel.reserved + available_delta >= 0)
        if (await session.execute(stmt)).first() is None:
            raise await shortage(session, c, -available_delta)


async def product_available(session: AsyncSession, product_id: int) -> Decimal:
    total = await session.scalar(
        select(func.coalesce(func.sum(StockLevel.on_hand - StockLevel.reserved), 0)).where(
            StockLevel.product_id == product_id
        )
    )
    return Decimal(total or 0)


async def watch_low(session: AsyncSession, product_ids: set[int]) -> list[int]:
    """Mark products whose available stock (all warehouses) fell below their threshold and tell the
    warehouse role, once per fall: the conditional UPDATE lets exactly one transaction flip
    `low_since` from NULL. Products back at or above it are cleared (armed for the next fall)."""
    fallen: list[int] = []
    if not product_ids:
        return fallen
    watched = (
        await session.scalars(
            select(StockProductSettings.product_id).where(StockProductSettings.product_id.in_(product_ids))
        )
    ).all()
    for product_id in sorted(watched):
        available = (
            select(func.coalesce(func.sum(StockLevel.on_hand - StockLevel.reserved), 0))
            .where(StockLevel.product_id == product_id)
            .scalar_subquery()
        )
        row = (
            await session.execute(
                update(StockProductSettings)
                .where(
                    StockProductSettings.product_id == product_id,
                    StockProductSettings.low_since.is_(None),
                    StockProductSettings.low_threshold.is_not(None),
                    available < StockProductSettings.low_threshold,
                )
                .values(low_since=utcnow(), updated_at=utcnow())
                .returning(StockProductSettings.low_threshold)
            )
        ).first()
        if row is not None:
            fallen.append(product_id)
            await _notify_low(session, product_id, Decimal(row[0] or 0))
            continue
        await session.execute(
            update(StockProductSettings)
            .where(
                StockProductSettings.product_id == product_id,
                StockProductSettings.low_since.is_not(None),
                (StockProductSettings.low_threshold.is_(None)) | (available >= StockProductSettings.low_threshold),
            )
            .values(low_since=None, updated_at=utcnow())
        )
    return fallen


async def _notify_low(session: AsyncSession, product_id: int, threshold: Decimal) -> None:
    product = await session.get(Product, product_id)
    if product is None:
        return
    available = await product_available(session, product_id)
    users = (
        await session.scalars(
            select(User.id)
            .join(Role, Role.id == User.role_id)
            .where(User.active, Role.name == WAREHOUSE_ROLE)
            .order_by(User.id)
        )
    ).all()
    for user_id in users:
        await preferences.notify(
            session,
            user_id,
            LOW_KIND,
            f"Low stock: {product.name} ({product.sku})",
            f"{available.normalize():f} {product.unit} available, below the threshold of {threshold.normalize():f}.",
            entity="product",
            entity_id=product_id,
        )
