"""Rejected webhook requests kept compactly (headers, first 4 KB, size, hash).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("integration_events", sa.Column("body_size", sa.Integer(), nullable=True))
    op.add_column("integration_events", sa.Column("body_sha256", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_integration_events_rejected_remote",
        "integration_events",
        ["remote", "received_at"],
        unique=False,
        postgresql_where=sa.text("status = 'rejected'"),
    )
    # Rejected requests kept before this version: cut to the same compact form.
    op.execute(
        "UPDATE integration_events SET body_size = length(body), body_sha256 = encode(sha256(body), 'hex'),"
        " body = substring(body from 1 for 4096) WHERE status = 'rejected'"
    )


def downgrade() -> None:
    op.drop_index(
        "ix_integration_events_rejected_remote",
        table_name="integration_events",
        postgresql_where=sa.text("status = 'rejected'"),
    )
    op.drop_column("integration_events", "body_sha256")
    op.drop_column("integration_events", "body_size")
