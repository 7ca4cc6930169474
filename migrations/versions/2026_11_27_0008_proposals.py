"""Proposals and their lines.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _money(name: str, default: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.Numeric(precision=14, scale=2), server_default="0" if default else None, nullable=False)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "proposals",
        sa.Column("number", sa.String(length=50), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="draft", nullable=False),
        sa.Column("revision", sa.Integer(), server_default="1", nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=True),
        sa.Column("client_id", sa.BigInteger(), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        _money("net_total", True),
        _money("tax_total", True),
        _money("gross_total", True),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("team_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_by", sa.BigInteger(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("declined_by", sa.BigInteger(), nullable=True),
        sa.Column("declined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("converted_invoice_id", sa.BigInteger(), nullable=True),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'sent', 'open', 'revised', 'accepted', 'declined')", name=op.f("ck_proposals_status")
        ),
        sa.CheckConstraint("(lead_id IS NULL) <> (client_id IS NULL)", name=op.f("ck_proposals_one_party")),
        _fk("proposals", "lead_id", "leads", "RESTRICT"),
        _fk("proposals", "client_id", "clients", "RESTRICT"),
        _fk("proposals", "owner_id", "users", "SET NULL"),
        _fk("proposals", "team_id", "teams", "SET NULL"),
        _fk("proposals", "created_by", "users", "SET NULL"),
        _fk("proposals", "accepted_by", "users", "SET NULL"),
        _fk("proposals", "declined_by", "users", "SET NULL"),
        _fk("proposals", "converted_invoice_id", "invoices", "RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposals")),
    )
    op.create_index("uq_proposals_number", "proposals", ["number"], unique=True)
    op.create_index("uq_proposals_converted_invoice_id", "proposals", ["converted_invoice_id"], unique=True)
    op.create_index("ix_proposals_lead_id", "proposals", ["lead_id"], unique=False)
    op.create_index("ix_proposals_client_id", "proposals", ["client_id"], unique=False)
    op.create_index("ix_proposals_owner_id", "proposals", ["owner_id"], unique=False)
    op.create_index("ix_proposals_team_id", "proposals", ["team_id"], unique=False)
    op.create_index("ix_proposals_status", "proposals", ["status", "valid_until"], unique=False)
    op.create_index("ix_proposals_created_at", "proposals", ["created_at"], unique=False)
    op.create_table(
        "proposal_lines",
        sa.Column("proposal_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        _money("unit_price"),
        sa.Column("discount_percent", sa.Numeric(precision=5, scale=2), server_default="0", nullable=False),
        sa.Column("tax_rate_id", sa.BigInteger(), nullable=False),
        sa.Column("tax_percent", sa.Numeric(precision=6, scale=3), nullable=False),
        _money("net"),
        _money("tax"),
        _money("gross"),
        sa.Column("id", sa.BigInteger(), nullable=False),
        _fk("proposal_lines", "proposal_id", "proposals", "CASCADE"),
        _fk("proposal_lines", "product_id", "products", "RESTRICT"),
        _fk("proposal_lines", "tax_rate_id", "tax_rates", "RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposal_lines")),
    )
    op.create_index("ix_proposal_lines_proposal", "proposal_lines", ["proposal_id", "position"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_proposal_lines_proposal", table_name="proposal_lines")
    op.drop_table("proposal_lines")
    for name in (
        "ix_proposals_created_at",
        "ix_proposals_status",
        "ix_proposals_team_id",
        "ix_proposals_owner_id",
        "ix_proposals_client_id",
        "ix_proposals_lead_id",
        "uq_proposals_converted_invoice_id",
        "uq_proposals_number",
    ):
        op.drop_index(name, table_name="proposals")
    op.drop_table("proposals")
