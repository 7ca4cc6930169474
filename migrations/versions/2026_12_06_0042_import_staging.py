"""Imports in one pass (issue #19): reserved for the staging of an import's converted rows.

Revision ID: 0042
Revises: 0041
Create Date: 2026-12-06 09:00:00
"""

from __future__ import annotations

revision = "0042"
down_revision = "0041"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
