"""The rules of stock: warehouses, documents (draft -> validated -> reversed), and reservations.
Only validating a document moves stock (through ledger.apply, which refuses negative stock); a
validated document is never edited, it is undone by a reversal document validated at once. Every
change is audited and announced in the caller's transaction; nothing here commits."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events, paging
from crm_server.admin import audit
from crm_server.auth.permissions import Principal
from crm_server.concurrency import check_version
from crm_server.contract.common import Page
from crm_server.contract.stock import (
    DocumentAction,
    DocumentKind,
    DocumentLineIn,
    DocumentLineOut,
    DocumentQuery,
    DocumentStatus,
    ReleaseIn,
    ReservationOut,
    ReservationQuery,
    ReserveIn,
    StockDocumentIn,
    StockDocumentOut,
    StockDocumentUpdate,
    WarehouseIn,
    WarehouseOut,
    WarehouseUpdate,
    document_allows,
)
from crm_server.db import savepoint, utcnow
from crm_server.errors import Conflict, NotFound, ValidationFailed
from crm_server.paging import like_pattern
from crm_server.products.models import Product
from crm_server.stock import ledger
from crm_server.stock.ledger import ZERO, Change
from crm_server.stock.models import (
    StockDocument,
    StockDocumentLine,
    StockMove,
    StockReservation,
    Warehouse,
)

MODULE = "stock"
PREFIX = {"receipt": "REC", "delivery": "DEL", "transfer": "TRF", "adjustment": "ADJ"}
OPPOSITE = {"receipt": "delivery", "delivery": "receipt", "transfer": "transfer", "adjustment": "adjustment"}
WAREHOUSE_FIELDS = ("name", "address", "active")
DOCUMENT_FIELDS = (
    "status",
    "warehouse_id",
    "to_warehouse_id",
    "reference",
    "reason",
    "notes",
    "source_type",
    "source_id",
)
DOC_SORTS: dict[str, Any] = {
    "created_at": StockDocument.created_at,
    "number": StockDocument.number,
    "validated_at": StockDocument.validated_at,
}


def _fields(record: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {n: getattr(record, n) for n in names}


def _clean(value: str | None) -> str | None:
    return (value or "").strip() or None


# --- warehouses ----------------------------------------------------------------------------------


def _announce_warehouse(session: AsyncSession, actor_id: int | None, warehouse: Warehouse, action: str) -> None:
    events.emit(
        session,
        module=MODULE,
        entity="warehouse",
        entity_id=warehouse.id,
        action=action,
        actor_id=actor_id,
        data={"name": warehouse.name, "version": warehouse.version},
    )


async def list_warehouses(session: AsyncSession, include_inactive: bool = True) -> list[WarehouseOut]:
    stmt = select(Warehouse).order_by(func.lower(Warehouse.name), Warehouse.id)
    if not include_inactive:
        stmt = stmt.where(Warehouse.active)
    return [WarehouseOut.model_validate(w) for w in (await session.scalars(stmt)).all()]


async def _save_warehouse(session: AsyncSession) -> None:
    try:
        async with savepoint(session):
            await session.flush()
    except IntegrityError as exc:
        if "uq_warehouses_name_lower" in str(exc.orig):
            raise ValidationFailed(
                "A warehouse with this name exists already.", field="name", code="duplicate"
            ) from None
        raise


async def create_warehouse(session: AsyncSession, actor: Principal, data: WarehouseIn) -> WarehouseOut:
    name = data.name.strip()
    if not name:
        raise ValidationFailed("A warehouse needs a name.", field="name")
    warehouse = Warehouse(name=name, address=_clean(data.address), active=data.active)
    session.add(warehouse)
    await _save_warehouse(session)
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="warehouse",
        entity_id=warehouse.id,
        action="created",
        changes=audit.diff({}, _fields(warehouse, WAREHOUSE_FIELDS)),
    )
    _announce_warehouse(session, actor.user_id, warehouse, "created")
    return WarehouseOut.model_validate(warehouse)


async def update_warehouse(
    session: AsyncSession, actor: Principal, warehouse_id: int, data: WarehouseUpdate
) -> WarehouseOut:
    warehouse = await session.get(Warehouse, warehouse_id, with_for_update=True, populate_existing=True)
    if warehouse is None:
        raise NotFound("No such warehouse.")
    check_version(warehouse, data.version)
    before = _fields(warehouse, WAREHOUSE_FIELDS)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    if changes.get("name") is not None:
        if not changes["name"].strip():
            raise ValidationFailed("A warehouse needs a name.", field="name")
        warehouse.name = changes["name"].strip()
    if "address" in changes:
        warehouse.address = _clean(changes["address"])
    if changes.get("active") is not None:
        warehouse.active = changes["active"]
    await _save_warehouse(session)
    diff = audit.diff(before, _fields(warehouse, WAREHOUSE_FIELDS))
    if diff:
        audit.record(
            session, actor_id=actor.user_id, entity="warehouse", entity_id=warehouse.id, action="updated", changes=diff
        )
        _announce_warehouse(session, actor.user_id, warehouse, "updated")
    return WarehouseOut.model_validate(warehouse)


async def _warehouse(
    session: AsyncSession, warehouse_id: int | None, field: str, *, active: bool = False
) -> Warehouse | None:
    if warehouse_id is None:
        return None
    warehouse = await session.get(Warehouse, warehouse_id)
    if warehouse is None:
        raise ValidationFailed("No such warehouse.", field=field)
    if active and not warehouse.active:
        raise ValidationFailed(f"Warehouse {warehouse.name} is inactive.", field=field, code="inactive")
    return warehouse


# --- documents: reading --------------------------------------------------------------------------


async def get_document(session: AsyncSession, document_id: int, *, lock: bool = False) -> StockDocument:
    document = await session.get(StockDocument, document_id, with_for_update=lock, populate_existing=lock)
    if document is None:
        raise NotFound("No such stock document.")
    return document


async def document_out(session: AsyncSession, document: StockDocument, *, with_lines: bool = True) -> StockDocumentOut:
    await session.flush()
    names: dict[int | None, str] = dict(
        (
            await session.execute(
                select(Warehouse.id, Warehouse.name).where(
                    Warehouse.id.in_([w for w in (document.warehouse_id, document.to_warehouse_id) if w is not None])
                )
            )
        ).all()
    )
    reversed_by = await session.scalar(select(StockDocument.id).where(StockDocument.reverses_id == document.id))
    lines: list[DocumentLineOut] = []
    if with_lines:
        rows = (
            await session.execute(
                select(StockDocumentLine, Product.sku, Product.name, Product.unit)
                .join(Product, Product.id == StockDocumentLine.product_id)
                .where(StockDocumentLine.document_id == document.id)
                .order_by(StockDocumentLine.position)
            )
        ).all()
        lines = [
            DocumentLineOut.model_validate(line).model_copy(update={"sku": sku, "product_name": name, "unit": unit})
            for line, sku, name, unit in rows
        ]
    return StockDocumentOut.model_validate(document).model_copy(
        update={
            "warehouse_name": names.get(document.warehouse_id),
            "to_warehouse_name": names.get(document.to_warehouse_id),
            "reversed_by_id": reversed_by,
            "lines": lines,
        }
    )


async def list_documents(session: AsyncSession, query: DocumentQuery) -> Page[StockDocumentOut]:
    """A page of documents without their lines."""
    stmt = select(StockDocument)
    if query.kind is not None:
        stmt = stmt.where(StockDocument.kind == query.kind.value)
    if query.status is not None:
        stmt = stmt.where(StockDocument.status == query.status.value)
    if query.warehouse_id is not None:
        stmt = stmt.where(
            or_(StockDocument.warehouse_id == query.warehouse_id, StockDocument.to_warehouse_id == query.warehouse_id)
        )
    if query.product_id is not None:
        stmt = stmt.where(
            StockDocument.id.in_(
                select(StockDocumentLine.document_id).where(StockDocumentLine.product_id == query.product_id)
            )
        )
    if query.purchase_order_id is not None:
        stmt = stmt.where(StockDocument.purchase_order_id == query.purchase_order_id)
    if query.q and query.q.strip():
        pattern = like_pattern(query.q)
        stmt = stmt.where(
            or_(
                func.lower(StockDocument.number).like(pattern, escape="\\"),
                func.lower(StockDocument.reference).like(pattern, escape="\\"),
            )
        )
    column = DOC_SORTS[query.sort.lstrip("-")]
    order = paging.sort_order(column, StockDocument.id, query.sort.startswith("-"))
    page = await paging.page(session, stmt, query.offset, query.limit, lambda d: d, order, after=query.after)
    warehouse_ids = {w for d in page.items for w in (d.warehouse_id, d.to_warehouse_id) if w is not None}
    names: dict[int | None, str] = (
        dict((await session.execute(select(Warehouse.id, Warehouse.name).where(Warehouse.id.in_(warehouse_ids)))).all())
        if warehouse_ids
        else {}
    )
    ids = [d.id for d in page.items]
    reversals = (
        dict(
            (
                await session.execute(
                    select(StockDocument.reverses_id, StockDocument.id).where(StockDocument.reverses_id.in_(ids))
                )
            ).all()
        )
        if ids
        else {}
    )
    items = [
        StockDocumentOut.model_validate(d).model_copy(
            update={
                "warehouse_name": names.get(d.warehouse_id),
                "to_warehouse_name": names.get(d.to_warehouse_id),
                "reversed_by_id": reversals.get(d.id),
            }
        )
        for d in page.items
    ]
    return Page[StockDocumentOut](
        items=items,
        total=page.total,
        offset=page.offset,
        limit=page.limit,
        total_exact=page.total_exact,
        next=page.next,
    )


# --- documents: drafts ---------------------------------------------------------------------------


def _announce(session: AsyncSession, actor_id: int | None, document: StockDocument, action: str, **data: Any) -> None:
    events.emit(
        session,
        module=MODULE,
        entity="stock_document",
        entity_id=document.id,
        action=action,
        actor_id=actor_id,
        data={
            "number": document.number,
            "kind": document.kind,
            "status": document.status,
            "version": document.version,
            **data,
        },
    )


def _record(
    session: AsyncSession,
    actor_id: int | None,
    document: StockDocument,
    action: str,
    before: dict[str, Any],
    **data: Any,
) -> None:
    audit.record(
        session,
        actor_id=actor_id,
        entity="stock_document",
        entity_id=document.id,
        action=action,
        changes=audit.diff(before, _fields(document, DOCUMENT_FIELDS)),
    )
    _announce(session, actor_id, document, "created" if action == "created" else "updated", **data)


async def _checked_lines(session: AsyncSession, kind: str, lines: list[DocumentLineIn]) -> None:
    """Each line names an existing stock-tracked product; only a count (adjustment) may be zero."""
    seen: set[int] = set()
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
        if kind != DocumentKind.adjustment and line.quantity <= 0:
            raise ValidationFailed("The quantity must be above zero.", field=f"lines.{i}.quantity")
        if kind == DocumentKind.adjustment:
            if line.product_id in seen:
                raise ValidationFailed(
                    f"{product.name} ({product.sku}) is counted twice.", field=f"lines.{i}.product_id", code="duplicate"
                )
            seen.add(line.product_id)


async def _replace_lines(
    session: AsyncSession,
    document: StockDocument,
    lines: list[DocumentLineIn],
    extras: list[dict[str, Any]] | None = None,
) -> None:
    await _checked_lines(session, document.kind, lines)
    await session.execute(delete(StockDocumentLine).where(StockDocumentLine.document_id == document.id))
    for i, line in enumerate(lines):
        session.add(
            StockDocumentLine(
                document_id=document.id,
                position=i + 1,
                product_id=line.product_id,
                quantity=line.quantity,
                **(extras[i] if extras else {}),
            )
        )


async def _check_warehouses(session: AsyncSession, document: StockDocument) -> None:
    await _warehouse(session, document.warehouse_id, "warehouse_id")
    await _warehouse(session, document.to_warehouse_id, "to_warehouse_id")
    if document.kind != DocumentKind.transfer and document.to_warehouse_id is not None:
        raise ValidationFailed(
            "Only a transfer has a destination warehouse besides its warehouse.", field="to_warehouse_id"
        )


async def _new_number(session: AsyncSession, kind: str) -> tuple[int, str]:
    """The id taken ahead, so the number (REC-2026-000123) is known at insert; gaps are fine here."""
    new_id = int(await session.scalar(text("SELECT nextval(pg_get_serial_sequence('stock_documents', 'id'))")) or 0)
    return new_id, f"{PREFIX[kind]}-{utcnow().year}-{new_id:06d}"


async def create_document(
    session: AsyncSession,
    actor: Principal | None,
    data: StockDocumentIn,
    *,
    purchase_order_id: int | None = None,
    extras: list[dict[str, Any]] | None = None,
) -> StockDocument:
    """A draft document; `actor` None for one the system makes (a web shop order's delivery)."""
    actor_id = actor.user_id if actor else None
    new_id, number = await _new_number(session, data.kind.value)
    document = StockDocument(
        id=new_id,
        number=number,
        kind=data.kind.value,
        status=DocumentStatus.draft.value,
        warehouse_id=data.warehouse_id,
        to_warehouse_id=data.to_warehouse_id,
        reference=_clean(data.reference),
        reason=_clean(data.reason),
        notes=_clean(data.notes),
        source_type=_clean(data.source_type),
        source_id=data.source_id,
        purchase_order_id=purchase_order_id,
        created_by=actor_id,
    )
    await _check_warehouses(session, document)
    session.add(document)
    await session.flush()
    await _replace_lines(session, document, data.lines, extras)
    await session.flush()
    _record(session, actor_id, document, "created", {})
    return document


async def _locked_for(
    session: AsyncSession, document_id: int, version: int, action: DocumentAction, doing: str
) -> StockDocument:
    document = await get_document(session, document_id, lock=True)
    check_version(document, version)
    if not document_allows(document.status, action):
        raise Conflict(
            f"{document.number} is {document.status}: it cannot be {doing}. "
            + ("Reverse it instead." if document.status == DocumentStatus.validated else ""),
            code="not_draft",
            extra={"status": document.status},
        )
    return document


async def update_document(
    session: AsyncSession, actor: Principal, document_id: int, data: StockDocumentUpdate
) -> StockDocument:
    """Edit a draft (lines replaced as a whole); a validated document is never edited."""
    document = await _locked_for(session, document_id, data.version, DocumentAction.edit, "edited")
    before = _fields(document, DOCUMENT_FIELDS)
    changes = data.model_dump(exclude_unset=True, exclude={"version", "lines"})
    for key in ("warehouse_id", "to_warehouse_id", "source_id"):
        if key in changes:
            setattr(document, key, changes[key])
    for key in ("reference", "reason", "notes", "source_type"):
        if key in changes:
            setattr(document, key, _clean(changes[key]))
    await _check_warehouses(session, document)
    if data.lines is not None:
        await _replace_lines(session, document, data.lines)
    document.updated_at = utcnow()  # lines live in their own table: the document's version moves too
    await session.flush()
    _record(session, actor.user_id, document, "updated", before)
    return document


async def cancel_document(session: AsyncSession, actor: Principal, document_id: int, version: int) -> StockDocument:
    """Give up a draft (kept, marked cancelled; nothing moved)."""
    document = await _locked_for(session, document_id, version, DocumentAction.cancel, "cancelled")
    before = _fields(document, DOCUMENT_FIELDS)
    document.status = DocumentStatus.cancelled.value
    await session.flush()
    _record(session, actor.user_id, document, "cancelled", before)
    return document


# --- validating ----------------------------------------------------------------------------------


@dataclass
class _Move:
    line: StockDocumentLine
    warehouse_id: int
    quantity: Decimal
    field: str


async def _lines(session: AsyncSession, document_id: int) -> list[StockDocumentLine]:
    return list(
        (
            await session.scalars(
                select(StockDocumentLine)
                .where(StockDocumentLine.document_id == document_id)
                .order_by(StockDocumentLine.position)
            )
        ).all()
    )


def _require_warehouses(document: StockDocument) -> None:
    missing = {
        "receipt": [("warehouse_id", "a destination warehouse")],
        "delivery": [("warehouse_id", "a source warehouse")],
        "adjustment": [("warehouse_id", "the warehouse counted")],
        "transfer": [("warehouse_id", "a source warehouse"), ("to_warehouse_id", "a destination warehouse")],
    }[document.kind]
    kind = document.kind
    for field, what in missing:
        if getattr(document, field) is None:
            raise ValidationFailed(f"A {kind} needs {what} to be validated.", field=field, code="missing_warehouse")
    if kind == DocumentKind.transfer and document.warehouse_id == document.to_warehouse_id:
        raise ValidationFailed("A transfer needs two different warehouses.", field="to_warehouse_id")
    if kind == DocumentKind.adjustment and not document.reason:
        raise ValidationFailed("An inventory adjustment needs a reason.", field="reason")


async def _plan(session: AsyncSession, document: StockDocument, lines: list[StockDocumentLine]) -> list[_Move]:
    """The moves a document makes. An adjustment books counted minus on hand, read under lock."""
    assert document.warehouse_id is not None
    where = document.warehouse_id
    moves: list[_Move] = []
    for i, line in enumerate(lines):
        field = f"lines.{i}.quantity"
        if document.kind == DocumentKind.receipt:
            moves.append(_Move(line, where, line.quantity, field))
        elif document.kind == DocumentKind.delivery:
            moves.append(_Move(line, where, -line.quantity, field))
        elif document.kind == DocumentKind.transfer:
            assert document.to_warehouse_id is not None
            moves += [
                _Move(line, where, -line.quantity, field),
                _Move(line, document.to_warehouse_id, line.quantity, field),
            ]
    if document.kind == DocumentKind.adjustment:
        for i, line in sorted(enumerate(lines), key=lambda item: item[1].product_id):
            level = await ledger.lock_level(session, line.product_id, where)
            line.moved = line.quantity - level.on_hand
            if line.moved != 0:
                moves.append(_Move(line, where, line.moved, f"lines.{i}.quantity"))
    return moves


async def _consume_reservations(
    session: AsyncSession, document: StockDocument, moves: list[_Move]
) -> dict[tuple[int, int], Decimal]:
    """A delivery for a document takes that document's reservations first (levels locked before
    reservations, the order reserve and release use too)."""
    if document.source_type is None or document.source_id is None:
        return {}
    wanted: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    for move in moves:
        if move.quantity < 0:
            wanted[(move.line.product_id, move.warehouse_id)] += -move.quantity
    consumed: dict[tuple[int, int], Decimal] = {}
    for key in sorted(wanted):
        await ledger.lock_level(session, *key)
        reservation = await _reservation(session, document.source_type, document.source_id, *key, lock=True)
        if reservation is None:
            continue
        take = min(reservation.quantity, wanted[key])
        consumed[key] = take
        await _reduce_reservation(session, reservation, take)
    return consumed


async def validate_document(
    session: AsyncSession, actor: Principal | None, document_id: int, version: int | None
) -> StockDocument:
    """Move the stock: moves appended to the ledger and balances changed in this transaction, or
    nothing at all (a refusal rolls the whole document back)."""
    document = await get_document(session, document_id, lock=True)
    if version is not None:
        check_version(document, version)
    if not document_allows(document.status, DocumentAction.validate):
        raise Conflict(
            f"{document.number} is {document.status} already.", code="not_draft", extra={"status": document.status}
        )
    _require_warehouses(document)
    await _warehouse(session, document.warehouse_id, "warehouse_id", active=True)
    await _warehouse(session, document.to_warehouse_id, "to_warehouse_id", active=True)
    lines = await _lines(session, document.id)
    if not lines:
        raise ValidationFailed(f"A {document.kind} needs at least one line to be validated.", field="lines")
    await _checked_lines(
        session, document.kind, [DocumentLineIn(product_id=ln.product_id, quantity=ln.quantity) for ln in lines]
    )
    before = _fields(document, DOCUMENT_FIELDS)
    moves = await _plan(session, document, lines)
    consumed = await _consume_reservations(session, document, moves) if document.kind == "delivery" else {}
    document.status = DocumentStatus.validated.value
    document.validated_by = actor.user_id if actor else None
    document.validated_at = utcnow()
    await session.flush()
    products = {m.line.product_id for m in moves}
    _record(
        session,
        actor.user_id if actor else None,
        document,
        "validated",
        before,
        product_ids=sorted(products),
        warehouse_ids=sorted({m.warehouse_id for m in moves}),
    )
    await _book(session, actor, document, moves, consumed, check=None if document.kind != "adjustment" else False)
    await ledger.watch_low(session, products | {ln.product_id for ln in lines})
    return document


async def _book(
    session: AsyncSession,
    actor: Principal | None,
    document: StockDocument,
    moves: list[_Move],
    consumed: dict[tuple[int, int], Decimal],
    *,
    check: bool | None,
) -> None:
    """Append the moves, then change the balances: everything else is written before the balance
    rows are locked, so a busy product's row is held only for the tail of the transaction."""
    for m in moves:
        session.add(
            StockMove(
                product_id=m.line.product_id,
                warehouse_id=m.warehouse_id,
                quantity=m.quantity,
                document_id=document.id,
                document_type=document.kind,
                document_line_id=m.line.id,
                created_by=actor.user_id if actor else None,
            )
        )
    await session.flush()
    changes = [Change(m.line.product_id, m.warehouse_id, on_hand=m.quantity, field=m.field) for m in moves]
    changes += [Change(p, w, reserved=-q) for (p, w), q in consumed.items()]
    await ledger.apply(session, changes, check=check)


async def reverse_document(session: AsyncSession, actor: Principal, document_id: int, version: int) -> StockDocument:
    """Undo a validated document by a new, validated document whose moves are its moves negated
    (refused like any other if the goods are gone, unless negative stock is allowed)."""
    original = await get_document(session, document_id, lock=True)
    check_version(original, version)
    if not document_allows(original.status, DocumentAction.reverse):
        raise Conflict(
            f"Only a validated document can be reversed ({original.number} is {original.status}).",
            code="not_validated",
            extra={"status": original.status},
        )
    if original.reverses_id is not None:
        raise Conflict(f"{original.number} is itself a reversal; make a new document instead.", code="is_reversal")
    kind = OPPOSITE[original.kind]
    new_id, number = await _new_number(session, kind)
    swap = original.kind == DocumentKind.transfer
    reversal = StockDocument(
        id=new_id,
        number=number,
        kind=kind,
        status=DocumentStatus.draft.value,
        warehouse_id=original.to_warehouse_id if swap else original.warehouse_id,
        to_warehouse_id=original.warehouse_id if swap else None,
        reference=original.number,
        reason=f"Reverses {original.number}.",
        notes=f"Reverses {original.number}.",
        reverses_id=original.id,
        purchase_order_id=original.purchase_order_id,
        created_by=actor.user_id,
    )
    session.add(reversal)
    await session.flush()
    original_moves = (
        await session.scalars(select(StockMove).where(StockMove.document_id == original.id).order_by(StockMove.id))
    ).all()
    old_lines = await _lines(session, original.id)
    new_lines: dict[int, StockDocumentLine] = {}
    for line in old_lines:
        is_count = original.kind == DocumentKind.adjustment
        new_line = StockDocumentLine(
            document_id=reversal.id,
            position=line.position,
            product_id=line.product_id,
            quantity=abs(line.moved or ZERO) if is_count else line.quantity,
            moved=-(line.moved or ZERO) if is_count else None,
            purchase_order_line_id=line.purchase_order_line_id,
            unit_cost=line.unit_cost,
        )
        session.add(new_line)
        new_lines[line.id] = new_line
    await session.flush()
    position = {line.id: i for i, line in enumerate(old_lines)}
    moves = [
        _Move(
            new_lines[m.document_line_id] if m.document_line_id else old_lines[0],
            m.warehouse_id,
            -m.quantity,
            f"lines.{position.get(m.document_line_id or 0, 0)}.quantity",
        )
        for m in original_moves
    ]
    await _book(session, actor, reversal, moves, {}, check=None)
    reversal.status, reversal.validated_by, reversal.validated_at = (
        DocumentStatus.validated.value,
        actor.user_id,
        utcnow(),
    )
    before = _fields(original, DOCUMENT_FIELDS)
    original.status = DocumentStatus.reversed.value
    await session.flush()
    products = {m.line.product_id for m in moves}
    _record(session, actor.user_id, reversal, "created", {}, reverses_id=original.id)
    _record(
        session,
        actor.user_id,
        reversal,
        "validated",
        {},
        product_ids=sorted(products),
        warehouse_ids=sorted({m.warehouse_id for m in moves}),
    )
    _record(session, actor.user_id, original, "reversed", before, reversed_by_id=reversal.id)
    if original.kind == DocumentKind.receipt and original.purchase_order_id is not None:
        from crm_server.purchasing import service as purchasing  # builds on stock: imported late, no cycle

        await purchasing.receipt_reversed(session, actor, reversal)
    await ledger.watch_low(session, products)
    return reversal


# --- reservations --------------------------------------------------------------------------------


async def _reservation(
    session: AsyncSession, source_type: str, source_id: int, product_id: int, warehouse_id: int, *, lock: bool = False
) -> StockReservation | None:
    stmt = select(StockReservation).where(
        StockReservation.source_type == source_type,
        StockReservation.source_id == source_id,
        StockReservation.product_id == product_id,
        StockReservation.warehouse_id == warehouse_id,
    )
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.scalars(stmt)).one_or_none()


