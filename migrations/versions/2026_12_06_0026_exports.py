"""Exports as jobs: the exports table (who, which list, filter, state, progress, expiry) and the
chunks of each export's file, kept in the database so any server process can serve a download.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exports",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("entity", sa.String(30), nullable=False),
        sa.Column("format", sa.String(4), nullable=False),
        sa.Column("filter", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("scope", sa.String(10), nullable=False),
        sa.Column("state", sa.String(12), server_default="pending", nullable=False),
        sa.Column("rows_done", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("rows_total", sa.BigInteger(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("file_name", sa.String(200), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_exports_user_id_users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_exports"),
    )
    op.create_index("ix_exports_user_id", "exports", ["user_id", "id"])
    op.create_index("ix_exports_expires_at", "exports", ["expires_at"], postgresql_where=sa.text("state = 'done'"))
    op.create_table(
        "export_chunks",
        sa.Column("export_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["export_id"], ["exports.id"], name="fk_export_chunks_export_id_exports", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("export_id", "seq", name="pk_export_chunks"),
    )
    # Chunks are written once and read whole: compressing them again in TOAST only costs time.
    op.execute("ALTER TABLE export_chunks ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_table("export_chunks")
    op.drop_index("ix_exports_expires_at", table_name="exports")
    op.drop_index("ix_exports_user_id", table_name="exports")
    op.drop_table("exports")
