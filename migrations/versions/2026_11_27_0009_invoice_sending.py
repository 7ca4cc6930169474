"""Invoices: sending by email (status and email log), recurrence; the job log keeps a job's result.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("invoices", sa.Column("send_status", sa.String(length=10), server_default="unsent", nullable=False))
    op.add_column("invoices", sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("invoices", sa.Column("send_error", sa.Text(), nullable=True))
    op.add_column("invoices", sa.Column("recur_every", sa.Integer(), nullable=True))
    op.add_column("invoices", sa.Column("recur_unit", sa.String(length=5), nullable=True))
    op.add_column("invoices", sa.Column("recur_cycles", sa.Integer(), nullable=True))
    op.add_column("invoices", sa.Column("recur_done", sa.Integer(), server_default="0", nullable=False))
    op.add_column("invoices", sa.Column("recur_next_on", sa.Date(), nullable=True))
    op.add_column("invoices", sa.Column("recur_last_skip", sa.Text(), nullable=True))
    op.add_column("invoices", sa.Column("recurred_from_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_invoices_recurred_from_id_invoices"),
        "invoices",
        "invoices",
        ["recurred_from_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.create_check_constraint(
        op.f("ck_invoices_send_status"), "invoices", "send_status IN ('unsent', 'queued', 'sent', 'failed')"
    )
    op.create_check_constraint(
        op.f("ck_invoices_recur_unit"), "invoices", "recur_unit IN ('day', 'week', 'month', 'year')"
    )
    op.create_check_constraint(
        op.f("ck_invoices_recur_rule"),
        "invoices",
        "(recur_every IS NULL) = (recur_unit IS NULL) AND (recur_every IS NULL OR recur_every > 0)",
    )
    op.create_index("ix_invoices_recurred_from_id", "invoices", ["recurred_from_id"], unique=False)
    op.create_index(
        "ix_invoices_recur_next_on",
        "invoices",
        ["recur_next_on"],
        unique=False,
        postgresql_where=sa.text("recur_every IS NOT NULL"),
    )
    op.create_table(
        "invoice_emails",
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=400), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="queued", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('queued', 'sent', 'failed')", name=op.f("ck_invoice_emails_status")),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_invoice_emails_invoice_id_invoices"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_invoice_emails_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_emails")),
    )
    op.create_index("ix_invoice_emails_invoice", "invoice_emails", ["invoice_id", "id"], unique=False)
    op.create_index("ix_invoice_emails_created_at", "invoice_emails", ["created_at"], unique=False)
    op.add_column("job_log", sa.Column("result", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("job_log", "result")
    op.drop_index("ix_invoice_emails_created_at", table_name="invoice_emails")
    op.drop_index("ix_invoice_emails_invoice", table_name="invoice_emails")
    op.drop_table("invoice_emails")
    op.drop_index(
        "ix_invoices_recur_next_on", table_name="invoices", postgresql_where=sa.text("recur_every IS NOT NULL")
    )
    op.drop_index("ix_invoices_recurred_from_id", table_name="invoices")
    op.drop_constraint(op.f("ck_invoices_recur_rule"), "invoices", type_="check")
    op.drop_constraint(op.f("ck_invoices_recur_unit"), "invoices", type_="check")
    op.drop_constraint(op.f("ck_invoices_send_status"), "invoices", type_="check")
    op.drop_constraint(op.f("fk_invoices_recurred_from_id_invoices"), "invoices", type_="foreignkey")
    for column in (
        "recurred_from_id",
        "recur_last_skip",
        "recur_next_on",
        "recur_done",
        "recur_cycles",
        "recur_unit",
        "recur_every",
        "send_error",
        "sent_at",
        "send_status",
    ):
        op.drop_column("invoices", column)
