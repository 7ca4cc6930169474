"""Sales orders on the wire: orders that come from the web shop (WooCommerce), read-only in the CRM.
Money is Decimal (strings in JSON); quantities have three decimals like stock."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from crm_server.contract.common import After, Model


class OrderStatus(StrEnum):
    draft = "draft"  # a store status the CRM does not know (e.g. checkout-draft)
    pending = "pending"  # awaiting payment
    processing = "processing"  # paid, to be shipped: holds its stock
    on_hold = "on_hold"
    completed = "completed"  # shipped: its stock delivered
    cancelled = "cancelled"
    refunded = "refunded"
    failed = "failed"


STATUS_LABELS = {
    "draft": "Draft",
    "pending": "Pending",
    "processing": "Processing",
    "on_hold": "On hold",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "refunded": "Refunded",
    "failed": "Failed",
}


class StockState(StrEnum):
    """What the order did to stock (see orders.fulfilment)."""

    none = "none"  # nothing held or delivered (not processing yet, or no stock-tracked lines)
    reserved = "reserved"  # its stock-tracked lines are held in a warehouse
    delivered = "delivered"  # a validated delivery took the goods out
    released = "released"  # what it held was given back (cancelled, refunded, failed)
    short = "short"  # holding or delivering was refused (not enough stock): stock_note says what


STOCK_LABELS = {
    "none": "Nothing held",
    "reserved": "Stock reserved",
    "delivered": "Delivered",
    "released": "Released",
    "short": "Not enough stock",
}


class OrderLineOut(Model):
    id: int
    position: int
    product_id: int
    sku: str
    name: str
    quantity: Decimal
    unit_price: Decimal
    line_total: Decimal


class SkippedLineOut(Model):
    """A store line the CRM could not take (no SKU): kept on the order so a person sees it."""

    name: str
    quantity: Decimal
    line_total: Decimal
    reason: str


class HeldOut(Model):
    """Stock the order holds now, per product and warehouse."""

    product_id: int
    sku: str
    product_name: str
    warehouse_id: int
    warehouse_name: str = ""
    quantity: Decimal


class OrderOut(Model):
    id: int
    number: str
    status: OrderStatus
    client_id: int
    client_name: str | None = None
    client_email: str | None = None
    currency: str
    total: Decimal
    total_tax: Decimal
    shipping_total: Decimal
    discount_total: Decimal
    source: str  # "woocommerce"
    external_id: str  # the store's order id
    external_number: str  # the number the store shows its customer
    external_modified_at: datetime  # the store's last change this order reflects (older ones are ignored)
    stock_state: StockState
    stock_note: str | None = None
    delivery_id: int | None = None  # the stock delivery of a completed order
    owner_id: int | None
    team_id: int | None
    version: int
    created_at: datetime
    updated_at: datetime
    line_count: int = 0
    skipped_lines: list[SkippedLineOut] = Field(default_factory=list)
    lines: list[OrderLineOut] = Field(default_factory=list)  # only when one order is read
    held: list[HeldOut] = Field(default_factory=list)  # only when one order is read


class OrderQuery(BaseModel):
    status: OrderStatus | None = None
    stock_state: StockState | None = None
    client_id: int | None = None
    q: str | None = Field(default=None, max_length=200, description="number, store number or client contains")
    sort: Literal[
        "created_at",
        "-created_at",
        "number",
        "-number",
        "total",
        "-total",
        "external_modified_at",
        "-external_modified_at",
    ] = "-created_at"
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=100, ge=1, le=500)
    after: After = None
