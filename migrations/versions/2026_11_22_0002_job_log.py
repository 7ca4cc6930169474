"""Job log: each attempt of each background job, with its duration and error.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 23:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_log",
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("task", sa.String(length=128), nullable=False),
        sa.Column("attempt", sa.Integer(), server_default="0", nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_log")),
    )
    op.create_index("ix_job_log_finished_at", "job_log", ["finished_at"], unique=False)
    op.create_index("ix_job_log_job_id", "job_log", ["job_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_job_log_job_id", table_name="job_log")
    op.drop_index("ix_job_log_finished_at", table_name="job_log")
    op.drop_table("job_log")
