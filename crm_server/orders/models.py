"""Tables of the sales orders area: orders taken in the web shop and their lines."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, Numeric, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.clients.models import Versioned
from crm_server.db import Base, IdMixin, TimestampsMixin

MONEY = Numeric(14, 2)


class SalesOrder(IdMixin, TimestampsMixin, Versioned, Base):
    """An order from a store, one per (source, external_id). `external_modified_at` is the store's
    last change the order reflects: an older state arriving late never overwrites a newer one."""

    __tablename__ = "sales_orders"
    number: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(20), server_default="draft")
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="RESTRICT"))
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(MONEY, server_default="0")
    total_tax: Mapped[Decimal] = mapped_column(MONEY, server_default="0")
    shipping_total: Mapped[Decimal] = mapped_column(MONEY, server_default="0")
    discount_total: Mapped[Decimal] = mapped_column(MONEY, server_default="0")
    # Store lines the CRM could not take (no SKU): [{"name", "quantity", "line_total", "reason"}].
    skipped_lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    source: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(50))
    external_number: Mapped[str] = mapped_column(String(50))
    external_modified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stock_state: Mapped[str] = mapped_column(String(20), server_default="none")
    stock_note: Mapped[str | None] = mapped_column(Text)
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("stock_documents.id", ondelete="SET NULL"))
    # Copied from the client: whoever owns the client sees its orders (own / team scope).
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    __table_args__ = (
        CheckConstraint(
            "status IN ('draft', 'pending', 'processing', 'on_hold', 'completed', 'cancelled', 'refunded', 'failed')",
            name="status",
        ),
        CheckConstraint("stock_state IN ('none', 'reserved', 'delivered', 'released', 'short')", name="stock_state"),
        Index("uq_sales_orders_source_external", "source", "external_id", unique=True),
        Index("uq_sales_orders_number", "number", unique=True),
        Index("ix_sales_orders_client_id", "client_id"),
        Index("ix_sales_orders_status_created", "status", "created_at"),
        Index("ix_sales_orders_owner_created", "owner_id", "created_at"),
        Index("ix_sales_orders_team_id", "team_id"),
        Index("ix_sales_orders_created_at", "created_at"),
        Index("ix_sales_orders_delivery_id", "delivery_id"),
    )


class SalesOrderLine(IdMixin, Base):
    """A line the CRM could match to a product (by SKU); name and price as the store sold them."""

    __tablename__ = "sales_order_lines"
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_orders.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    line_total: Mapped[Decimal] = mapped_column(MONEY)
    __table_args__ = (
        Index("ix_sales_order_lines_order", "order_id", "position"),
        Index("ix_sales_order_lines_product_id", "product_id"),
    )
