"""Sales targets (issue #20): what a person or a team should win in a month, in the base currency,
set by managers. One row per (month, person) or (month, team); exactly one of the two is named.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-06 03:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sales_targets",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
        sa.Column("team_id", sa.BigInteger(), sa.ForeignKey("teams.id", ondelete="CASCADE"), nullable=True),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("updated_by", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("(user_id IS NULL) <> (team_id IS NULL)", name=op.f("ck_sales_targets_who")),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_sales_targets_amount")),
        sa.CheckConstraint("extract(day FROM month) = 1", name=op.f("ck_sales_targets_month")),
    )
    op.create_index(
        "uq_sales_targets_user",
        "sales_targets",
        ["month", "user_id"],
        unique=True,
        postgresql_where=sa.text("user_id IS NOT NULL"),
    )
    op.create_index(
        "uq_sales_targets_team",
        "sales_targets",
        ["month", "team_id"],
        unique=True,
        postgresql_where=sa.text("team_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_table("sales_targets")
