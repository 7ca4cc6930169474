"""Products and services, and the named VAT rates they carry (seeded with four common rates).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 12:00:00
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

DEFAULT_RATES = [("Standard 19%", "19.000"), ("Reduced 9%", "9.000"), ("Reduced 5%", "5.000"), ("Exempt 0%", "0.000")]


def upgrade() -> None:
    tax_rates = op.create_table(
        "tax_rates",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("rate", sa.Numeric(precision=6, scale=3), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_rates")),
    )
    op.create_index("uq_tax_rates_name_lower", "tax_rates", [sa.text("lower(name)")], unique=True)
    op.create_table(
        "products",
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("unit", sa.String(length=20), server_default="pcs", nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("tax_rate_id", sa.BigInteger(), nullable=False),
        sa.Column("stock_tracked", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("search_text", sa.Text(), sa.Computed("lower(sku || ' ' || name)", persisted=True), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_products_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["tax_rate_id"], ["tax_rates.id"], name=op.f("fk_products_tax_rate_id_tax_rates"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
    )
    op.create_index("uq_products_sku_lower", "products", [sa.text("lower(sku)")], unique=True)
    op.create_index("ix_products_tax_rate_id", "products", ["tax_rate_id"], unique=False)
    op.create_index("ix_products_name", "products", ["name"], unique=False)
    op.create_index(
        "ix_products_search_trgm",
        "products",
        ["search_text"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )
    # A fresh install can sell at once; admins rename, add or deactivate rates later.
    op.bulk_insert(tax_rates, [{"name": name, "rate": Decimal(rate)} for name, rate in DEFAULT_RATES])


def downgrade() -> None:
    op.drop_index(
        "ix_products_search_trgm",
        table_name="products",
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )
    op.drop_index("ix_products_name", table_name="products")
    op.drop_index("ix_products_tax_rate_id", table_name="products")
    op.drop_index("uq_products_sku_lower", table_name="products")
    op.drop_table("products")
    op.drop_index("uq_tax_rates_name_lower", table_name="tax_rates")
    op.drop_table("tax_rates")
