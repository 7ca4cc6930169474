"""Bounces, complaints, DKIM keys, reply threading (issue #22).

Every bounce and complaint the pipe reads is kept (address, kind, status code, reason, the message
it answers): soft bounces are counted per address in a window before the address is suppressed. A
reply to a message sent from a lead or a client is kept on that record. The outbound log's status
takes the outcomes a report brings (bounced, soft_bounced, complained). The DKIM key is a setting.

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None

OLD_STATUSES = "status IN ('queued', 'sent', 'failed')"
NEW_STATUSES = "status IN ('queued', 'sent', 'failed', 'bounced', 'soft_bounced', 'complained')"


def upgrade() -> None:
    op.drop_constraint(op.f("ck_outbound_emails_status"), "outbound_emails", type_="check")
    op.alter_column("outbound_emails", "status", type_=sa.String(20), existing_nullable=False)
    op.create_check_constraint(op.f("ck_outbound_emails_status"), "outbound_emails", NEW_STATUSES)

    op.create_table(
        "email_bounces",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        # Lower-cased, as the suppression list compares it.
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("status_code", sa.String(20), nullable=False, server_default=""),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(500), nullable=True),
        sa.Column(
            "outbound_email_id",
            sa.BigInteger(),
            sa.ForeignKey("outbound_emails.id", ondelete="SET NULL"),
            nullable=True,
        ),
        # The pipe log row that brought it (no foreign key: the log outlives what it made).
        sa.Column("pipe_log_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("kind IN ('hard', 'soft', 'complaint')", name=op.f("ck_email_bounces_kind")),
        sa.CheckConstraint("address = lower(address)", name=op.f("ck_email_bounces_lower")),
    )
    op.create_index("ix_email_bounces_address_at", "email_bounces", ["address", "at"])

    op.create_table(
        "inbound_emails",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("entity_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "outbound_email_id",
            sa.BigInteger(),
            sa.ForeignKey("outbound_emails.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("pipe_log_id", sa.BigInteger(), nullable=True),
        sa.Column("sender", sa.String(320), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False, server_default=""),
        sa.Column("body", sa.Text(), nullable=False, server_default=""),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("entity IN ('lead', 'client')", name=op.f("ck_inbound_emails_entity")),
    )
    op.create_index("ix_inbound_emails_record", "inbound_emails", ["entity", "entity_id", "received_at"])


def downgrade() -> None:
    op.drop_table("inbound_emails")
    op.drop_table("email_bounces")
    op.execute("UPDATE outbound_emails SET status = 'failed' WHERE status NOT IN ('queued', 'sent', 'failed')")
    op.drop_constraint(op.f("ck_outbound_emails_status"), "outbound_emails", type_="check")
    op.alter_column("outbound_emails", "status", type_=sa.String(10), existing_nullable=False)
    op.create_check_constraint(op.f("ck_outbound_emails_status"), "outbound_emails", OLD_STATUSES)
