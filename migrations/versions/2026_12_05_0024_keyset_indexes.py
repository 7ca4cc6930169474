"""Keyset paging on the large lists: an index per sort direction, so the page after a cursor is an index
range in the list's order (the sort column, then the id), whatever the page's depth.

- invoices: number, issue date and due date may be empty (drafts) and sort "empty last" both ways,
  which one index read backwards cannot give (its empties would come first): one index per
  direction, the id the tie (number ascending is the unique index's own order);
- payments: by payment date, amount and entry time, the id the tie (read either way);
- the audit log: newest first by time, then id (replaces the time-only index).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

INVOICE_SORTS = (("number", ("desc",)), ("issue_date", ("asc", "desc")), ("due_date", ("asc", "desc")))
PAYMENT_SORTS = ("paid_on", "amount", "created_at")


def upgrade() -> None:
    for name, ways in INVOICE_SORTS:
        for way in ways:
            op.create_index(
                f"ix_invoices_{name}_{way}", "invoices", [sa.text(f"{name} {way} NULLS LAST"), sa.text(f"id {way}")]
            )
    for name in PAYMENT_SORTS:
        op.create_index(f"ix_payments_{name}", "payments", [name, "id"])
    op.create_index("ix_audit_log_at_id", "audit_log", ["at", "id"])
    op.drop_index("ix_audit_log_at", table_name="audit_log")


def downgrade() -> None:
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.drop_index("ix_audit_log_at_id", table_name="audit_log")
    for name in PAYMENT_SORTS:
        op.drop_index(f"ix_payments_{name}", table_name="payments")
    for name, ways in INVOICE_SORTS:
        for way in ways:
            op.drop_index(f"ix_invoices_{name}_{way}", table_name="invoices")
