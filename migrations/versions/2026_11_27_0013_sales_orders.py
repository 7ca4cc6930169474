"""Sales orders from the web shop (WooCommerce) and their lines; the "orders" permission module,
granted to every role as it holds invoices.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sales_orders",
        sa.Column("number", sa.String(length=60), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="draft", nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", sa.Numeric(precision=14, scale=2), server_default="0", nullable=False),
        sa.Column("total_tax", sa.Numeric(precision=14, scale=2), server_default="0", nullable=False),
        sa.Column("shipping_total", sa.Numeric(precision=14, scale=2), server_default="0", nullable=False),
        sa.Column("discount_total", sa.Numeric(precision=14, scale=2), server_default="0", nullable=False),
        sa.Column(
            "skipped_lines",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=50), nullable=False),
        sa.Column("external_number", sa.String(length=50), nullable=False),
        sa.Column("external_modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stock_state", sa.String(length=20), server_default="none", nullable=False),
        sa.Column("stock_note", sa.Text(), nullable=True),
        sa.Column("delivery_id", sa.BigInteger(), nullable=True),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("team_id", sa.BigInteger(), nullable=True),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'pending', 'processing', 'on_hold', 'completed', 'cancelled', 'refunded', 'failed')",
            name=op.f("ck_sales_orders_status"),
        ),
        sa.CheckConstraint(
            "stock_state IN ('none', 'reserved', 'delivered', 'released', 'short')",
            name=op.f("ck_sales_orders_stock_state"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_sales_orders_client_id_clients"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["stock_documents.id"],
            name=op.f("fk_sales_orders_delivery_id_stock_documents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_sales_orders_owner_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_sales_orders_team_id_teams"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_orders")),
    )
    op.create_index("uq_sales_orders_source_external", "sales_orders", ["source", "external_id"], unique=True)
    op.create_index("uq_sales_orders_number", "sales_orders", ["number"], unique=True)
    op.create_index("ix_sales_orders_client_id", "sales_orders", ["client_id"], unique=False)
    op.create_index("ix_sales_orders_status_created", "sales_orders", ["status", "created_at"], unique=False)
    op.create_index("ix_sales_orders_owner_created", "sales_orders", ["owner_id", "created_at"], unique=False)
    op.create_index("ix_sales_orders_team_id", "sales_orders", ["team_id"], unique=False)
    op.create_index("ix_sales_orders_created_at", "sales_orders", ["created_at"], unique=False)
    op.create_index("ix_sales_orders_delivery_id", "sales_orders", ["delivery_id"], unique=False)
    op.create_table(
        "sales_order_lines",
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("line_total", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["sales_orders.id"],
            name=op.f("fk_sales_order_lines_order_id_sales_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_sales_order_lines_product_id_products"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_order_lines")),
    )
    op.create_index("ix_sales_order_lines_order", "sales_order_lines", ["order_id", "position"], unique=False)
    op.create_index("ix_sales_order_lines_product_id", "sales_order_lines", ["product_id"], unique=False)
    # Who held invoices holds sales orders the same way (a role that has "orders" already keeps it).
    op.execute(
        "UPDATE roles SET permissions = permissions || jsonb_build_object('orders', permissions -> 'invoices') "
        "WHERE permissions ? 'invoices' AND NOT permissions ? 'orders'"
    )


def downgrade() -> None:
    op.execute("UPDATE roles SET permissions = permissions - 'orders'")
    op.drop_index("ix_sales_order_lines_product_id", table_name="sales_order_lines")
    op.drop_index("ix_sales_order_lines_order", table_name="sales_order_lines")
    op.drop_table("sales_order_lines")
    op.drop_index("ix_sales_orders_delivery_id", table_name="sales_orders")
    op.drop_index("ix_sales_orders_created_at", table_name="sales_orders")
    op.drop_index("ix_sales_orders_team_id", table_name="sales_orders")
    op.drop_index("ix_sales_orders_owner_created", table_name="sales_orders")
    op.drop_index("ix_sales_orders_status_created", table_name="sales_orders")
    op.drop_index("ix_sales_orders_client_id", table_name="sales_orders")
    op.drop_index("uq_sales_orders_number", table_name="sales_orders")
    op.drop_index("uq_sales_orders_source_external", table_name="sales_orders")
    op.drop_table("sales_orders")
