"""Reports (issue #20): every move of a lead between statuses with its time, a win probability per
status, and what a manager spent per lead source and month.

`lead_status_history` is written by statement-level triggers on `leads` (every path that changes a
status passes through them: the form, the board, a bulk move, a removed status, an import's COPY),
one row per lead and move: the first row (from_status_id NULL) is where the lead started. Existing
leads are filled from the audit log: the lead's first status (the `old` of its first audited
status move, else its current status) at its creation time, then each audited move at its time.

`pipeline_statuses.win_probability` (percent): open stages get an even ladder by position
(1/(n+1) ... n/(n+1)), won 100, lost and junk 0; a manager changes them.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lead_status_history",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("lead_id", sa.BigInteger(), sa.ForeignKey("leads.id", ondelete="CASCADE"), nullable=False),
        sa.Column("pipeline_id", sa.BigInteger(), nullable=False),
        sa.Column("from_status_id", sa.BigInteger(), nullable=True),
        sa.Column("to_status_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_lead_status_history_lead", "lead_status_history", ["lead_id", "at", "id"])
    op.create_index("ix_lead_status_history_to", "lead_status_history", ["to_status_id", "at"])
    op.execute(
        """
CREATE FUNCTION lead_status_history_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_status_history (lead_id, pipeline_id, from_status_id, to_status_id, at)
    SELECT id, pipeline_id, NULL, status_id, coalesce(status_changed_at, created_at, now()) FROM new_leads;
    RETURN NULL;
END $$"""
    )
    op.execute(
        """
CREATE FUNCTION lead_status_history_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_status_history (lead_id, pipeline_id, from_status_id, to_status_id, at)
    SELECT n.id, n.pipeline_id, o.status_id, n.status_id,
           CASE WHEN n.status_changed_at IS DISTINCT FROM o.status_changed_at THEN n.status_changed_at ELSE now() END
      FROM new_leads n JOIN old_leads o ON o.id = n.id
     WHERE n.status_id IS DISTINCT FROM o.status_id;
    RETURN NULL;
END $$"""
    )
    op.execute(
        "CREATE TRIGGER lead_status_history_insert AFTER INSERT ON leads REFERENCING NEW TABLE AS new_leads"
        " FOR EACH STATEMENT EXECUTE FUNCTION lead_status_history_insert()"
    )
    op.execute(
        "CREATE TRIGGER lead_status_history_update AFTER UPDATE ON leads"
        " REFERENCING NEW TABLE AS new_leads OLD TABLE AS old_leads"
        " FOR EACH STATEMENT EXECUTE FUNCTION lead_status_history_update()"
    )
    # Existing leads, from the audit log: each audited status move, and where the lead started.
    op.execute(
        """
WITH moves AS (
    SELECT a.entity_id AS lead_id, a.at, a.id AS audit_id,
           (c ->> 'old')::bigint AS from_status_id, (c ->> 'new')::bigint AS to_status_id
      FROM audit_log a CROSS JOIN LATERAL jsonb_array_elements(a.changes) AS c
     WHERE a.entity = 'lead' AND c ->> 'field' = 'status_id' AND jsonb_typeof(c -> 'new') = 'number'
), first_moves AS (
    SELECT DISTINCT ON (lead_id) lead_id, from_status_id FROM moves ORDER BY lead_id, at, audit_id
)
INSERT INTO lead_status_history (lead_id, pipeline_id, from_status_id, to_status_id, at)
SELECT l.id, coalesce(s.pipeline_id, l.pipeline_id), NULL, coalesce(f.from_status_id, l.status_id), l.created_at
  FROM leads l
  LEFT JOIN first_moves f ON f.lead_id = l.id
  LEFT JOIN pipeline_statuses s ON s.id = coalesce(f.from_status_id, l.status_id)
UNION ALL
SELECT m.lead_id, coalesce(s.pipeline_id, l.pipeline_id), m.from_status_id, m.to_status_id, m.at
  FROM moves m JOIN leads l ON l.id = m.lead_id
  LEFT JOIN pipeline_statuses s ON s.id = m.to_status_id"""
    )

    # What the lost deals and team activity reports read by date.
    op.create_index("ix_leads_closed_at", "leads", ["closed_at"], postgresql_where=sa.text("closed_at IS NOT NULL"))
    op.create_index(
        "ix_follow_ups_done_at", "follow_ups", ["completed_at"], postgresql_where=sa.text("status = 'done'")
    )

    op.add_column("pipeline_statuses", sa.Column("win_probability", sa.Numeric(5, 2), nullable=True))
    op.execute(
        """
