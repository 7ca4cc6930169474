"""E-mail campaigns, recipients, tracking events, engagement (issue #22).

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None

NOW = sa.func.now()


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False, server_default="email"),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("filters", JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False, server_default="draft"),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("preset", sa.String(30), nullable=False, server_default="custom"),
        sa.Column("per_minute", sa.Integer(), nullable=True),
        sa.Column("per_hour", sa.Integer(), nullable=True),
        sa.Column("per_day", sa.Integer(), nullable=True),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.Column("excluded", JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("created_by", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_batch_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("entity IN ('lead', 'client', 'contact')", name=op.f("ck_campaigns_entity")),
        sa.CheckConstraint(
            "status IN ('draft', 'scheduled', 'sending', 'paused', 'cancelled', 'done')",
            name=op.f("ck_campaigns_status"),
        ),
    )
    op.create_index("ix_campaigns_created", "campaigns", [sa.text("created_at DESC"), sa.text("id DESC")])

    op.create_table(
        "campaign_links",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("campaign_id", sa.BigInteger(), sa.ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
    )
    op.create_index("uq_campaign_links_position", "campaign_links", ["campaign_id", "position"], unique=True)

    op.create_table(
        "campaign_recipients",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("campaign_id", sa.BigInteger(), sa.ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("entity_id", sa.BigInteger(), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("name", sa.String(300), nullable=False, server_default=""),
        sa.Column("state", sa.String(14), nullable=False, server_default="queued"),
        sa.Column("message_id", sa.String(500), nullable=True),
        sa.Column("handed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("machine_opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clicked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unsubscribed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('queued', 'sending', 'sent', 'failed', 'unconfirmed', 'cancelled', 'bounced',"
            " 'soft_bounced', 'complained')",
            name=op.f("ck_campaign_recipients_state"),
        ),
    )
    op.create_index("ix_campaign_recipients_state", "campaign_recipients", ["campaign_id", "state", "id"])
    op.create_index("uq_campaign_recipients_address", "campaign_recipients", ["campaign_id", "address"], unique=True)
    op.create_index("uq_campaign_recipients_message_id", "campaign_recipients", ["message_id"], unique=True)
    op.create_index("ix_campaign_recipients_handed", "campaign_recipients", ["handed_at"])

    op.create_table(
        "campaign_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("campaign_id", sa.BigInteger(), sa.ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "recipient_id",
            sa.BigInteger(),
            sa.ForeignKey("campaign_recipients.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("machine", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("link_id", sa.BigInteger(), sa.ForeignKey("campaign_links.id", ondelete="CASCADE"), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
    )
    op.create_index("ix_campaign_events_campaign", "campaign_events", ["campaign_id", "at"])
    op.create_index("ix_campaign_events_recipient", "campaign_events", ["recipient_id"])

    op.create_table(
        "email_consents",
        sa.Column("address", sa.String(320), primary_key=True),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(200), nullable=False, server_default=""),
        sa.Column("updated_by", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.CheckConstraint("address = lower(address)", name=op.f("ck_email_consents_lower")),
    )

    op.create_table(
        "engagement_scores",
        sa.Column("entity", sa.String(20), primary_key=True),
        sa.Column("entity_id", sa.BigInteger(), primary_key=True),
        sa.Column("opens", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("clicks", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("score", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
    )
    op.create_index("ix_engagement_scores_score", "engagement_scores", ["entity", "score"])


def downgrade() -> None:
    op.drop_table("engagement_scores")
    op.drop_table("email_consents")
    op.drop_table("campaign_events")
    op.drop_table("campaign_recipients")
    op.drop_table("campaign_links")
    op.drop_table("campaigns")
