"""Commission policies, tiers and commissions (issue #25).

A policy pays a percent of the net part of paid invoice amounts, or a fixed amount per won deal,
in marginal tiers, to the staff and partners it names, after waiting days. A commission row is
earned (from a payment, once per payment, policy and beneficiary), added by hand, or a negative
reversal of another (a refund or a credit note): paid rows are never edited. The built-in roles
get the new "commissions" module (a role that already has it keeps what it has).

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None

# What the built-in roles get (crm_server.auth.permissions.BUILTIN_ROLES says the same).
GRANTS = {
    "Admin": {"actions": ["view", "create", "edit", "delete", "export", "import"], "scope": "all"},
    "Manager": {"actions": ["view", "edit", "export"], "scope": "team"},
    "Salesperson": {"actions": ["view"], "scope": "own"},
    "Accountant": {"actions": ["view", "create", "export"], "scope": "all"},
}


def _fk(table: str, ondelete: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{table}.id", ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        "commission_policies",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("basis", sa.String(10), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("wait_days", sa.Integer(), server_default="0", nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("all_staff", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("all_partners", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_by", sa.BigInteger(), _fk("users", "SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("basis IN ('percent', 'fixed')", name=op.f("ck_commission_policies_basis")),
        sa.CheckConstraint("wait_days BETWEEN 0 AND 3650", name=op.f("ck_commission_policies_wait_days")),
    )
    op.create_index("uq_commission_policies_name", "commission_policies", [sa.text("lower(name)")], unique=True)
    op.create_table(
        "commission_tiers",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("policy_id", sa.BigInteger(), _fk("commission_policies", "CASCADE"), nullable=False),
        sa.Column("threshold", sa.Numeric(14, 2), nullable=False),
        sa.Column("rate", sa.Numeric(14, 4), nullable=False),
        sa.CheckConstraint("threshold >= 0", name=op.f("ck_commission_tiers_threshold")),
        sa.CheckConstraint("rate >= 0", name=op.f("ck_commission_tiers_rate")),
    )
    op.create_index("uq_commission_tiers_policy", "commission_tiers", ["policy_id", "threshold"], unique=True)
    op.create_table(
        "commission_policy_members",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("policy_id", sa.BigInteger(), _fk("commission_policies", "CASCADE"), nullable=False),
        sa.Column("user_id", sa.BigInteger(), _fk("users", "CASCADE"), nullable=True),
        sa.Column("team_id", sa.BigInteger(), _fk("teams", "CASCADE"), nullable=True),
        sa.Column("partner_id", sa.BigInteger(), _fk("partners", "CASCADE"), nullable=True),
        sa.CheckConstraint(
            "num_nonnulls(user_id, team_id, partner_id) = 1", name=op.f("ck_commission_policy_members_one")
        ),
    )
    op.create_index("ix_commission_policy_members_policy", "commission_policy_members", ["policy_id"])
    op.create_table(
        "commissions",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("policy_id", sa.BigInteger(), _fk("commission_policies", "RESTRICT"), nullable=True),
        sa.Column("user_id", sa.BigInteger(), _fk("users", "RESTRICT"), nullable=True),
        sa.Column("partner_id", sa.BigInteger(), _fk("partners", "RESTRICT"), nullable=True),
        sa.Column("invoice_id", sa.BigInteger(), _fk("invoices", "RESTRICT"), nullable=False),
        sa.Column("payment_id", sa.BigInteger(), _fk("payments", "RESTRICT"), nullable=True),
        sa.Column("lead_id", sa.BigInteger(), _fk("leads", "SET NULL"), nullable=True),
        sa.Column("reverses_id", sa.BigInteger(), _fk("commissions", "RESTRICT"), nullable=True),
        sa.Column("refund_id", sa.BigInteger(), _fk("payment_refunds", "RESTRICT"), nullable=True),
        sa.Column("credit_note_id", sa.BigInteger(), _fk("invoices", "RESTRICT"), nullable=True),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("base_amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("kept_then", sa.Numeric(14, 2), nullable=True),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(10), server_default="pending", nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("owner_id", sa.BigInteger(), _fk("users", "SET NULL"), nullable=True),
        sa.Column("team_id", sa.BigInteger(), _fk("teams", "SET NULL"), nullable=True),
        sa.Column("created_by", sa.BigInteger(), _fk("users", "SET NULL"), nullable=True),
        sa.Column("approved_by", sa.BigInteger(), _fk("users", "SET NULL"), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_by", sa.BigInteger(), _fk("users", "SET NULL"), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("kind IN ('earned', 'manual', 'reversal')", name=op.f("ck_commissions_kind")),
        sa.CheckConstraint("status IN ('pending', 'approved', 'paid')", name=op.f("ck_commissions_status")),
        sa.CheckConstraint("num_nonnulls(user_id, partner_id) = 1", name=op.f("ck_commissions_beneficiary")),
        sa.CheckConstraint(
            "(kind = 'reversal') = (reverses_id IS NOT NULL) AND (kind = 'reversal') = (amount < 0)",
            name=op.f("ck_commissions_reversal"),
        ),
        sa.CheckConstraint(
            "kind <> 'earned' OR (policy_id IS NOT NULL AND payment_id IS NOT NULL)", name=op.f("ck_commissions_earned")
        ),
        sa.CheckConstraint("extract(day FROM month) = 1", name=op.f("ck_commissions_month")),
    )
    op.create_index(
        "uq_commissions_payment_policy_user",
        "commissions",
        ["payment_id", "policy_id", "user_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'earned' AND user_id IS NOT NULL"),
    )
    op.create_index(
        "uq_commissions_payment_policy_partner",
        "commissions",
        ["payment_id", "policy_id", "partner_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'earned' AND partner_id IS NOT NULL"),
    )
    op.create_index("ix_commissions_owner_created", "commissions", ["owner_id", "created_at"])
    op.create_index("ix_commissions_team_id", "commissions", ["team_id"])
    op.create_index("ix_commissions_user_month", "commissions", ["user_id", "month"])
    op.create_index("ix_commissions_partner_month", "commissions", ["partner_id", "month"])
    op.create_index("ix_commissions_status_month", "commissions", ["status", "month"])
    op.create_index("ix_commissions_invoice_id", "commissions", ["invoice_id"])
    op.create_index("ix_commissions_reverses_id", "commissions", ["reverses_id"])
    op.create_index("ix_commissions_created_at", "commissions", ["created_at", "id"])
    for role, grant in GRANTS.items():
        op.execute(
            sa.text(
                "UPDATE roles SET permissions = permissions || jsonb_build_object('commissions', CAST(:g AS jsonb)) "
                "WHERE builtin AND name = :role AND NOT permissions ? 'commissions'"
            ).bindparams(g=json.dumps(grant), role=role)
        )


def downgrade() -> None:
    op.execute("UPDATE roles SET permissions = permissions - 'commissions'")
    op.drop_table("commissions")
    op.drop_table("commission_policy_members")
    op.drop_table("commission_tiers")
    op.drop_table("commission_policies")
