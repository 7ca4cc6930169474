"""Invoice list indexes for a million invoices: sort by gross total; search by part of the
number (trigram) or by its start (INV-2026-00..., pattern ops); the own-scope list in creation
order, with or without a status ((owner_id, created_at) replaces owner_id; (owner_id, status,
created_at) counts a status without reading the table); a short issue-date range sorted by
creation from the index alone ((issue_date, created_at, id) replaces issue_date).

Figures: tests/perf/bench_invoices.py.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 21:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_invoices_gross_total", "invoices", ["gross_total"], unique=False)
    op.create_index(
        "ix_invoices_number_trgm",
        "invoices",
        ["number"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"number": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_invoices_number_prefix",
        "invoices",
        ["number"],
        unique=False,
        postgresql_ops={"number": "varchar_pattern_ops"},
    )
    op.create_index("ix_invoices_owner_created", "invoices", ["owner_id", "created_at"], unique=False)
    op.create_index("ix_invoices_owner_status", "invoices", ["owner_id", "status", "created_at"], unique=False)
    op.drop_index("ix_invoices_owner_id", table_name="invoices")
    op.create_index("ix_invoices_issue_created", "invoices", ["issue_date", "created_at", "id"], unique=False)
    op.drop_index("ix_invoices_issue_date", table_name="invoices")


def downgrade() -> None:
    op.create_index("ix_invoices_issue_date", "invoices", ["issue_date"], unique=False)
    op.drop_index("ix_invoices_issue_created", table_name="invoices")
    op.create_index("ix_invoices_owner_id", "invoices", ["owner_id"], unique=False)
    op.drop_index("ix_invoices_owner_status", table_name="invoices")
    op.drop_index("ix_invoices_owner_created", table_name="invoices")
    op.drop_index("ix_invoices_number_prefix", table_name="invoices")
    op.drop_index("ix_invoices_number_trgm", table_name="invoices")
    op.drop_index("ix_invoices_gross_total", table_name="invoices")
