"""WhatsApp template authoring, quality rating, follow-up sending (issue #23): a template written
in the CRM keeps its header, buttons and the record field behind each {{n}} variable, who changed
it last and when it went to Meta; a message keeps the variable values it was sent with, the
follow-up it completed and the campaign recipient it was sent for; a WhatsApp campaign (a row of
the campaign engine's campaigns) keeps its template and whether it sends in business hours only.

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0041"
down_revision = "0040"
branch_labels = None
depends_on = None


def upgrade() -> None:
    jsonb = postgresql.JSONB()
    op.add_column("whatsapp_templates", sa.Column("header", sa.Text(), nullable=True))
    op.add_column("whatsapp_templates", sa.Column("footer", sa.Text(), nullable=True))
    op.add_column(
        "whatsapp_templates", sa.Column("buttons", jsonb, nullable=False, server_default=sa.text("'[]'::jsonb"))
    )
    op.add_column(
        "whatsapp_templates", sa.Column("variables", jsonb, nullable=False, server_default=sa.text("'[]'::jsonb"))
    )
    op.add_column("whatsapp_templates", sa.Column("authored", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("whatsapp_templates", sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("whatsapp_templates", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "whatsapp_templates",
        sa.Column("updated_by", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    )
    op.add_column("whatsapp_messages", sa.Column("parameters", jsonb, nullable=True))
    op.add_column(
        "whatsapp_messages",
        sa.Column(
            "campaign_recipient_id",
            sa.BigInteger(),
            sa.ForeignKey("campaign_recipients.id", ondelete="SET NULL"),
            nullable=True,
        ),
    )
    op.create_index("ix_whatsapp_messages_campaign_recipient", "whatsapp_messages", ["campaign_recipient_id"])
    op.create_table(
        "whatsapp_campaigns",
        sa.Column("campaign_id", sa.BigInteger(), sa.ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
        sa.Column(
            "template_id", sa.BigInteger(), sa.ForeignKey("whatsapp_templates.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column("business_hours_only", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("held_for_hours", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "whatsapp_messages",
        sa.Column("follow_up_id", sa.BigInteger(), sa.ForeignKey("follow_ups.id", ondelete="SET NULL"), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("whatsapp_campaigns")
    op.drop_index("ix_whatsapp_messages_campaign_recipient", table_name="whatsapp_messages")
    op.drop_column("whatsapp_messages", "campaign_recipient_id")
    op.drop_column("whatsapp_messages", "follow_up_id")
    op.drop_column("whatsapp_messages", "parameters")
    for column in ("updated_by", "updated_at", "submitted_at", "authored", "variables", "buttons", "footer", "header"):
        op.drop_column("whatsapp_templates", column)
