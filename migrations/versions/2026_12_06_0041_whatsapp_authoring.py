"""WhatsApp template authoring, quality rating, follow-up sending (issue #23).

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

revision = "0041"
down_revision = "0040"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
