"""Stock on the wire: warehouses, stock documents, the ledger of moves, balances and reservations.
Quantities are Decimal with three decimals (strings in JSON); none is ever typed in as a balance:
every figure is derived from the moves that validated documents made."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from crm_server.contract.common import After, Model


class DocumentKind(StrEnum):
    receipt = "receipt"  # goods in, into `warehouse_id`
    delivery = "delivery"  # goods out, from `warehouse_id`
    transfer = "transfer"  # from `warehouse_id` to `to_warehouse_id`
    adjustment = "adjustment"  # a count in `warehouse_id`: moves the difference


class DocumentStatus(StrEnum):
    draft = "draft"  # lines editable, no stock moved
    validated = "validated"  # stock moved; never edited again
    reversed = "reversed"  # validated, then undone by a reversal document (reversed_by_id)
    cancelled = "cancelled"  # a draft given up


class DocumentAction(StrEnum):
    edit = "edit"
    validate = "validate"  # move the stock
    cancel = "cancel"  # give the draft up
    reverse = "reverse"  # undo by a reversal document (not for a reversal itself)


# What a stock document may do in each status: the server refuses anything else.
DOCUMENT_ACTIONS: dict[DocumentStatus, frozenset[DocumentAction]] = {
    DocumentStatus.draft: frozenset({DocumentAction.edit, DocumentAction.validate, DocumentAction.cancel}),
    DocumentStatus.validated: frozenset({DocumentAction.reverse}),
    DocumentStatus.reversed: frozenset(),
    DocumentStatus.cancelled: frozenset(),
}


def document_allows(status: str, action: DocumentAction) -> bool:
    """Whether DOCUMENT_ACTIONS lets a stock document in `status` take `action`."""
    return action in DOCUMENT_ACTIONS[DocumentStatus(status)]


# --- warehouses ----------------------------------------------------------------------------------


class WarehouseIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    address: str | None = Field(default=None, max_length=2000)
    active: bool = True


class WarehouseUpdate(BaseModel):
    version: int
    name: str | None = Field(default=None, min_length=1, max_length=200)
    address: str | None = Field(default=None, max_length=2000)
    active: bool | None = None


class WarehouseOut(Model):
    id: int
    name: str
    address: str | None
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime


# --- documents -----------------------------------------------------------------------------------


class DocumentLineIn(BaseModel):
    """For an adjustment `quantity` is the counted quantity (may be 0); otherwise what moves (> 0)."""

    product_id: int
    quantity: Decimal = Field(ge=0, max_digits=14, decimal_places=3)


class StockDocumentIn(BaseModel):
    kind: DocumentKind
    warehouse_id: int | None = Field(
        default=None, description="receipt: destination; delivery, transfer: source; adjustment: the counted warehouse"
    )
    to_warehouse_id: int | None = Field(default=None, description="transfer destination")
    reference: str | None = Field(default=None, max_length=200, description="e.g. the vendor's delivery note")
    reason: str | None = Field(default=None, max_length=500, description="why (adjustments need one)")
    notes: str | None = Field(default=None, max_length=5000)
    source_type: str | None = Field(
        default=None,
        max_length=30,
        description="what the goods are for (e.g. 'invoice'): a delivery consumes that document's reservations",
    )
    source_id: int | None = None
    lines: list[DocumentLineIn] = Field(default_factory=list, max_length=1000)


class StockDocumentUpdate(BaseModel):
    """A draft's changes; `lines`, when given, replace all lines."""

    version: int
    warehouse_id: int | None = None
    to_warehouse_id: int | None = None
    reference: str | None = Field(default=None, max_length=200)
    reason: str | None = Field(default=None, max_length=500)
    notes: str | None = Field(default=None, max_length=5000)
    source_type: str | None = Field(default=None, max_length=30)
    source_id: int | None = None
    lines: list[DocumentLineIn] | None = Field(default=None, max_length=1000)


class DocumentLineOut(Model):
    id: int
    position: int
    product_id: int
    sku: str = ""
    product_name: str = ""
    unit: str = ""
    quantity: Decimal
    moved: Decimal | None = Field(default=None, description="adjustments: the difference moved on validation")
    purchase_order_line_id: int | None = None
    unit_cost: Decimal | None = None


class StockDocumentOut(Model):
    id: int
    number: str
    kind: DocumentKind
    status: DocumentStatus
    warehouse_id: int | None
    warehouse_name: str | None = None
    to_warehouse_id: int | None
    to_warehouse_name: str | None = None
    reference: str | None
    reason: str | None
    notes: str | None
    source_type: str | None
    source_id: int | None
    purchase_order_id: int | None
    reverses_id: int | None
    reversed_by_id: int | None = None
    created_by: int | None
    validated_by: int | None
    validated_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    lines: list[DocumentLineOut] = Field(default_factory=list)


