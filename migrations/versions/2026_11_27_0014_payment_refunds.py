"""Payment refunds: what was given back from a payment (payment_refunds), the payment's refunded
total (bounded by its amount), and the provider's id of the money (a Stripe payment intent), unique
per method so a provider's retried or twin events record one payment.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("payments", sa.Column("external_ref", sa.String(length=200), nullable=True))
    op.add_column(
        "payments", sa.Column("refunded_total", sa.Numeric(precision=14, scale=2), server_default="0", nullable=False)
    )
    op.create_check_constraint(
        op.f("ck_payments_refunded_range"), "payments", "refunded_total >= 0 AND refunded_total <= amount"
    )
    op.create_index(
        "uq_payments_method_external_ref",
        "payments",
        ["method", "external_ref"],
        unique=True,
        postgresql_where=sa.text("external_ref IS NOT NULL"),
    )
    op.create_table(
        "payment_refunds",
        sa.Column("payment_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("refunded_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payment_refunds_amount_positive")),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_payment_refunds_payment_id_payments"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_payment_refunds_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_refunds")),
    )
    op.create_index("ix_payment_refunds_payment", "payment_refunds", ["payment_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_payment_refunds_payment", table_name="payment_refunds")
    op.drop_table("payment_refunds")
    op.drop_index("uq_payments_method_external_ref", table_name="payments")
    op.drop_constraint(op.f("ck_payments_refunded_range"), "payments", type_="check")
    op.drop_column("payments", "refunded_total")
    op.drop_column("payments", "external_ref")
