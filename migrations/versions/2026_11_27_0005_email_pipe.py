"""The inbound email pipe's log: every message that reached the server, raw, with its outcome.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The pipe finds the sender among contacts and clients by email, case-insensitively.
    op.execute("CREATE INDEX ix_contacts_email_lower ON contacts (lower(email))")
    op.execute("CREATE INDEX ix_clients_email_lower ON clients (lower(email))")
    op.create_table(
        "email_pipe_log",
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("remote", sa.String(length=100), nullable=True),
        sa.Column("message_id", sa.String(length=500), nullable=True),
        sa.Column("in_reply_to", sa.String(length=500), nullable=True),
        sa.Column("sender", sa.String(length=320), server_default="", nullable=False),
        sa.Column("sender_key", sa.String(length=320), server_default="", nullable=False),
        sa.Column("subject", sa.Text(), server_default="", nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("ticket_id", sa.BigInteger(), nullable=True),
        sa.Column("ticket_number", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("raw_size", sa.Integer(), server_default="0", nullable=False),
        sa.Column("raw", sa.LargeBinary(), server_default=sa.text("''::bytea"), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_pipe_log")),
    )
    op.create_index(
        "uq_email_pipe_log_message_id",
        "email_pipe_log",
        ["message_id"],
        unique=True,
        postgresql_where=sa.text("message_id IS NOT NULL"),
    )
    op.create_index("ix_email_pipe_log_sender_window", "email_pipe_log", ["sender_key", "received_at"])
    op.create_index("ix_email_pipe_log_outcome", "email_pipe_log", ["outcome", "id"])
    op.create_index("ix_email_pipe_log_received_at", "email_pipe_log", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_clients_email_lower", table_name="clients")
    op.drop_index("ix_contacts_email_lower", table_name="contacts")
    op.drop_index("ix_email_pipe_log_received_at", table_name="email_pipe_log")
    op.drop_index("ix_email_pipe_log_outcome", table_name="email_pipe_log")
    op.drop_index("ix_email_pipe_log_sender_window", table_name="email_pipe_log")
    op.drop_index(
        "uq_email_pipe_log_message_id", table_name="email_pipe_log", postgresql_where=sa.text("message_id IS NOT NULL")
    )
    op.drop_table("email_pipe_log")
