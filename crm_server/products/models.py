"""Tables of the products area: VAT rates and the products and services they apply to."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, Computed, ForeignKey, Index, Numeric, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.clients.models import Versioned
from crm_server.db import Base, IdMixin, TimestampsMixin

PRODUCT_SEARCH = "lower(sku || ' ' || name)"


class TaxRate(IdMixin, TimestampsMixin, Versioned, Base):
    """A named VAT rate ("Standard 19%"). Deactivated, never deleted: old invoices keep pointing at it."""

    __tablename__ = "tax_rates"
    name: Mapped[str] = mapped_column(String(100))
    rate: Mapped[Decimal] = mapped_column(Numeric(6, 3))  # percent: 19.000
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    __table_args__ = (Index("uq_tax_rates_name_lower", func.lower(text("name")), unique=True),)


class Product(IdMixin, TimestampsMixin, Versioned, Base):
    """A product or service. Deactivated, never deleted: proposals and invoices keep pointing at it."""

    __tablename__ = "products"
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(String(20), server_default="pcs")
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    tax_rate_id: Mapped[int] = mapped_column(ForeignKey("tax_rates.id", ondelete="RESTRICT"))
    stock_tracked: Mapped[bool] = mapped_column(Boolean, server_default="false")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The import that created or last updated it (imports/ reverts by it).
    import_batch_id: Mapped[int | None] = mapped_column(BigInteger)
    search_text: Mapped[str] = mapped_column(Text, Computed(PRODUCT_SEARCH, persisted=True))
    __table_args__ = (
        # "ab-1" and "AB-1" are the same SKU: the index, not only the service, says so.
        Index("uq_products_sku_lower", func.lower(text("sku")), unique=True),
        Index("ix_products_tax_rate_id", "tax_rate_id"),
        Index("ix_products_name", "name"),
        Index(
            "ix_products_search_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
    )
