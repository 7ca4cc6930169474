"""Tables of the purchasing area: purchase orders and their lines."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.clients.models import Versioned
from crm_server.db import Base, IdMixin, TimestampsMixin


class PurchaseOrder(IdMixin, TimestampsMixin, Versioned, Base):
    """An order to a vendor (a client flagged is_vendor). Confirmed and partially received orders
    are the stock overview's incoming quantities."""

    __tablename__ = "purchase_orders"
    number: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), server_default="draft")
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="RESTRICT"))
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id", ondelete="RESTRICT"))
    expected_on: Mapped[date | None] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2), server_default="0")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        CheckConstraint(
            "status IN ('draft', 'confirmed', 'partially_received', 'received', 'cancelled')", name="status"
        ),
        Index("uq_purchase_orders_number", "number", unique=True),
        Index("ix_purchase_orders_vendor_id", "vendor_id"),
        Index("ix_purchase_orders_warehouse_id", "warehouse_id"),
        Index("ix_purchase_orders_status", "status", "expected_on"),
        Index("ix_purchase_orders_created_at", "created_at"),
        Index("ix_purchase_orders_open", "id", postgresql_where=text("status IN ('confirmed', 'partially_received')")),
    )


class PurchaseOrderLine(IdMixin, Base):
    __tablename__ = "purchase_order_lines"
    order_id: Mapped[int] = mapped_column(ForeignKey("purchase_orders.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    unit_cost: Mapped[Decimal] = mapped_column(Numeric(14, 2), server_default="0")
    received: Mapped[Decimal] = mapped_column(Numeric(14, 3), server_default="0")
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("received >= 0 AND received <= quantity", name="received_range"),
        Index("ix_purchase_order_lines_order", "order_id", "position"),
        Index("ix_purchase_order_lines_product_id", "product_id"),
    )