async def _reduce_reservation(session: AsyncSession, reservation: StockReservation, quantity: Decimal) -> None:
    if quantity >= reservation.quantity:
        await session.delete(reservation)
    else:
        reservation.quantity -= quantity
        reservation.updated_at = utcnow()
    await session.flush()


def _reservation_out(row: Any) -> ReservationOut:
    reservation, sku, name = row
    return ReservationOut.model_validate(reservation).model_copy(update={"sku": sku, "product_name": name})


async def list_reservations(session: AsyncSession, query: ReservationQuery) -> Page[ReservationOut]:
    stmt = select(StockReservation, Product.sku, Product.name).join(Product, Product.id == StockReservation.product_id)
    for column, value in (
        (StockReservation.source_type, query.source_type),
        (StockReservation.source_id, query.source_id),
        (StockReservation.product_id, query.product_id),
        (StockReservation.warehouse_id, query.warehouse_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    return await paging.page(
        session, stmt, query.offset, query.limit, _reservation_out, (StockReservation.id.asc(),), whole_rows=True
    )


async def _held_by(session: AsyncSession, source_type: str, source_id: int) -> list[ReservationOut]:
    query = ReservationQuery(source_type=source_type, source_id=source_id, limit=1000)
    return (await list_reservations(session, query)).items


def _announce_reservations(
    session: AsyncSession, actor_id: int | None, source_type: str, source_id: int, action: str, product_ids: set[int]
) -> None:
    events.emit(
        session,
        module=MODULE,
        entity="stock_reservation",
        entity_id=source_id,
        action=action,
        actor_id=actor_id,
        data={"source_type": source_type, "product_ids": sorted(product_ids)},
    )


async def reserve(session: AsyncSession, actor: Principal | None, data: ReserveIn) -> list[ReservationOut]:
    """Hold stock for a document; beyond what is available is refused (naming the product and the
    available quantity) unless negative stock is allowed. Adds to what the document holds."""
    source_type = data.source_type.strip()
    await _warehouse(session, data.warehouse_id, "warehouse_id", active=True)
    await _checked_lines(
        session, "reservation", [DocumentLineIn(product_id=ln.product_id, quantity=ln.quantity) for ln in data.lines]
    )
    wanted: dict[int, Decimal] = defaultdict(Decimal)
    fields: dict[int, str] = {}
    for i, line in enumerate(data.lines):
        wanted[line.product_id] += line.quantity
        fields.setdefault(line.product_id, f"lines.{i}.quantity")
    await ledger.apply(session, [Change(p, data.warehouse_id, reserved=q, field=fields[p]) for p, q in wanted.items()])
    actor_id = actor.user_id if actor else None
    for product_id in sorted(wanted):
        stmt = insert(StockReservation).values(
            source_type=source_type,
            source_id=data.source_id,
            product_id=product_id,
            warehouse_id=data.warehouse_id,
            quantity=wanted[product_id],
            created_by=actor_id,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["source_type", "source_id", "product_id", "warehouse_id"],
            set_={"quantity": StockReservation.quantity + wanted[product_id], "updated_at": utcnow()},
        )
        reservation_id = await session.scalar(stmt.returning(StockReservation.id))
        audit.record(
            session,
            actor_id=actor_id,
            entity="stock_reservation",
            entity_id=int(reservation_id or 0),
            action="reserved",
            changes=[
                {"field": "quantity", "old": None, "new": str(wanted[product_id])},
                {"field": "source", "old": None, "new": f"{source_type} {data.source_id}"},
            ],
        )
    _announce_reservations(session, actor_id, source_type, data.source_id, "reserved", set(wanted))
    await ledger.watch_low(session, set(wanted))
    return await _held_by(session, source_type, data.source_id)


async def release(session: AsyncSession, actor: Principal | None, data: ReleaseIn) -> list[ReservationOut]:
    """Give back what a document holds (on cancel); answers what it still holds."""
    source_type = data.source_type.strip()
    stmt = select(StockReservation).where(
        StockReservation.source_type == source_type, StockReservation.source_id == data.source_id
    )
    if data.product_id is not None:
        stmt = stmt.where(StockReservation.product_id == data.product_id)
    if data.warehouse_id is not None:
        stmt = stmt.where(StockReservation.warehouse_id == data.warehouse_id)
    held = (await session.scalars(stmt.order_by(StockReservation.product_id, StockReservation.warehouse_id))).all()
    if data.quantity is not None and len(held) != 1:
        raise ValidationFailed("A quantity can be released only for one product in one warehouse.", field="quantity")
    actor_id = actor.user_id if actor else None
    products: set[int] = set()
    for found in held:
        key = (found.product_id, found.warehouse_id)
        await ledger.lock_level(session, *key)
        reservation = await _reservation(session, source_type, data.source_id, *key, lock=True)
        if reservation is None:
            continue
        quantity = min(data.quantity, reservation.quantity) if data.quantity is not None else reservation.quantity
        await ledger.apply(session, [Change(*key, reserved=-quantity)], check=False)
        audit.record(
            session,
            actor_id=actor_id,
            entity="stock_reservation",
            entity_id=reservation.id,
            action="released",
            changes=[
                {"field": "quantity", "old": str(reservation.quantity), "new": str(reservation.quantity - quantity)}
            ],
        )
        await _reduce_reservation(session, reservation, quantity)
        products.add(found.product_id)
    if products:
        _announce_reservations(session, actor_id, source_type, data.source_id, "released", products)
        await ledger.watch_low(session, products)
    return await _held_by(session, source_type, data.source_id)
