"""WhatsApp Business (issue #23): each number's opt-in (when, how, who; an opt-out), the message
templates synced from the Cloud API with their approval status, and every message in and out with
the last status the webhook brought.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-06 04:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "whatsapp_opt_ins",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("phone", sa.String(20), nullable=False, unique=True),
        sa.Column("opted_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("method", sa.String(200), nullable=True),
        sa.Column("recorded_by", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "whatsapp_templates",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("meta_id", sa.String(50), nullable=True),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("language", sa.String(20), nullable=False),
        sa.Column("category", sa.String(30), nullable=False, server_default=""),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("body", sa.Text(), nullable=False, server_default=""),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("name", "language", name=op.f("uq_whatsapp_templates_name_language")),
    )
    op.create_table(
        "whatsapp_messages",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("lead_id", sa.BigInteger(), sa.ForeignKey("leads.id", ondelete="CASCADE"), nullable=True),
        sa.Column("client_id", sa.BigInteger(), sa.ForeignKey("clients.id", ondelete="CASCADE"), nullable=True),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("template_name", sa.String(512), nullable=True),
        sa.Column("template_language", sa.String(20), nullable=True),
        sa.Column("body", sa.Text(), nullable=False, server_default=""),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("wamid", sa.String(200), nullable=True),
        sa.Column("created_by", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("direction IN ('in', 'out')", name=op.f("ck_whatsapp_messages_direction")),
    )
    op.create_index("uq_whatsapp_messages_wamid", "whatsapp_messages", ["wamid"], unique=True)
    op.create_index("ix_whatsapp_messages_phone", "whatsapp_messages", ["phone", "direction", "created_at"])
    op.create_index("ix_whatsapp_messages_lead", "whatsapp_messages", ["lead_id"])
    op.create_index("ix_whatsapp_messages_client", "whatsapp_messages", ["client_id"])


def downgrade() -> None:
    op.drop_table("whatsapp_messages")
    op.drop_table("whatsapp_templates")
    op.drop_table("whatsapp_opt_ins")
