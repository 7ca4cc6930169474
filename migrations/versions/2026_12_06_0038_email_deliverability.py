"""Bounces, complaints, DKIM keys, reply threading (issue #22).

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
