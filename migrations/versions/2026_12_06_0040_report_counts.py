"""Counts kept for reports and Home at a million rows (issue #20).

`follow_up_day_counts`: the follow-ups per UTC day, state, kind, owner and team: a done one on the
day it was done, an open one on the day it is due. Team activity over a year and Home's overdue
follow-ups read a few thousand of these rows instead of counting millions of follow-ups. Kept as
`lead_board_counts` is (migration 0027): statement-level triggers with transition tables add each
statement's changes in one upsert per bucket, in key order, in the same transaction, so the counts
are never behind the follow-ups they count.

`ix_invoices_open_due`: the open invoices by due date with what Home's overdue figure sums, so that
figure is read from the index alone.

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0040"
down_revision = "0039"
branch_labels = None
depends_on = None

KEY = "day, state, kind, owner_id, team_id"
DAY = (
    "CASE WHEN status = 'done' THEN (completed_at AT TIME ZONE 'UTC')::date ELSE (due_at AT TIME ZONE 'UTC')::date END"
)


def _rows(table: str, sign: str) -> str:
    return (
        f"SELECT {DAY} AS day, status AS state, kind, owner_id, team_id, {sign}1 AS n FROM {table}"
        " WHERE status = 'open' OR (status = 'done' AND completed_at IS NOT NULL)"
    )


def _apply(name: str, changes: str) -> str:
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO follow_up_day_counts AS c ({KEY}, n)
    SELECT {KEY}, sum(n) FROM ({changes}) AS d
     GROUP BY {KEY}
    HAVING sum(n) <> 0
     ORDER BY {KEY}
        ON CONFLICT ({KEY}) DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END $$"""


def upgrade() -> None:
    op.execute(
        f"""
CREATE TABLE follow_up_day_counts (
    day date NOT NULL,
    state varchar(10) NOT NULL,
    kind varchar(20) NOT NULL,
    owner_id integer,
    team_id integer,
    n bigint NOT NULL,
    CONSTRAINT uq_follow_up_day_counts UNIQUE NULLS NOT DISTINCT ({KEY})
)"""
    )
    op.execute(_apply("follow_up_day_counts_insert", _rows("new_rows", "")))
    op.execute(_apply("follow_up_day_counts_delete", _rows("old_rows", "-")))
    op.execute(_apply("follow_up_day_counts_update", f"{_rows('new_rows', '')} UNION ALL {_rows('old_rows', '-')}"))
    op.execute(
        """
CREATE FUNCTION follow_up_day_counts_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM follow_up_day_counts;
    RETURN NULL;
END $$"""
    )
    for event, tables in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    ):
        op.execute(
            f"CREATE TRIGGER follow_up_day_counts_{event.lower()} AFTER {event} ON follow_ups REFERENCING {tables}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION follow_up_day_counts_{event.lower()}()"
        )
    op.execute(
        "CREATE TRIGGER follow_up_day_counts_truncate AFTER TRUNCATE ON follow_ups"
        " FOR EACH STATEMENT EXECUTE FUNCTION follow_up_day_counts_truncate()"
    )
    op.execute(
        f"INSERT INTO follow_up_day_counts ({KEY}, n)"
        f" SELECT {KEY}, sum(n) FROM ({_rows('follow_ups', '')}) AS d GROUP BY {KEY}"
    )
    op.execute(
        "CREATE INDEX ix_invoices_open_due ON invoices (due_date)"
        " INCLUDE (currency, gross_total, paid_total, owner_id, team_id)"
        " WHERE status IN ('unpaid', 'partially_paid', 'overdue')"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_invoices_open_due")
    for event in ("insert", "delete", "update", "truncate"):
        op.execute(f"DROP TRIGGER follow_up_day_counts_{event} ON follow_ups")
        op.execute(f"DROP FUNCTION follow_up_day_counts_{event}()")
    op.execute("DROP TABLE follow_up_day_counts")
