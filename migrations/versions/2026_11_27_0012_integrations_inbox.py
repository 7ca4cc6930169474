"""The integration inbox (every webhook event, unique per provider event id) and providers' problems.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "integration_events",
        sa.Column("provider", sa.String(length=30), nullable=False),
        sa.Column("event_id", sa.String(length=300), nullable=True),
        sa.Column("event_type", sa.String(length=100), server_default="", nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("remote", sa.String(length=100), nullable=True),
        sa.Column(
            "headers", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column(
            "payload", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("body", sa.LargeBinary(), server_default=sa.text("''::bytea"), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integration_events")),
    )
    op.create_index(
        "uq_integration_events_provider_event",
        "integration_events",
        ["provider", "event_id"],
        unique=True,
        postgresql_where=sa.text("event_id IS NOT NULL"),
    )
    op.create_index("ix_integration_events_received", "integration_events", ["received_at", "id"], unique=False)
    op.create_index(
        "ix_integration_events_provider_received", "integration_events", ["provider", "received_at", "id"], unique=False
    )
    op.create_index(
        "ix_integration_events_status_received", "integration_events", ["status", "received_at", "id"], unique=False
    )
    op.create_index(
        "ix_integration_events_due",
        "integration_events",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('pending', 'failed')"),
    )
    op.create_index(
        "ix_integration_events_remote_at", "integration_events", ["provider", "remote", "received_at"], unique=False
    )
    op.create_table(
        "integration_problems",
        sa.Column("provider", sa.String(length=30), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reauthorize", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("provider", name=op.f("pk_integration_problems")),
    )


def downgrade() -> None:
    op.drop_table("integration_problems")
    op.drop_table("integration_events")
