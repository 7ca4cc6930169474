"""Leads at a million: sort indexes for the list, and duplicates by index: the company key drops punctuation and legal forms, and is a plain btree.

The trigram match on the company name read every lead sharing a suffix like "SRL" (12,000 rows at
100,000 leads); now colleagues at one company are an index range and a name similarity is computed
only among them.

Revision ID: 0022
Revises: 0020
Create Date: 2026-12-05 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0020"
branch_labels = None
depends_on = None

# Frozen here (the model's COMPANY_KEY may change later, by a migration of its own).
COMPANY_KEY = "nullif(btrim(regexp_replace(regexp_replace(regexp_replace(regexp_replace(lower(company), '[.'']', '', 'g'), '[[:punct:][:space:]]+', ' ', 'g'), '\\m(srl|srld|srls|sa|sas|sarl|sc|snc|pfa|ii|if|llc|llp|ltd|limited|inc|incorporated|corp|corporation|co|company|plc|gmbh|ag|kg|ohg|ug|bv|nv|spa|sl|oy|ab|as|aps|kft|sro|doo)\\M', ' ', 'g'), '\\s+', ' ', 'g')), '')"


SORTED = ("company", "value", "expected_close_date")


def upgrade() -> None:
    # A salesperson's or a team's list, newest first: their own rows in order.
    for scope in ("owner_id", "team_id"):
        op.create_index(
            f"ix_leads_{scope.removesuffix('_id')}_created",
            "leads",
            [scope, sa.text("created_at DESC"), sa.text("id DESC")],
            postgresql_where=sa.text("archived_at IS NULL"),
        )
    # The list's sorts on columns that may be empty, "empty last" both ways: one index per direction.
    for name in SORTED:
        for way in ("asc", "desc"):
            op.create_index(
                f"ix_leads_{name}_{way}",
                "leads",
                [sa.text(f"{name} {way} NULLS LAST"), sa.text(f"id {way}")],
                postgresql_where=sa.text("archived_at IS NULL"),
            )
    op.drop_index("ix_leads_company_trgm", table_name="leads")
    op.drop_column("leads", "company_key")
    op.add_column(
        "leads",
        sa.Column("company_key", sa.String(length=300), sa.Computed(COMPANY_KEY, persisted=True), nullable=True),
    )
    op.create_index(
        "ix_leads_company_key", "leads", ["company_key"], postgresql_where=sa.text("merged_into_id IS NULL")
    )


def downgrade() -> None:
    op.drop_index("ix_leads_owner_created", table_name="leads")
    op.drop_index("ix_leads_team_created", table_name="leads")
    for name in SORTED:
        for way in ("asc", "desc"):
            op.drop_index(f"ix_leads_{name}_{way}", table_name="leads")
    op.drop_index("ix_leads_company_key", table_name="leads")
    op.drop_column("leads", "company_key")
    op.add_column(
        "leads",
        sa.Column("company_key", sa.String(length=300), sa.Computed("lower(btrim(company))", persisted=True)),
    )
    op.create_index(
        "ix_leads_company_trgm",
        "leads",
        ["company_key"],
        postgresql_using="gin",
        postgresql_ops={"company_key": "gin_trgm_ops"},
    )
