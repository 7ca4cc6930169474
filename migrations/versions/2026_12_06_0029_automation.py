"""Automation: rules, their run log and planned date triggers; outgoing webhook subscriptions, the
deliveries outbox and each delivery's attempts. Seeds the issue's demo rule (inactive).

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

EMPTY_OBJ = sa.text("'{}'::jsonb")
EMPTY_LIST = sa.text("'[]'::jsonb")


def upgrade() -> None:
    op.create_table(
        "automation_rules",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("trigger", postgresql.JSONB(), nullable=False),
        sa.Column("conditions", postgresql.JSONB(), server_default=EMPTY_OBJ, nullable=False),
        sa.Column("actions", postgresql.JSONB(), server_default=EMPTY_LIST, nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("state", postgresql.JSONB(), server_default=EMPTY_OBJ, nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name="fk_automation_rules_created_by_users", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_automation_rules"),
    )
    op.create_index("ix_automation_rules_entity", "automation_rules", ["entity"], postgresql_where=sa.text("active"))
    op.create_table(
        "automation_runs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("rule_id", sa.BigInteger(), nullable=False),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("entity_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("depth", sa.Integer(), server_default="0", nullable=False),
        sa.Column("chain", postgresql.JSONB(), server_default=EMPTY_LIST, nullable=False),
        sa.Column("change", postgresql.JSONB(), server_default=EMPTY_OBJ, nullable=False),
        sa.Column("conditions", postgresql.JSONB(), server_default=EMPTY_LIST, nullable=False),
        sa.Column("matched", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("actions", postgresql.JSONB(), server_default=EMPTY_LIST, nullable=False),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["automation_rules.id"], name="fk_automation_runs_rule_id_automation_rules", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_automation_runs"),
    )
    op.create_index("ix_automation_runs_rule", "automation_runs", ["rule_id", "at"])
    op.create_index("ix_automation_runs_record", "automation_runs", ["entity", "entity_id", "at"])
    op.create_table(
        "automation_planned",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("rule_id", sa.BigInteger(), nullable=False),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("entity_id", sa.BigInteger(), nullable=False),
        sa.Column("fire_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["automation_rules.id"],
            name="fk_automation_planned_rule_id_automation_rules",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_automation_planned"),
        sa.UniqueConstraint("rule_id", "entity", "entity_id", name="uq_automation_planned_record"),
    )
    op.create_index("ix_automation_planned_fire_at", "automation_planned", ["fire_at"])
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("event_types", postgresql.JSONB(), server_default=EMPTY_LIST, nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name="fk_webhook_subscriptions_created_by_users", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_subscriptions"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("subscription_id", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.String(60), nullable=False),
        sa.Column("message_id", sa.String(60), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("status", sa.String(10), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscriptions.id"],
            name="fk_webhook_deliveries_subscription_id_webhook_subscriptions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
    )
    op.create_index("ix_webhook_deliveries_subscription", "webhook_deliveries", ["subscription_id", "created_at"])
    op.create_index(
        "ix_webhook_deliveries_status",
        "webhook_deliveries",
        ["status"],
        postgresql_where=sa.text("status IN ('pending', 'dead')"),
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("delivery_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("response_excerpt", sa.Text(), server_default="", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name="fk_webhook_attempts_delivery_id_webhook_deliveries",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_attempts"),
    )
    op.create_index("ix_webhook_attempts_delivery", "webhook_attempts", ["delivery_id", "at"])
    # The seed's example (../shared/seeds/001, "Setting Up Automation Rules"), off until an admin turns it on.
    demo = sa.table(
        "automation_rules",
        sa.column("name", sa.String),
        sa.column("entity", sa.String),
        sa.column("trigger", postgresql.JSONB),
        sa.column("conditions", postgresql.JSONB),
        sa.column("actions", postgresql.JSONB),
        sa.column("active", sa.Boolean),
    )
    op.bulk_insert(
        demo,
        [
            {
                "name": "Prepare for the demo",
                "entity": "lead",
                "trigger": {"kind": "status_changed", "field": "status", "to_value": "Demo Scheduled"},
                "conditions": {"match": "all", "items": []},
                "actions": [
                    {
                        "kind": "create_follow_up",
                        "title": "Prepare for Demo",
                        "follow_up_kind": "meeting",
                        "offset_minutes": -1440,
                        "relative_to": "next_meeting",
                    }
                ],
                "active": False,
            }
        ],
    )


def downgrade() -> None:
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_subscriptions")
    op.drop_table("automation_planned")
    op.drop_table("automation_runs")
    op.drop_table("automation_rules")
