"""Automation: managers, e-mail/WhatsApp actions, delivery batches (issue #24).

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

revision = "0039"
down_revision = "0038"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
