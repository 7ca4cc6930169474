"""Automation: managers, e-mail/WhatsApp actions, delivery batches (issue #24).

A manager's rule belongs to their team and sees only its records (automation_rules.team_id); the
new `automation` permission module: every action for the built-in Admin and for any role that may
edit the admin panel (they held Automation before), view/create/edit/delete on their team for the
built-in Manager.

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0039"
down_revision = "0038"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "automation_rules",
        sa.Column("team_id", sa.BigInteger(), sa.ForeignKey("teams.id", ondelete="CASCADE"), nullable=True),
    )
    op.create_index("ix_automation_rules_team", "automation_rules", ["team_id"])
    op.execute(
        """
        UPDATE roles SET permissions = permissions || jsonb_build_object('automation', jsonb_build_object(
            'actions', '["view", "create", "edit", "delete", "export", "import"]'::jsonb, 'scope', 'all'))
        WHERE (builtin AND name = 'Admin') OR permissions -> 'admin' -> 'actions' ? 'edit'
        """
    )
    op.execute(
        """
        UPDATE roles SET permissions = permissions || jsonb_build_object('automation', jsonb_build_object(
            'actions', '["view", "create", "edit", "delete"]'::jsonb, 'scope', 'team'))
        WHERE builtin AND name = 'Manager'
        """
    )


def downgrade() -> None:
    op.execute("UPDATE roles SET permissions = permissions - 'automation'")
    op.drop_index("ix_automation_rules_team", table_name="automation_rules")
    op.drop_column("automation_rules", "team_id")
