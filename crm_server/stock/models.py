"""Tables of the stock area. `stock_moves` is the ledger (append-only: a trigger refuses changes to
its figures and any delete); `stock_levels` is its per product and warehouse sum, kept in the same
transaction as the moves so lists never add up the ledger, and the row every stock change locks."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.clients.models import Versioned
from crm_server.db import Base, IdMixin, TimestampsMixin

QTY = Numeric(14, 3)


class Warehouse(IdMixin, TimestampsMixin, Versioned, Base):
    """A place that holds stock. Deactivated, never deleted: its moves keep pointing at it."""

    __tablename__ = "warehouses"
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    __table_args__ = (Index("uq_warehouses_name_lower", func.lower(text("name")), unique=True),)


class StockDocument(IdMixin, TimestampsMixin, Versioned, Base):
    """A receipt, delivery, transfer or inventory adjustment: a draft until validated, which alone
    moves stock; a validated one is undone by a reversal document (reverses_id), never edited."""

    __tablename__ = "stock_documents"
    number: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), server_default="draft")
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id", ondelete="RESTRICT"))
    to_warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id", ondelete="RESTRICT"))
    reference: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(String(500))
    notes: Mapped[str | None] = mapped_column(Text)
    # What the goods are for ("invoice", 42): a delivery consumes that document's reservations.
    source_type: Mapped[str | None] = mapped_column(String(30))
    source_id: Mapped[int | None] = mapped_column(BigInteger)
    purchase_order_id: Mapped[int | None] = mapped_column(ForeignKey("purchase_orders.id", ondelete="RESTRICT"))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("stock_documents.id", ondelete="RESTRICT"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    validated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    validated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        CheckConstraint("kind IN ('receipt', 'delivery', 'transfer', 'adjustment')", name="kind"),
        CheckConstraint("status IN ('draft', 'validated', 'reversed', 'cancelled')", name="status"),
        Index("uq_stock_documents_number", "number", unique=True),
        Index("uq_stock_documents_reverses_id", "reverses_id", unique=True),
        Index("ix_stock_documents_kind_status", "kind", "status"),
        Index("ix_stock_documents_warehouse_id", "warehouse_id"),
        Index("ix_stock_documents_to_warehouse_id", "to_warehouse_id"),
        Index("ix_stock_documents_purchase_order_id", "purchase_order_id"),
        Index("ix_stock_documents_source", "source_type", "source_id"),
        Index("ix_stock_documents_created_at", "created_at"),
    )


class StockDocumentLine(IdMixin, Base):
    """What a document moves of one product (an adjustment: the counted quantity; `moved` is the
    difference the validation booked)."""

    __tablename__ = "stock_document_lines"
    document_id: Mapped[int] = mapped_column(ForeignKey("stock_documents.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    quantity: Mapped[Decimal] = mapped_column(QTY)
    moved: Mapped[Decimal | None] = mapped_column(QTY)
    purchase_order_line_id: Mapped[int | None] = mapped_column(
        ForeignKey("purchase_order_lines.id", ondelete="RESTRICT")
    )
    unit_cost: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        Index("ix_stock_document_lines_document", "document_id", "position"),
        Index("ix_stock_document_lines_product_id", "product_id"),
        Index("ix_stock_document_lines_purchase_order_line_id", "purchase_order_line_id"),
    )


class StockMove(IdMixin, Base):
    """One signed change of one product in one warehouse, booked by a validated document."""

    __tablename__ = "stock_moves"
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id", ondelete="RESTRICT"))
    quantity: Mapped[Decimal] = mapped_column(QTY)
    document_id: Mapped[int] = mapped_column(ForeignKey("stock_documents.id", ondelete="RESTRICT"))
    document_type: Mapped[str] = mapped_column(String(20))
    document_line_id: Mapped[int | None] = mapped_column(ForeignKey("stock_document_lines.id", ondelete="RESTRICT"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        CheckConstraint("quantity <> 0", name="quantity_not_zero"),
        Index("ix_stock_moves_product", "product_id", "id"),
        Index("ix_stock_moves_warehouse_id", "warehouse_id"),
        Index("ix_stock_moves_document_id", "document_id"),
        Index("ix_stock_moves_document_line_id", "document_line_id"),
    )


class StockLevel(Base):
    """The sum of the moves of one product in one warehouse, and what is reserved of it."""

    __tablename__ = "stock_levels"
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"), primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id", ondelete="RESTRICT"), primary_key=True)
    on_hand: Mapped[Decimal] = mapped_column(QTY, server_default="0")
    reserved: Mapped[Decimal] = mapped_column(QTY, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        Index("ix_stock_levels_warehouse_id", "warehouse_id"),
        # The overview sorted by what is available (shortest first) reads this instead of sorting all rows.
        Index("ix_stock_levels_available", text("(on_hand - reserved)"), "product_id", "warehouse_id"),
    )


class StockReservation(IdMixin, TimestampsMixin, Base):
    """What a document (an order, an invoice) holds of a product in a warehouse until it is
    delivered or released."""

    __tablename__ = "stock_reservations"
    source_type: Mapped[str] = mapped_column(String(30))
    source_id: Mapped[int] = mapped_column(BigInteger)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id", ondelete="RESTRICT"))
    quantity: Mapped[Decimal] = mapped_column(QTY)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index(
            "uq_stock_reservations_source_product",
            "source_type",
            "source_id",
            "product_id",
            "warehouse_id",
            unique=True,
        ),
        Index("ix_stock_reservations_product", "product_id", "warehouse_id"),
    )


class StockProductSettings(TimestampsMixin, Base):
    """Stock-side settings of a product, kept here so the products area is left alone. `low_since`
    is set when the product's available stock falls below the threshold (the warehouse role is
    told then, once) and cleared when it is back at or above it."""

    __tablename__ = "stock_product_settings"
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    low_threshold: Mapped[Decimal | None] = mapped_column(QTY)
    low_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        CheckConstraint("low_threshold >= 0", name="low_threshold_not_negative"),
        Index("ix_stock_product_settings_low", "product_id", postgresql_where=text("low_since IS NOT NULL")),
    )
