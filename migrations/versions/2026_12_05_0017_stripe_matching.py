"""Stripe matching: a Stripe customer id remembered on the client, Checkout links on invoices.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stripe_customers",
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    op.create_index("ix_stripe_customers_client_id", "stripe_customers", ["client_id"])
    op.create_table(
        "stripe_checkout_sessions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("session_id", sa.String(length=255), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("uq_stripe_checkout_sessions_session_id", "stripe_checkout_sessions", ["session_id"], unique=True)
    op.create_index("ix_stripe_checkout_sessions_invoice", "stripe_checkout_sessions", ["invoice_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_stripe_checkout_sessions_invoice", table_name="stripe_checkout_sessions")
    op.drop_index("uq_stripe_checkout_sessions_session_id", table_name="stripe_checkout_sessions")
    op.drop_table("stripe_checkout_sessions")
    op.drop_index("ix_stripe_customers_client_id", table_name="stripe_customers")
    op.drop_table("stripe_customers")
