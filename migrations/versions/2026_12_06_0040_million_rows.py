"""Indexes and statistics for a million rows (issue #18).

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

revision = "0040"
down_revision = "0039"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
