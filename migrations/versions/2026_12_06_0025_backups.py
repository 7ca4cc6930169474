"""Backups (issue #21): one row per backup attempt with its file, checks and outcome.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 00:25:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backups",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), server_default="running", nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("requested_by", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("folder", sa.Text()),
        sa.Column("file_name", sa.Text()),
        sa.Column("size_bytes", sa.BigInteger()),
        sa.Column("estimated_bytes", sa.BigInteger()),
        sa.Column("sha256", sa.String(64)),
        sa.Column("encrypted", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("row_counts", postgresql.JSONB()),
        sa.Column("server_version", sa.String(40)),
        sa.Column("verified_at", sa.DateTime(timezone=True)),
        sa.Column("verify_ok", sa.Boolean()),
        sa.Column("test_restored_at", sa.DateTime(timezone=True)),
        sa.Column("test_restore_ok", sa.Boolean()),
        sa.Column("test_restore_detail", sa.Text()),
        sa.Column("error_code", sa.String(40)),
        sa.Column("error_message", sa.Text()),
        sa.Column("kept_until", sa.DateTime(timezone=True)),
        sa.Column("removed_at", sa.DateTime(timezone=True)),
        sa.Column("progress", sa.Float(), server_default="0", nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), server_default="false", nullable=False),
    )
    op.create_index("ix_backups_started_at", "backups", ["started_at", "id"])
    op.create_index("ix_backups_status", "backups", ["status"])


def downgrade() -> None:
    op.drop_table("backups")
