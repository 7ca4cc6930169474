"""Invoices and credit notes, their lines, payments, and the gapless number series.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _id_and_times(*, version: bool = True, times: bool = True) -> list[sa.Column]:  # type: ignore[type-arg]
    columns: list[sa.Column] = [sa.Column("id", sa.BigInteger(), nullable=False)]  # type: ignore[type-arg]
    if times:
        columns += [
            sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        ]
    if version:
        columns.append(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    return columns


def _money(name: str, default: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.Numeric(precision=14, scale=2), server_default="0" if default else None, nullable=False)


def upgrade() -> None:
    op.create_table(
        "invoice_series",
        sa.Column("series", sa.String(length=20), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("next_value", sa.Integer(), server_default="1", nullable=False),
        *_id_and_times(version=False, times=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_series")),
    )
    op.create_index("uq_invoice_series_series_year", "invoice_series", ["series", "year"], unique=True)
    op.create_table(
        "invoices",
        sa.Column("kind", sa.String(length=20), server_default="invoice", nullable=False),
        sa.Column("number", sa.String(length=50), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="draft", nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        _money("net_total", True),
        _money("tax_total", True),
        _money("gross_total", True),
        _money("paid_total", True),
        sa.Column("credited_invoice_id", sa.BigInteger(), nullable=True),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("team_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        *_id_and_times(),
        sa.CheckConstraint("kind IN ('invoice', 'credit_note')", name=op.f("ck_invoices_kind")),
        sa.CheckConstraint(
            "status IN ('draft', 'unpaid', 'partially_paid', 'paid', 'overdue', 'cancelled')",
            name=op.f("ck_invoices_status"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_invoices_client_id_clients"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["credited_invoice_id"],
            ["invoices.id"],
            name=op.f("fk_invoices_credited_invoice_id_invoices"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_invoices_owner_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_invoices_team_id_teams"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_invoices_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
    )
    op.create_index("uq_invoices_number", "invoices", ["number"], unique=True)
    op.create_index("ix_invoices_client_id", "invoices", ["client_id"], unique=False)
    op.create_index("ix_invoices_owner_id", "invoices", ["owner_id"], unique=False)
    op.create_index("ix_invoices_team_id", "invoices", ["team_id"], unique=False)
    op.create_index("ix_invoices_status_due", "invoices", ["status", "due_date"], unique=False)
    op.create_index("ix_invoices_issue_date", "invoices", ["issue_date"], unique=False)
    op.create_index("ix_invoices_created_at", "invoices", ["created_at"], unique=False)
    op.create_index("ix_invoices_credited_invoice_id", "invoices", ["credited_invoice_id"], unique=False)
    op.create_table(
        "invoice_lines",
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        _money("unit_price"),
        sa.Column("discount_percent", sa.Numeric(precision=5, scale=2), server_default="0", nullable=False),
        sa.Column("tax_rate_id", sa.BigInteger(), nullable=False),
        sa.Column("tax_percent", sa.Numeric(precision=6, scale=3), nullable=False),
        _money("net"),
        _money("tax"),
        _money("gross"),
        *_id_and_times(version=False, times=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_invoice_lines_invoice_id_invoices"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_invoice_lines_product_id_products"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["tax_rate_id"], ["tax_rates.id"], name=op.f("fk_invoice_lines_tax_rate_id_tax_rates"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_lines")),
    )
    op.create_index("ix_invoice_lines_invoice", "invoice_lines", ["invoice_id", "position"], unique=False)
    op.create_table(
        "payments",
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        _money("amount"),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        *_id_and_times(version=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount_positive")),
        sa.CheckConstraint(
            "method IN ('transfer', 'card', 'cash', 'stripe', 'other')", name=op.f("ck_payments_method")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_payments_invoice_id_invoices"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_payments_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    op.create_index("ix_payments_invoice", "payments", ["invoice_id", "paid_on"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_payments_invoice", table_name="payments")
    op.drop_table("payments")
    op.drop_index("ix_invoice_lines_invoice", table_name="invoice_lines")
    op.drop_table("invoice_lines")
    for name in (
        "ix_invoices_credited_invoice_id",
        "ix_invoices_created_at",
        "ix_invoices_issue_date",
        "ix_invoices_status_due",
        "ix_invoices_team_id",
        "ix_invoices_owner_id",
        "ix_invoices_client_id",
        "uq_invoices_number",
    ):
        op.drop_index(name, table_name="invoices")
    op.drop_table("invoices")
    op.drop_index("uq_invoice_series_series_year", table_name="invoice_series")
    op.drop_table("invoice_series")
