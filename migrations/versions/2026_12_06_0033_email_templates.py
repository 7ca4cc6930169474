"""E-mail from the CRM (issue #22, first half): templates with merge tags, each user's sender
identity, the log of messages sent from a record (with their attachments) and the suppression list.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-06 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "email_templates",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("visibility", sa.String(10), nullable=False, server_default="private"),
        sa.Column("team_id", sa.BigInteger(), sa.ForeignKey("teams.id", ondelete="SET NULL"), nullable=True),
        sa.Column("owner_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("entity IN ('lead', 'client', 'invoice', 'ticket')", name=op.f("ck_email_templates_entity")),
        sa.CheckConstraint("visibility IN ('private', 'team', 'everyone')", name=op.f("ck_email_templates_visibility")),
    )
    op.create_index("ix_email_templates_entity", "email_templates", ["entity", "name"])

    op.create_table(
        "email_identities",
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("reply_to", sa.String(320), nullable=False, server_default=""),
        sa.Column("signature", sa.Text(), nullable=False, server_default=""),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )

    op.create_table(
        "outbound_emails",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("entity_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "template_id", sa.BigInteger(), sa.ForeignKey("email_templates.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("sender_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("to_addr", sa.Text(), nullable=False),
        sa.Column("cc", sa.Text(), nullable=False, server_default=""),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False, server_default="queued"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(500), nullable=False),
        sa.Column("is_test", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'sent', 'failed')", name=op.f("ck_outbound_emails_status")),
        sa.CheckConstraint("entity IN ('lead', 'client', 'invoice', 'ticket')", name=op.f("ck_outbound_emails_entity")),
    )
    op.create_index("ix_outbound_emails_record", "outbound_emails", ["entity", "entity_id", "created_at"])
    op.create_index("uq_outbound_emails_message_id", "outbound_emails", ["message_id"], unique=True)
    op.create_index("ix_outbound_emails_sender_day", "outbound_emails", ["sender_id", "created_at"])

    op.create_table(
        "outbound_email_attachments",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("email_id", sa.BigInteger(), sa.ForeignKey("outbound_emails.id", ondelete="CASCADE"), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("mime", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_outbound_email_attachments_email", "outbound_email_attachments", ["email_id"])

    op.create_table(
        "email_suppressions",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        # Lower-cased: how every send compares it.
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("created_by", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "source IN ('manual', 'bounce', 'complaint', 'unsubscribe')", name=op.f("ck_email_suppressions_source")
        ),
        sa.CheckConstraint("address = lower(address)", name=op.f("ck_email_suppressions_lower")),
    )
    op.create_index("uq_email_suppressions_address", "email_suppressions", ["address"], unique=True)


def downgrade() -> None:
    op.drop_table("email_suppressions")
    op.drop_table("outbound_email_attachments")
    op.drop_table("outbound_emails")
    op.drop_table("email_identities")
    op.drop_table("email_templates")
