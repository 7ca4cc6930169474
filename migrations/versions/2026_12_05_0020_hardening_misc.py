"""Hardening leftovers (kept empty unless a change needs a column).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # recovery codes: a salted argon2 hash (longer than SHA-256 hex) and a non-secret lookup id.
    op.add_column("recovery_codes", sa.Column("lookup", sa.String(length=8), nullable=True))  # recovery codes
    op.alter_column(
        "recovery_codes",
        "code_hash",
        type_=sa.Text(),
        existing_type=sa.String(length=64),  # recovery codes
        existing_nullable=False,
    )
    # recovery codes: the old 40-bit unsalted ones are retired; their owners make new ones (with their password).
    op.execute("UPDATE recovery_codes SET used_at = now() WHERE used_at IS NULL AND lookup IS NULL")  # recovery codes


def downgrade() -> None:
    # recovery codes: the new kind cannot be checked by the old code (nor fits in 64 characters).
    op.execute("DELETE FROM recovery_codes WHERE lookup IS NOT NULL")  # recovery codes
    op.alter_column(
        "recovery_codes",
        "code_hash",
        type_=sa.String(length=64),
        existing_type=sa.Text(),  # recovery codes
        existing_nullable=False,
    )
    op.drop_column("recovery_codes", "lookup")  # recovery codes
