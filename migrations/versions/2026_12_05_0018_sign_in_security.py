"""Sign-in security: attempts by account and address, blocked addresses, known devices, slow-hashed recovery codes.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # --- sign-in security: throttling by (email, address), blocked networks, known devices ---
    op.create_index("ix_login_history_email_at", "login_history", [sa.literal_column("lower(email)"), "at"])
    op.create_table(
        "blocked_networks",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("network", postgresql.CIDR(), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_blocked_networks_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["lifted_by"], ["users.id"], name=op.f("fk_blocked_networks_lifted_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blocked_networks")),
    )
    op.create_index(
        "uq_blocked_networks_active",
        "blocked_networks",
        ["network"],
        unique=True,
        postgresql_where=sa.text("lifted_at IS NULL"),
    )
    op.create_table(
        "known_devices",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("address", postgresql.INET(), nullable=True),
        sa.Column("client", sa.String(length=200), server_default="", nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_known_devices_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_known_devices")),
    )
    op.create_index("ix_known_devices_user_address", "known_devices", ["user_id", "address"])
    # What users signed in from so far is known: the first sign-in after the upgrade is not "new".
    op.execute("""
        INSERT INTO known_devices (user_id, address, client, first_at, last_at)
        SELECT user_id, address, coalesce(client, ''), min(at), max(at) FROM login_history
        WHERE result = 'success' AND user_id IS NOT NULL GROUP BY user_id, address, coalesce(client, '')
    """)


def downgrade() -> None:
    op.drop_index("ix_known_devices_user_address", table_name="known_devices")
    op.drop_table("known_devices")
    op.drop_index(
        "uq_blocked_networks_active", table_name="blocked_networks", postgresql_where=sa.text("lifted_at IS NULL")
    )
    op.drop_table("blocked_networks")
    op.drop_index("ix_login_history_email_at", table_name="login_history")