UPDATE pipeline_statuses p SET win_probability = CASE
    WHEN p.kind = 'won' THEN 100
    WHEN p.kind <> 'open' THEN 0
    ELSE round(100.0 * o.rank / (o.n + 1), 2) END
  FROM (SELECT id, row_number() OVER w AS rank, count(*) OVER (PARTITION BY pipeline_id) AS n
          FROM pipeline_statuses WHERE kind = 'open' WINDOW w AS (PARTITION BY pipeline_id ORDER BY position, id)
        UNION ALL SELECT id, 0, 0 FROM pipeline_statuses WHERE kind <> 'open') AS o
 WHERE o.id = p.id"""
    )
    op.execute("UPDATE pipeline_statuses SET win_probability = 0 WHERE win_probability IS NULL")
    op.alter_column("pipeline_statuses", "win_probability", nullable=False, server_default="0")
    op.execute(
        "ALTER TABLE pipeline_statuses ADD CONSTRAINT ck_pipeline_statuses_win_probability"
        " CHECK (win_probability BETWEEN 0 AND 100)"
    )

    op.create_table(
        "lead_source_costs",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("updated_by", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("source", "month", "currency", name="uq_lead_source_costs"),
        sa.CheckConstraint("amount >= 0", name="ck_lead_source_costs_amount"),
        sa.CheckConstraint("extract(day FROM month) = 1", name="ck_lead_source_costs_month"),
    )

    op.create_table(
        "report_schedules",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("report", sa.String(20), nullable=False),
        sa.Column("period", sa.String(20), nullable=False),
        sa.Column("filters", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("frequency", sa.String(10), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=True),
        sa.Column("day_of_month", sa.SmallInteger(), nullable=True),
        sa.Column("user_ids", postgresql.ARRAY(sa.BigInteger()), server_default="{}", nullable=False),
        sa.Column("role_ids", postgresql.ARRAY(sa.BigInteger()), server_default="{}", nullable=False),
        sa.Column("send_empty", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.String(20), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("frequency IN ('daily', 'weekly', 'monthly')", name="ck_report_schedules_frequency"),
        sa.CheckConstraint("hour BETWEEN 0 AND 23", name="ck_report_schedules_hour"),
    )
    op.create_index("ix_report_schedules_due", "report_schedules", ["next_run_at"], postgresql_where=sa.text("active"))
    op.create_table(
        "report_schedule_optouts",
        sa.Column(
            "schedule_id",
            sa.BigInteger(),
            sa.ForeignKey("report_schedules.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    )
    # The daily summary goes to managers at the end of each day (18:00 UTC) by default.
    op.execute(
        """
INSERT INTO report_schedules (name, report, period, frequency, hour, role_ids, next_run_at)
SELECT 'Daily summary', 'daily', 'today', 'daily', 18, ARRAY[r.id],
       date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + CASE
           WHEN extract(hour FROM now() AT TIME ZONE 'UTC') < 18 THEN interval '18 hours' ELSE interval '42 hours' END
  FROM roles r WHERE r.name = 'Manager'"""
    )


def downgrade() -> None:
    op.drop_table("report_schedule_optouts")
    op.drop_table("report_schedules")
    op.drop_index("ix_follow_ups_done_at", table_name="follow_ups")
    op.drop_index("ix_leads_closed_at", table_name="leads")
    op.drop_table("lead_source_costs")
    op.execute("ALTER TABLE pipeline_statuses DROP CONSTRAINT ck_pipeline_statuses_win_probability")
    op.drop_column("pipeline_statuses", "win_probability")
    op.execute("DROP TRIGGER lead_status_history_update ON leads")
    op.execute("DROP TRIGGER lead_status_history_insert ON leads")
    op.execute("DROP FUNCTION lead_status_history_update()")
    op.execute("DROP FUNCTION lead_status_history_insert()")
    op.drop_table("lead_status_history")
