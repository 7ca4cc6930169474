"""Purchase orders on the wire. A confirmed order's open quantities are the "incoming" figures of
the stock overview; receiving makes and validates a receipt document."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from crm_server.contract.common import After, Model
from crm_server.contract.stock import StockDocumentOut


class PurchaseStatus(StrEnum):
    draft = "draft"
    confirmed = "confirmed"
    partially_received = "partially_received"
    received = "received"
    cancelled = "cancelled"


# Ordered and not yet all received: these count as incoming stock.
OPEN_PURCHASE_STATUSES = (PurchaseStatus.confirmed, PurchaseStatus.partially_received)


class PurchaseAction(StrEnum):
    edit = "edit"  # every field and the lines
    edit_delivery = "edit_delivery"  # only the expected date, warehouse, reference and notes
    confirm = "confirm"  # the vendor has the order: its open quantities become incoming stock
    receive = "receive"  # goods in, by a validated receipt document
    cancel = "cancel"  # what was received stays received; the rest is no longer incoming


# What a purchase order may do in each status: the server refuses anything else.
_P = PurchaseAction
PURCHASE_ACTIONS: dict[PurchaseStatus, frozenset[PurchaseAction]] = {
    PurchaseStatus.draft: frozenset({_P.edit, _P.edit_delivery, _P.confirm, _P.cancel}),
    PurchaseStatus.confirmed: frozenset({_P.edit_delivery, _P.receive, _P.cancel}),
    PurchaseStatus.partially_received: frozenset({_P.edit_delivery, _P.receive, _P.cancel}),
    PurchaseStatus.received: frozenset(),
    PurchaseStatus.cancelled: frozenset(),
}


def purchase_allows(status: str, action: PurchaseAction) -> bool:
    """Whether PURCHASE_ACTIONS lets a purchase order in `status` take `action`."""
    return action in PURCHASE_ACTIONS[PurchaseStatus(status)]


class PurchaseLineIn(BaseModel):
    product_id: int
    quantity: Decimal = Field(gt=0, max_digits=14, decimal_places=3)
    unit_cost: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2, description="defaults to 0")
    description: str | None = Field(default=None, max_length=2000, description="defaults to the product's name")


class PurchaseOrderIn(BaseModel):
    """A draft may lack anything; confirming needs a vendor, a line and an expected date."""

    vendor_id: int | None = None
    warehouse_id: int | None = Field(
        default=None, description="where the goods are expected (receiving may choose another)"
    )
    expected_on: date | None = None
    currency: str | None = Field(default=None, description="ISO 4217; defaults to sales.base_currency")
    reference: str | None = Field(default=None, max_length=200, description="the vendor's order reference")
    notes: str | None = Field(default=None, max_length=5000)
    lines: list[PurchaseLineIn] = Field(default_factory=list, max_length=1000)


class PurchaseOrderUpdate(BaseModel):
    """A draft takes every change (`lines` replace all lines); a confirmed order only its expected
    date, warehouse, reference and notes."""

    version: int
    vendor_id: int | None = None
    warehouse_id: int | None = None
    expected_on: date | None = None
    currency: str | None = None
    reference: str | None = Field(default=None, max_length=200)
    notes: str | None = Field(default=None, max_length=5000)
    lines: list[PurchaseLineIn] | None = Field(default=None, max_length=1000)


class ReceiveLineIn(BaseModel):
    line_id: int
    quantity: Decimal = Field(gt=0, max_digits=14, decimal_places=3)


class ReceiveIn(BaseModel):
    """Receive these quantities now into `warehouse_id` (default: the order's warehouse); the rest
    stays open."""

    version: int
    warehouse_id: int | None = None
    reference: str | None = Field(default=None, max_length=200, description="the vendor's delivery note")
    lines: list[ReceiveLineIn] = Field(min_length=1, max_length=1000)


class PurchaseLineOut(Model):
    id: int
    position: int
    product_id: int
    sku: str = ""
    product_name: str = ""
    unit: str = ""
    description: str
    quantity: Decimal
    unit_cost: Decimal
    received: Decimal
    remaining: Decimal = Decimal(0)
    total: Decimal = Decimal(0)


class PurchaseOrderOut(Model):
    id: int
    number: str
    status: PurchaseStatus
    vendor_id: int | None
    vendor_name: str | None = None
    warehouse_id: int | None
    warehouse_name: str | None = None
    expected_on: date | None
    currency: str
    reference: str | None
    notes: str | None
    total: Decimal
    created_by: int | None
    confirmed_at: datetime | None
    received_at: datetime | None
    cancelled_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    line_count: int = Field(default=0, description="how many lines the order has")
    lines_received: int = Field(default=0, description="how many of them are received in full")
    lines: list[PurchaseLineOut] = Field(default_factory=list, description="empty in a list page")


class ReceiveOut(Model):
    order: PurchaseOrderOut
    receipt: StockDocumentOut


class PurchaseOrderQuery(BaseModel):
    status: PurchaseStatus | None = None
    open_only: bool = Field(default=False, description="confirmed or partially received")
    vendor_id: int | None = None
    product_id: int | None = None
    q: str | None = Field(default=None, description="number, reference or vendor name")
    sort: Literal[
        "number", "-number", "expected_on", "-expected_on", "created_at", "-created_at", "total", "-total"
    ] = "-created_at"
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=50, ge=1, le=500)
    after: After = None
