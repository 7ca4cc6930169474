"""Partners, partner users, lead registrations (issue #25).

A partner company with its managing salesperson; its portal users (own password, TOTP, lockout,
invitations and cookie sessions, never staff sessions); the leads partners registered, which
partner each lead is credited to and until when it is protected.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import INET

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def _stamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("managing_user_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("email", sa.String(320), server_default="", nullable=False),
        sa.Column("phone", sa.String(50), server_default="", nullable=False),
        sa.Column("notes", sa.Text(), server_default="", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("share_values", sa.Boolean(), server_default="false", nullable=False),
        *_stamps(),
    )
    op.create_index("uq_partners_name_lower", "partners", [sa.text("lower(name)")], unique=True)
    op.create_table(
        "partner_users",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("partner_id", sa.BigInteger(), sa.ForeignKey("partners.id", ondelete="CASCADE"), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("totp_secret", sa.String(64), nullable=True),
        sa.Column("totp_enabled", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lockout_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("invited_at", sa.DateTime(timezone=True), nullable=True),
        *_stamps(),
    )
    op.create_index("ix_partner_users_partner_id", "partner_users", ["partner_id"])
    op.create_index("uq_partner_users_email_lower", "partner_users", [sa.text("lower(email)")], unique=True)
    op.create_table(
        "partner_invitations",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "partner_user_id",
            sa.BigInteger(),
            sa.ForeignKey("partner_users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_by", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_partner_invitations_partner_user_id", "partner_invitations", ["partner_user_id"])
    op.create_table(
        "partner_sessions",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "partner_user_id",
            sa.BigInteger(),
            sa.ForeignKey("partner_users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("verified", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(50), nullable=True),
        sa.Column("address", INET(), nullable=True),
    )
    op.create_index("ix_partner_sessions_partner_user_id", "partner_sessions", ["partner_user_id"])
    op.create_table(
        "lead_registrations",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("partner_id", sa.BigInteger(), sa.ForeignKey("partners.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "partner_user_id",
            sa.BigInteger(),
            sa.ForeignKey("partner_users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("lead_id", sa.BigInteger(), sa.ForeignKey("leads.id", ondelete="CASCADE"), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("company", sa.String(200), server_default="", nullable=False),
        sa.Column("contact", sa.String(200), server_default="", nullable=False),
        sa.Column("phone", sa.String(50), server_default="", nullable=False),
        sa.Column("email", sa.String(320), server_default="", nullable=False),
        sa.Column("interest", sa.String(200), server_default="", nullable=False),
        sa.Column("notes", sa.Text(), server_default="", nullable=False),
        sa.Column("protected_until", sa.DateTime(timezone=True), nullable=True),
        *_stamps(),
        sa.CheckConstraint(
            "state IN ('registered', 'needs_review', 'lapsed', 'won', 'lost', 'rejected')",
            name=op.f("ck_lead_registrations_state"),
        ),
    )
    op.create_index("ix_lead_registrations_partner_id", "lead_registrations", ["partner_id"])
    op.create_index(
        "uq_lead_registrations_lead",
        "lead_registrations",
        ["lead_id"],
        unique=True,
        postgresql_where=sa.text("lead_id IS NOT NULL"),
    )
    op.create_index("ix_lead_registrations_partner_created", "lead_registrations", ["partner_id", "created_at"])
    op.create_index("ix_lead_registrations_state_until", "lead_registrations", ["state", "protected_until"])
    op.create_table(
        "partner_submissions",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "partner_user_id",
            sa.BigInteger(),
            sa.ForeignKey("partner_users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
    )
    op.create_index("ix_partner_submissions_user_at", "partner_submissions", ["partner_user_id", "at"])


def downgrade() -> None:
    op.drop_table("partner_submissions")
    op.drop_table("lead_registrations")
    op.drop_table("partner_sessions")
    op.drop_table("partner_invitations")
    op.drop_table("partner_users")
    op.drop_table("partners")
