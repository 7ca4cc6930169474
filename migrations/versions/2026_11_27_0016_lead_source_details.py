"""Lead source details: where an integration found the lead (Facebook page, form, ad and leadgen
ids), with one lead per Facebook leadgen id.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-27 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "leads",
        sa.Column(
            "source_details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )
    op.create_index(
        "uq_leads_leadgen_id",
        "leads",
        [sa.literal_column("(source_details ->> 'leadgen_id')")],
        unique=True,
        postgresql_where=sa.text("(source_details ->> 'leadgen_id') IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_leads_leadgen_id",
        table_name="leads",
        postgresql_where=sa.text("(source_details ->> 'leadgen_id') IS NOT NULL"),
    )
    op.drop_column("leads", "source_details")
