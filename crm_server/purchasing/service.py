"""The rules of purchase orders: drafts, confirmation (vendor, lines and an expected date, every
missing one named at once), receiving in parts through validated receipt documents, cancelling.
Every change is audited and announced in the caller's transaction; nothing here commits."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events, paging
from crm_server.admin import audit, settings
from crm_server.auth.permissions import Principal
from crm_server.clients.models import Client
from crm_server.concurrency import check_version
from crm_server.contract.common import Page
from crm_server.contract.purchasing import (
    OPEN_PURCHASE_STATUSES,
    PurchaseAction,
    PurchaseLineIn,
    PurchaseLineOut,
    PurchaseOrderIn,
    PurchaseOrderOut,
    PurchaseOrderQuery,
    PurchaseOrderUpdate,
    PurchaseStatus,
    ReceiveIn,
    purchase_allows,
)
from crm_server.contract.stock import DocumentKind, DocumentLineIn, StockDocumentIn
from crm_server.db import utcnow
from crm_server.errors import Conflict, Forbidden, NotFound, ValidationFailed
from crm_server.paging import like_pattern
from crm_server.products.models import Product
from crm_server.purchasing.models import PurchaseOrder, PurchaseOrderLine
from crm_server.stock import ledger
from crm_server.stock import service as stock
from crm_server.stock.models import StockDocument, StockDocumentLine, Warehouse

MODULE = "purchasing"
OPEN = tuple(s.value for s in OPEN_PURCHASE_STATUSES)
FIELDS = ("status", "vendor_id", "warehouse_id", "expected_on", "currency", "reference", "notes", "total")
SORTS: dict[str, Any] = {
    "number": PurchaseOrder.id,
    "expected_on": PurchaseOrder.expected_on,
    "created_at": PurchaseOrder.created_at,
    "total": PurchaseOrder.total,
}
CENT = Decimal("0.01")


def fields(order: PurchaseOrder) -> dict[str, Any]:
    return {n: getattr(order, n) for n in FIELDS}


def _record(
    session: AsyncSession, actor_id: int | None, order: PurchaseOrder, action: str, before: dict[str, Any]
) -> None:
    audit.record(
        session,
        actor_id=actor_id,
        entity="purchase_order",
        entity_id=order.id,
        action=action,
        changes=audit.diff(before, fields(order)),
    )
    events.emit(
        session,
        module=MODULE,
        entity="purchase_order",
        entity_id=order.id,
        action="created" if action == "created" else "updated",
        actor_id=actor_id,
        data={"number": order.number, "status": order.status, "version": order.version, "change": action},
    )


def _clean(value: str | None) -> str | None:
    return (value or "").strip() or None


# --- reading -------------------------------------------------------------------------------------


async def get_order(session: AsyncSession, order_id: int, *, lock: bool = False) -> PurchaseOrder:
    order = await session.get(PurchaseOrder, order_id, with_for_update=lock, populate_existing=lock)
    if order is None:
        raise NotFound("No such purchase order.")
    return order


async def _lines(session: AsyncSession, order_id: int) -> list[PurchaseOrderLine]:
    return list(
        (
            await session.scalars(
                select(PurchaseOrderLine)
                .where(PurchaseOrderLine.order_id == order_id)
                .order_by(PurchaseOrderLine.position)
            )
        ).all()
    )


async def order_out(session: AsyncSession, order: PurchaseOrder) -> PurchaseOrderOut:
    await session.flush()
    vendor = await session.scalar(select(Client.name).where(Client.id == order.vendor_id)) if order.vendor_id else None
    warehouse = (
        await session.scalar(select(Warehouse.name).where(Warehouse.id == order.warehouse_id))
        if order.warehouse_id
        else None
    )
    rows = (
        await session.execute(
            select(PurchaseOrderLine, Product.sku, Product.name, Product.unit)
            .join(Product, Product.id == PurchaseOrderLine.product_id)
            .where(PurchaseOrderLine.order_id == order.id)
            .order_by(PurchaseOrderLine.position)
        )
    ).all()
    lines = [
        PurchaseLineOut.model_validate(line).model_copy(
            update={
                "sku": sku,
                "product_name": name,
                "unit": unit,
                "remaining": line.quantity - line.received,
                "total": (line.quantity * line.unit_cost).quantize(CENT),
            }
        )
        for line, sku, name, unit in rows
    ]
    # the same figures list_orders counts in SQL (RECEIVED_IN_FULL), here from the lines at hand
    received = sum(1 for line, *_ in rows if line.received >= line.quantity)
    return PurchaseOrderOut.model_validate(order).model_copy(
        update={
            "vendor_name": vendor,
            "warehouse_name": warehouse,
            "line_count": len(lines),
            "lines_received": received,
            "lines": lines,
        }
    )


RECEIVED_IN_FULL = PurchaseOrderLine.received >= PurchaseOrderLine.quantity


def _list_columns() -> tuple[Any, ...]:
    """What a list row shows besides the order, as correlated scalar subqueries. PostgreSQL runs
    them only for the rows of the page (after the top-N sort; lines by ix_purchase_order_lines_order)
    and drops them from the page's count query, so a page costs its count and one query however many
    orders it shows."""

    def per_order(stmt: Any, label: str) -> Any:
        return stmt.correlate(PurchaseOrder).scalar_subquery().label(label)

    lines = select(func.count()).where(PurchaseOrderLine.order_id == PurchaseOrder.id)
    return (
        per_order(select(Client.name).where(Client.id == PurchaseOrder.vendor_id), "vendor_name"),
        per_order(select(Warehouse.name).where(Warehouse.id == PurchaseOrder.warehouse_id), "warehouse_name"),
        per_order(lines, "line_count"),
        per_order(lines.where(RECEIVED_IN_FULL), "lines_received"),
    )


async def list_orders(session: AsyncSession, query: PurchaseOrderQuery) -> Page[PurchaseOrderOut]:
    """A page of orders without their lines, but with the vendor's and warehouse's names and the
    line counts the list shows ("1 of 2 lines received"), so a client never asks order by order."""
    stmt = select(PurchaseOrder, *_list_columns())
    if query.status is not None:
        stmt = stmt.where(PurchaseOrder.status == query.status.value)
    if query.open_only:
        stmt = stmt.where(PurchaseOrder.status.in_(OPEN))
    if query.vendor_id is not None:
        stmt = stmt.where(PurchaseOrder.vendor_id == query.vendor_id)
    if query.product_id is not None:
        stmt = stmt.where(
            PurchaseOrder.id.in_(
                select(PurchaseOrderLine.order_id).where(PurchaseOrderLine.product_id == query.product_id)
            )
        )
    if query.q and query.q.strip():
        pattern = like_pattern(query.q)
        stmt = stmt.where(
            or_(
                func.lower(PurchaseOrder.number).like(pattern, escape="\\"),
                func.lower(PurchaseOrder.reference).like(pattern, escape="\\"),
                PurchaseOrder.vendor_id.in_(select(Client.id).where(Client.search_text.like(pattern, escape="\\"))),
            )
        )
    column = SORTS[query.sort.lstrip("-")]
    order = paging.sort_order(column, PurchaseOrder.id, query.sort.startswith("-"))

    def named(row: Any) -> PurchaseOrderOut:
        return PurchaseOrderOut.model_validate(row[0]).model_copy(
            update={
                "vendor_name": row.vendor_name,
                "warehouse_name": row.warehouse_name,
                "line_count": row.line_count or 0,
                "lines_received": row.lines_received or 0,
            }
        )

    return await paging.page(session, stmt, query.offset, query.limit, named, order, whole_rows=True, after=query.after)


# --- drafts --------------------------------------------------------------------------------------


async def _vendor(session: AsyncSession, vendor_id: int | None) -> None:
    if vendor_id is None:
        return
    vendor = await session.get(Client, vendor_id)
    if vendor is None:
        raise ValidationFailed("No such vendor.", field="vendor_id")
    if not vendor.is_vendor:
        raise ValidationFailed(f"{vendor.name} is not flagged as a vendor.", field="vendor_id", code="not_vendor")
    if vendor.archived_at is not None:
        raise ValidationFailed(f"{vendor.name} is archived; restore it first.", field="vendor_id")


async def _warehouse(session: AsyncSession, warehouse_id: int | None, field: str = "warehouse_id") -> None:
    if warehouse_id is None:
        return
    warehouse = await session.get(Warehouse, warehouse_id)
    if warehouse is None:
        raise ValidationFailed("No such warehouse.", field=field)
    if not warehouse.active:
        raise ValidationFailed(f"Warehouse {warehouse.name} is inactive.", field=field, code="inactive")


def _currency(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise ValidationFailed("Currency must be a 3-letter ISO 4217 code, e.g. EUR.", field="currency")
    return code


async def _replace_lines(session: AsyncSession, order: PurchaseOrder, lines: list[PurchaseLineIn]) -> None:
    await session.execute(delete(PurchaseOrderLine).where(PurchaseOrderLine.order_id == order.id))
    total = Decimal(0)
    for i, line in enumerate(lines):
        product = await session.get(Product, line.product_id)
        if product is None:
            raise ValidationFailed("No such product.", field=f"lines.{i}.product_id")
        if not product.stock_tracked:
            raise ValidationFailed(
                f"{product.name} ({product.sku}) is not stock-tracked.",
                field=f"lines.{i}.product_id",
                code="not_stock_tracked",
            )
        cost = line.unit_cost if line.unit_cost is not None else Decimal(0)
        session.add(
            PurchaseOrderLine(
                order_id=order.id,
                position=i + 1,
                product_id=product.id,
                description=(line.description or product.name).strip() or product.name,
                quantity=line.quantity,
                unit_cost=cost,
            )
        )
        total += (line.quantity * cost).quantize(CENT)
    order.total = total


async def create_order(session: AsyncSession, actor: Principal, data: PurchaseOrderIn) -> PurchaseOrder:
    await _vendor(session, data.vendor_id)
    await _warehouse(session, data.warehouse_id)
    currency = _currency(data.currency or str(await settings.get(session, "sales.base_currency")))
    new_id = int(await session.scalar(text("SELECT nextval(pg_get_serial_sequence('purchase_orders', 'id'))")) or 0)
    order = PurchaseOrder(
        id=new_id,
        number=f"PO-{date.today().year}-{new_id:04d}",
        status=PurchaseStatus.draft.value,
        vendor_id=data.vendor_id,
        warehouse_id=data.warehouse_id,
        expected_on=data.expected_on,
        currency=currency,
        reference=_clean(data.reference),
        notes=_clean(data.notes),
        created_by=actor.user_id,
    )
    session.add(order)
    await session.flush()
    await _replace_lines(session, order, data.lines)
    await session.flush()
    _record(session, actor.user_id, order, "created", {})
    return order


async def _locked(session: AsyncSession, order_id: int, version: int) -> PurchaseOrder:
    order = await get_order(session, order_id, lock=True)
    check_version(order, version)
    return order


async def update_order(
    session: AsyncSession, actor: Principal, order_id: int, data: PurchaseOrderUpdate
) -> PurchaseOrder:
    order = await _locked(session, order_id, data.version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    if not purchase_allows(order.status, PurchaseAction.edit_delivery):
        raise Conflict(f"{order.number} is {order.status.replace('_', ' ')}: it cannot be changed.", code="closed")
    if not purchase_allows(order.status, PurchaseAction.edit):
        frozen = sorted(changes.keys() - {"expected_on", "warehouse_id", "reference", "notes"})
        if frozen:
            raise Conflict(
                f"{order.number} is confirmed: its {frozen[0].replace('_', ' ')} cannot be changed "
                "(cancel it and make a new order).",
                field=frozen[0],
                code="confirmed",
            )
        if "expected_on" in changes and changes["expected_on"] is None:
            raise ValidationFailed("A confirmed order needs an expected delivery date.", field="expected_on")
    before = fields(order)
    if "vendor_id" in changes:
        await _vendor(session, changes["vendor_id"])
        order.vendor_id = changes["vendor_id"]
    if "warehouse_id" in changes:
        await _warehouse(session, changes["warehouse_id"])
        order.warehouse_id = changes["warehouse_id"]
    if "expected_on" in changes:
        order.expected_on = changes["expected_on"]
    if changes.get("currency") is not None:
        order.currency = _currency(changes["currency"])
    for key in ("reference", "notes"):
        if key in changes:
            setattr(order, key, _clean(changes[key]))
    if data.lines is not None:
        await _replace_lines(session, order, data.lines)
    order.updated_at = utcnow()
    await session.flush()
    _record(session, actor.user_id, order, "updated", before)
    return order


# --- confirming, receiving, cancelling -----------------------------------------------------------


async def confirm_order(session: AsyncSession, actor: Principal, order_id: int, version: int) -> PurchaseOrder:
    """A draft becomes an order the vendor has: it needs a vendor, a line and an expected date; all
    the missing ones are named at once (`fields` in the error), the first as `field`."""
    order = await _locked(session, order_id, version)
    if not purchase_allows(order.status, PurchaseAction.confirm):
        raise Conflict(f"{order.number} is {order.status.replace('_', ' ')} already.", code="not_draft")
    lines = await _lines(session, order.id)
    missing = [
        (name, what)
        for name, what, absent in (
            ("vendor_id", "a vendor", order.vendor_id is None),
            ("lines", "at least one line", not lines),
            ("expected_on", "an expected delivery date", order.expected_on is None),
        )
        if absent
    ]
    if missing:
        raise ValidationFailed(
            "To confirm the order it needs " + ", ".join(w for _, w in missing) + ".",
            field=missing[0][0],
            code="incomplete",
            extra={"fields": [n for n, _ in missing]},
        )
    await _vendor(session, order.vendor_id)
    before = fields(order)
    order.status, order.confirmed_at = PurchaseStatus.confirmed.value, utcnow()
    if order.warehouse_id is not None:  # so the overview shows the incoming figure at once
        await ledger.ensure_levels(session, {(line.product_id, order.warehouse_id) for line in lines})
    await session.flush()
    _record(session, actor.user_id, order, "confirmed", before)
    return order


async def receive(
    session: AsyncSession, actor: Principal, order_id: int, data: ReceiveIn
) -> tuple[PurchaseOrder, StockDocument]:
    """Receive quantities now: a receipt document made and validated into the warehouse; the order
    is received when every line is, else partially received (the rest stays incoming)."""
    if not actor.can("stock", "edit"):
        raise Forbidden("Receiving moves stock: it needs the stock edit permission.", code="forbidden")
    order = await _locked(session, order_id, data.version)
    if not purchase_allows(order.status, PurchaseAction.receive):
        raise Conflict(
            f"Only a confirmed order can be received ({order.number} is {order.status.replace('_', ' ')}).",
            code="not_open",
        )
    warehouse_id = data.warehouse_id if data.warehouse_id is not None else order.warehouse_id
    if warehouse_id is None:
        raise ValidationFailed(
            "Choose the warehouse the goods go into.", field="warehouse_id", code="missing_warehouse"
        )
    await _warehouse(session, warehouse_id)
    lines = {line.id: line for line in await _lines(session, order.id)}
    seen: set[int] = set()
    doc_lines: list[DocumentLineIn] = []
    extras: list[dict[str, Any]] = []
    for i, item in enumerate(data.lines):
        line = lines.get(item.line_id)
        if line is None:
            raise ValidationFailed(f"No line {item.line_id} on {order.number}.", field=f"lines.{i}.line_id")
        if line.id in seen:
            raise ValidationFailed("This line is given twice.", field=f"lines.{i}.line_id", code="duplicate")
        seen.add(line.id)
        remaining = line.quantity - line.received
        if item.quantity > remaining:
            raise ValidationFailed(
                f"Only {remaining.normalize():f} of {line.description} remain to be received.",
                field=f"lines.{i}.quantity",
                code="over_receipt",
                extra={"remaining": str(remaining)},
            )
        line.received += item.quantity
        doc_lines.append(DocumentLineIn(product_id=line.product_id, quantity=item.quantity))
        extras.append({"purchase_order_line_id": line.id, "unit_cost": line.unit_cost})
    receipt = await stock.create_document(
        session,
        actor,
        StockDocumentIn(
            kind=DocumentKind.receipt,
            warehouse_id=warehouse_id,
            reference=_clean(data.reference) or order.number,
            notes=f"Received on {order.number}.",
            lines=doc_lines,
        ),
        purchase_order_id=order.id,
        extras=extras,
    )
    await stock.validate_document(session, actor, receipt.id, None)
    before = fields(order)
    done = all(line.received >= line.quantity for line in lines.values())
    order.status = (PurchaseStatus.received if done else PurchaseStatus.partially_received).value
    order.received_at = utcnow() if done else None
    order.updated_at = utcnow()
    await session.flush()
    _record(session, actor.user_id, order, "received", before)
    return order, receipt


async def receipt_reversed(session: AsyncSession, actor: Principal | None, receipt: StockDocument) -> None:
    """A reversed receipt of an order gives its quantities back to the order (open again)."""
    if receipt.purchase_order_id is None:
        return
    order = await get_order(session, receipt.purchase_order_id, lock=True)
    rows = (await session.scalars(select(StockDocumentLine).where(StockDocumentLine.document_id == receipt.id))).all()
    lines = {line.id: line for line in await _lines(session, order.id)}
    for row in rows:
        line = lines.get(row.purchase_order_line_id or 0)
        if line is not None:
            line.received = max(Decimal(0), line.received - row.quantity)
    if order.status in (PurchaseStatus.received, PurchaseStatus.partially_received):
        before = fields(order)
        anything = any(line.received > 0 for line in lines.values())
        order.status = (PurchaseStatus.partially_received if anything else PurchaseStatus.confirmed).value
        order.received_at = None
        order.updated_at = utcnow()
        await session.flush()
        _record(session, actor.user_id if actor else None, order, "receipt_reversed", before)


async def cancel_order(session: AsyncSession, actor: Principal, order_id: int, version: int) -> PurchaseOrder:
    """Cancel a draft or an open order; what was received stays received, the rest is no longer
    incoming."""
    order = await _locked(session, order_id, version)
    if not purchase_allows(order.status, PurchaseAction.cancel):
        raise Conflict(
            f"{order.number} is {order.status.replace('_', ' ')}: it cannot be cancelled.", code="not_cancellable"
        )
    before = fields(order)
    order.status, order.cancelled_at = PurchaseStatus.cancelled.value, utcnow()
    await session.flush()
    _record(session, actor.user_id, order, "cancelled", before)
    return order