class DocumentQuery(BaseModel):
    kind: DocumentKind | None = None
    status: DocumentStatus | None = None
    warehouse_id: int | None = Field(default=None, description="either end of the document")
    product_id: int | None = None
    purchase_order_id: int | None = None
    q: str | None = Field(default=None, description="number or reference")
    sort: Literal["created_at", "-created_at", "number", "-number", "validated_at", "-validated_at"] = "-created_at"
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=50, ge=1, le=500)
    after: After = None


# --- balances, history ---------------------------------------------------------------------------


class LevelOut(Model):
    """One product in one warehouse. available = on_hand - reserved; incoming = ordered but not yet
    received on confirmed purchase orders delivering to this warehouse."""

    product_id: int
    sku: str
    product_name: str
    unit: str
    warehouse_id: int
    warehouse_name: str
    on_hand: Decimal
    reserved: Decimal
    available: Decimal
    incoming: Decimal
    low_threshold: Decimal | None = None
    low: bool = Field(default=False, description="the product's total available is below its threshold")


class LevelQuery(BaseModel):
    warehouse_id: int | None = None
    product_id: int | None = None
    q: str | None = Field(default=None, description="SKU or name, anywhere")
    low_only: bool = False
    nonzero_only: bool = Field(default=False, description="hide rows with nothing on hand, reserved or incoming")
    sort: Literal[
        "sku",
        "-sku",
        "name",
        "-name",
        "warehouse",
        "-warehouse",
        "on_hand",
        "-on_hand",
        "reserved",
        "-reserved",
        "available",
        "-available",
    ] = "name"
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=100, ge=1, le=1000)
    after: After = None


class LowStockOut(Model):
    """A product whose available quantity (all warehouses) is below its threshold."""

    product_id: int
    sku: str
    product_name: str
    unit: str
    low_threshold: Decimal
    on_hand: Decimal
    reserved: Decimal
    available: Decimal
    incoming: Decimal
    low_since: datetime | None


class WarehouseLevel(Model):
    warehouse_id: int
    warehouse_name: str
    on_hand: Decimal
    reserved: Decimal
    available: Decimal
    incoming: Decimal


class ProductStockOut(Model):
    """A product's stock at a glance (barcode lookup, the product's stock tab)."""

    product_id: int
    sku: str
    name: str
    unit: str
    stock_tracked: bool
    active: bool
    on_hand: Decimal
    reserved: Decimal
    available: Decimal
    incoming: Decimal
    low_threshold: Decimal | None
    low: bool
    warehouses: list[WarehouseLevel]


class ProductStockSettingsIn(BaseModel):
    """None removes the threshold (no low-stock warnings for this product)."""

    low_threshold: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=3)


class MoveOut(Model):
    """One ledger move with the running quantities after it (over all warehouses, and in its own)."""

    id: int
    at: datetime
    product_id: int
    warehouse_id: int
    warehouse_name: str
    quantity: Decimal
    running_total: Decimal
    running_warehouse: Decimal
    document_id: int
    document_type: DocumentKind
    document_number: str
    document_line_id: int | None
    created_by: int | None
    created_by_name: str | None


class HistoryQuery(BaseModel):
    warehouse_id: int | None = None
    newest_first: bool = False
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=100, ge=1, le=1000)
    after: After = None


# --- reservations --------------------------------------------------------------------------------


class ReservationLineIn(BaseModel):
    product_id: int
    quantity: Decimal = Field(gt=0, max_digits=14, decimal_places=3)


class ReserveIn(BaseModel):
    """Reserve for a document (e.g. source_type 'invoice', source_id 42); added to what it holds."""

    source_type: str = Field(min_length=1, max_length=30)
    source_id: int
    warehouse_id: int
    lines: list[ReservationLineIn] = Field(min_length=1, max_length=1000)


class ReleaseIn(BaseModel):
    """Give back what a document holds: everything, or only `product_id` (all of it, or `quantity`)."""

    source_type: str = Field(min_length=1, max_length=30)
    source_id: int
    product_id: int | None = None
    warehouse_id: int | None = None
    quantity: Decimal | None = Field(default=None, gt=0, max_digits=14, decimal_places=3)


class ReservationOut(Model):
    id: int
    source_type: str
    source_id: int
    product_id: int
    sku: str = ""
    product_name: str = ""
    warehouse_id: int
    quantity: Decimal
    created_by: int | None
    created_at: datetime
    updated_at: datetime


class ReservationQuery(BaseModel):
    source_type: str | None = None
    source_id: int | None = None
    product_id: int | None = None
    warehouse_id: int | None = None
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=100, ge=1, le=1000)
