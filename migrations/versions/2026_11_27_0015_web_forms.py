"""Website forms: fields and their lead targets, allowed origins, target pipeline and assignment.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_forms",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "fields", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
        sa.Column(
            "allowed_origins",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("pipeline_id", sa.BigInteger(), nullable=True),
        sa.Column("status_id", sa.BigInteger(), nullable=True),
        sa.Column("assignment", sa.String(length=10), server_default="rules", nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("team_id", sa.BigInteger(), nullable=True),
        sa.Column("redirect_url", sa.Text(), nullable=True),
        sa.Column("honeypot", sa.String(length=50), server_default="website", nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("assignment IN ('rules', 'owner', 'team')", name=op.f("ck_web_forms_assignment")),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_web_forms_owner_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["pipeline_id"], ["pipelines.id"], name=op.f("fk_web_forms_pipeline_id_pipelines"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["status_id"],
            ["pipeline_statuses.id"],
            name=op.f("fk_web_forms_status_id_pipeline_statuses"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_web_forms_team_id_teams"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_forms")),
    )
    op.create_index("uq_web_forms_key", "web_forms", ["key"], unique=True)
    op.create_index("uq_web_forms_name_lower", "web_forms", [sa.literal_column("lower(name)")], unique=True)


def downgrade() -> None:
    op.drop_index("uq_web_forms_name_lower", table_name="web_forms")
    op.drop_index("uq_web_forms_key", table_name="web_forms")
    op.drop_table("web_forms")
