"""Custom reports (issue #20): a saved report definition (entity, columns, filters, grouping,
aggregate, chart), owned by the person who saved it and shared with roles or teams.

The definition is JSON checked against the per-entity allow-list on every save and every run (a
field name in it never reaches SQL as text).

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-06 03:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "custom_reports",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("entity", sa.String(30), nullable=False),
        sa.Column("definition", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("shared_role_ids", postgresql.ARRAY(sa.BigInteger()), server_default="{}", nullable=False),
        sa.Column("shared_team_ids", postgresql.ARRAY(sa.BigInteger()), server_default="{}", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
    )
    op.create_index("ix_custom_reports_owner", "custom_reports", ["owner_id", "name"])


def downgrade() -> None:
    op.drop_index("ix_custom_reports_owner", table_name="custom_reports")
    op.drop_table("custom_reports")
