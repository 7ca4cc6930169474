"""Stock (warehouses, documents, the ledger of moves, levels, reservations, product stock settings)
and purchasing (purchase orders and lines).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "warehouses",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warehouses")),
    )
    op.create_index("uq_warehouses_name_lower", "warehouses", [sa.literal_column("lower(name)")], unique=True)
    op.create_table(
        "purchase_orders",
        sa.Column("number", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="draft", nullable=False),
        sa.Column("vendor_id", sa.BigInteger(), nullable=True),
        sa.Column("warehouse_id", sa.BigInteger(), nullable=True),
        sa.Column("expected_on", sa.Date(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("total", sa.Numeric(precision=14, scale=2), server_default="0", nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'confirmed', 'partially_received', 'received', 'cancelled')",
            name=op.f("ck_purchase_orders_status"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_purchase_orders_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["clients.id"], name=op.f("fk_purchase_orders_vendor_id_clients"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_purchase_orders_warehouse_id_warehouses"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_orders")),
    )
    op.create_index("ix_purchase_orders_created_at", "purchase_orders", ["created_at"], unique=False)
    op.create_index(
        "ix_purchase_orders_open",
        "purchase_orders",
        ["id"],
        unique=False,
        postgresql_where=sa.text("status IN ('confirmed', 'partially_received')"),
    )
    op.create_index("ix_purchase_orders_status", "purchase_orders", ["status", "expected_on"], unique=False)
    op.create_index("ix_purchase_orders_vendor_id", "purchase_orders", ["vendor_id"], unique=False)
    op.create_index("ix_purchase_orders_warehouse_id", "purchase_orders", ["warehouse_id"], unique=False)
    op.create_index("uq_purchase_orders_number", "purchase_orders", ["number"], unique=True)
    op.create_table(
        "stock_levels",
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("warehouse_id", sa.BigInteger(), nullable=False),
        sa.Column("on_hand", sa.Numeric(precision=14, scale=3), server_default="0", nullable=False),
        sa.Column("reserved", sa.Numeric(precision=14, scale=3), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("reserved >= 0", name=op.f("ck_stock_levels_reserved_not_negative")),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_stock_levels_product_id_products"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_stock_levels_warehouse_id_warehouses"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("product_id", "warehouse_id", name=op.f("pk_stock_levels")),
    )
    op.create_index("ix_stock_levels_warehouse_id", "stock_levels", ["warehouse_id"], unique=False)
    op.create_index(
        "ix_stock_levels_available",
        "stock_levels",
        [sa.literal_column("(on_hand - reserved)"), "product_id", "warehouse_id"],
        unique=False,
    )
    op.create_table(
        "stock_product_settings",
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("low_threshold", sa.Numeric(precision=14, scale=3), nullable=True),
        sa.Column("low_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("low_threshold >= 0", name=op.f("ck_stock_product_settings_low_threshold_not_negative")),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_stock_product_settings_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_stock_product_settings")),
    )
    op.create_index(
        "ix_stock_product_settings_low",
        "stock_product_settings",
        ["product_id"],
        unique=False,
        postgresql_where=sa.text("low_since IS NOT NULL"),
    )
    op.create_table(
        "stock_reservations",
        sa.Column("source_type", sa.String(length=30), nullable=False),
        sa.Column("source_id", sa.BigInteger(), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("warehouse_id", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_stock_reservations_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_stock_reservations_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_stock_reservations_product_id_products"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_stock_reservations_warehouse_id_warehouses"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_reservations")),
    )
    op.create_index("ix_stock_reservations_product", "stock_reservations", ["product_id", "warehouse_id"], unique=False)
    op.create_index(
        "uq_stock_reservations_source_product",
        "stock_reservations",
        ["source_type", "source_id", "product_id", "warehouse_id"],
        unique=True,
    )
    op.create_table(
        "purchase_order_lines",
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("unit_cost", sa.Numeric(precision=14, scale=2), server_default="0", nullable=False),
        sa.Column("received", sa.Numeric(precision=14, scale=3), server_default="0", nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_purchase_order_lines_quantity_positive")),
        sa.CheckConstraint(
            "received >= 0 AND received <= quantity", name=op.f("ck_purchase_order_lines_received_range")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["purchase_orders.id"],
            name=op.f("fk_purchase_order_lines_order_id_purchase_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_purchase_order_lines_product_id_products"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_order_lines")),
    )
    op.create_index("ix_purchase_order_lines_order", "purchase_order_lines", ["order_id", "position"], unique=False)
    op.create_index("ix_purchase_order_lines_product_id", "purchase_order_lines", ["product_id"], unique=False)
    op.create_table(
        "stock_documents",
        sa.Column("number", sa.String(length=50), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="draft", nullable=False),
        sa.Column("warehouse_id", sa.BigInteger(), nullable=True),
        sa.Column("to_warehouse_id", sa.BigInteger(), nullable=True),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("source_type", sa.String(length=30), nullable=True),
        sa.Column("source_id", sa.BigInteger(), nullable=True),
        sa.Column("purchase_order_id", sa.BigInteger(), nullable=True),
        sa.Column("reverses_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("validated_by", sa.BigInteger(), nullable=True),
        sa.Column("validated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "kind IN ('receipt', 'delivery', 'transfer', 'adjustment')", name=op.f("ck_stock_documents_kind")
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'validated', 'reversed', 'cancelled')", name=op.f("ck_stock_documents_status")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_stock_documents_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["purchase_order_id"],
            ["purchase_orders.id"],
            name=op.f("fk_stock_documents_purchase_order_id_purchase_orders"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["reverses_id"],
            ["stock_documents.id"],
            name=op.f("fk_stock_documents_reverses_id_stock_documents"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["to_warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_stock_documents_to_warehouse_id_warehouses"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["validated_by"], ["users.id"], name=op.f("fk_stock_documents_validated_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_stock_documents_warehouse_id_warehouses"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_documents")),
    )
    op.create_index("ix_stock_documents_created_at", "stock_documents", ["created_at"], unique=False)
    op.create_index("ix_stock_documents_kind_status", "stock_documents", ["kind", "status"], unique=False)
    op.create_index("ix_stock_documents_purchase_order_id", "stock_documents", ["purchase_order_id"], unique=False)
    op.create_index("ix_stock_documents_source", "stock_documents", ["source_type", "source_id"], unique=False)
    op.create_index("ix_stock_documents_to_warehouse_id", "stock_documents", ["to_warehouse_id"], unique=False)
    op.create_index("ix_stock_documents_warehouse_id", "stock_documents", ["warehouse_id"], unique=False)
    op.create_index("uq_stock_documents_number", "stock_documents", ["number"], unique=True)
    op.create_index("uq_stock_documents_reverses_id", "stock_documents", ["reverses_id"], unique=True)
    op.create_table(
        "stock_document_lines",
        sa.Column("document_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("moved", sa.Numeric(precision=14, scale=3), nullable=True),
        sa.Column("purchase_order_line_id", sa.BigInteger(), nullable=True),
        sa.Column("unit_cost", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_stock_document_lines_quantity_not_negative")),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["stock_documents.id"],
            name=op.f("fk_stock_document_lines_document_id_stock_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_stock_document_lines_product_id_products"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["purchase_order_line_id"],
            ["purchase_order_lines.id"],
            name=op.f("fk_stock_document_lines_purchase_order_line_id_purchase_order_lines"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_document_lines")),
    )
    op.create_index(
        "ix_stock_document_lines_document", "stock_document_lines", ["document_id", "position"], unique=False
    )
    op.create_index("ix_stock_document_lines_product_id", "stock_document_lines", ["product_id"], unique=False)
    op.create_index(
        "ix_stock_document_lines_purchase_order_line_id",
        "stock_document_lines",
        ["purchase_order_line_id"],
        unique=False,
    )
    op.create_table(
        "stock_moves",
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("warehouse_id", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("document_id", sa.BigInteger(), nullable=False),
        sa.Column("document_type", sa.String(length=20), nullable=False),
        sa.Column("document_line_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("quantity <> 0", name=op.f("ck_stock_moves_quantity_not_zero")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_stock_moves_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["stock_documents.id"],
            name=op.f("fk_stock_moves_document_id_stock_documents"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["document_line_id"],
            ["stock_document_lines.id"],
            name=op.f("fk_stock_moves_document_line_id_stock_document_lines"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_stock_moves_product_id_products"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_stock_moves_warehouse_id_warehouses"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_moves")),
    )
    op.create_index("ix_stock_moves_document_id", "stock_moves", ["document_id"], unique=False)
    op.create_index("ix_stock_moves_document_line_id", "stock_moves", ["document_line_id"], unique=False)
    op.create_index("ix_stock_moves_product", "stock_moves", ["product_id", "id"], unique=False)
    op.create_index("ix_stock_moves_warehouse_id", "stock_moves", ["warehouse_id"], unique=False)
    # The ledger is append-only: its figures are never changed and no move is deleted (a user's
    # deletion may still null created_by). Corrections are new documents.
    op.execute("""
        CREATE FUNCTION stock_moves_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'stock_moves is append-only: % refused', TG_OP USING ERRCODE = 'restrict_violation';
        END $$""")
    op.execute("""
        CREATE TRIGGER stock_moves_append_only
        BEFORE UPDATE OF product_id, warehouse_id, quantity, document_id, document_type, document_line_id,
                         created_at OR DELETE ON stock_moves
        FOR EACH ROW EXECUTE FUNCTION stock_moves_append_only()""")


def downgrade() -> None:
    op.execute("DROP TRIGGER stock_moves_append_only ON stock_moves")
    op.execute("DROP FUNCTION stock_moves_append_only()")
    op.drop_index("ix_stock_moves_warehouse_id", table_name="stock_moves")
    op.drop_index("ix_stock_moves_product", table_name="stock_moves")
    op.drop_index("ix_stock_moves_document_line_id", table_name="stock_moves")
    op.drop_index("ix_stock_moves_document_id", table_name="stock_moves")
    op.drop_table("stock_moves")
    op.drop_index("ix_stock_document_lines_purchase_order_line_id", table_name="stock_document_lines")
    op.drop_index("ix_stock_document_lines_product_id", table_name="stock_document_lines")
    op.drop_index("ix_stock_document_lines_document", table_name="stock_document_lines")
    op.drop_table("stock_document_lines")
    op.drop_index("uq_stock_documents_reverses_id", table_name="stock_documents")
    op.drop_index("uq_stock_documents_number", table_name="stock_documents")
    op.drop_index("ix_stock_documents_warehouse_id", table_name="stock_documents")
    op.drop_index("ix_stock_documents_to_warehouse_id", table_name="stock_documents")
    op.drop_index("ix_stock_documents_source", table_name="stock_documents")
    op.drop_index("ix_stock_documents_purchase_order_id", table_name="stock_documents")
    op.drop_index("ix_stock_documents_kind_status", table_name="stock_documents")
    op.drop_index("ix_stock_documents_created_at", table_name="stock_documents")
    op.drop_table("stock_documents")
    op.drop_index("ix_purchase_order_lines_product_id", table_name="purchase_order_lines")
    op.drop_index("ix_purchase_order_lines_order", table_name="purchase_order_lines")
    op.drop_table("purchase_order_lines")
    op.drop_index("uq_stock_reservations_source_product", table_name="stock_reservations")
    op.drop_index("ix_stock_reservations_product", table_name="stock_reservations")
    op.drop_table("stock_reservations")
    op.drop_index(
        "ix_stock_product_settings_low",
        table_name="stock_product_settings",
        postgresql_where=sa.text("low_since IS NOT NULL"),
    )
    op.drop_table("stock_product_settings")
    op.drop_index("ix_stock_levels_available", table_name="stock_levels")
    op.drop_index("ix_stock_levels_warehouse_id", table_name="stock_levels")
    op.drop_table("stock_levels")
    op.drop_index("uq_purchase_orders_number", table_name="purchase_orders")
    op.drop_index("ix_purchase_orders_warehouse_id", table_name="purchase_orders")
    op.drop_index("ix_purchase_orders_vendor_id", table_name="purchase_orders")
    op.drop_index("ix_purchase_orders_status", table_name="purchase_orders")
    op.drop_index(
        "ix_purchase_orders_open",
        table_name="purchase_orders",
        postgresql_where=sa.text("status IN ('confirmed', 'partially_received')"),
    )
    op.drop_index("ix_purchase_orders_created_at", table_name="purchase_orders")
    op.drop_table("purchase_orders")
    op.drop_index("uq_warehouses_name_lower", table_name="warehouses")
    op.drop_table("warehouses")
