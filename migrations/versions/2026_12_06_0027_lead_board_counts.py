"""The leads board's column counts and totals, kept as the leads change.

Counting a column at a million leads reads hundreds of thousands of index entries on every board
open; these rows (one per pipeline, stage, currency, owner and team) make it a read of a few
hundred. Statement-level triggers with transition tables keep them: one aggregate per statement,
so a bulk load (COPY) or a bulk reassign costs one upsert per bucket, not one per row, and a save
that changes none of these columns writes nothing. Upserts run in key order, so two transactions
touching the same buckets queue rather than deadlock. Archived leads are not on the board and
are not counted; `valued` counts the leads that have a value, so a column whose leads have none
shows no total (as SUM over no values gives none).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 00:05:00
"""

from __future__ import annotations

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

KEY = "pipeline_id, status_id, currency, owner_id, team_id"


def _rows(table: str, sign: str) -> str:
    return (
        f"SELECT {KEY}, {sign}1 AS leads, {sign}coalesce(value, 0) AS value, {sign}(value IS NOT NULL)::int AS valued"
        f" FROM {table} WHERE archived_at IS NULL"
    )


def _apply(name: str, changes: str) -> str:
    """A trigger function adding `changes` (signed rows) into the counts."""
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_board_counts AS c ({KEY}, leads, value, valued)
    SELECT {KEY}, sum(leads), sum(value), sum(valued)
      FROM ({changes}) AS d
     GROUP BY {KEY}
    HAVING sum(leads) <> 0 OR sum(value) <> 0 OR sum(valued) <> 0
     ORDER BY {KEY}
        ON CONFLICT ({KEY}) DO UPDATE
       SET leads = c.leads + excluded.leads, value = c.value + excluded.value, valued = c.valued + excluded.valued;
    RETURN NULL;
END $$"""


def upgrade() -> None:
    op.execute(
        f"""
CREATE TABLE lead_board_counts (
    pipeline_id integer NOT NULL,
    status_id integer NOT NULL,
    currency varchar(3),
    owner_id integer,
    team_id integer,
    leads bigint NOT NULL,
    value numeric NOT NULL,
    valued bigint NOT NULL,
    CONSTRAINT uq_lead_board_counts UNIQUE NULLS NOT DISTINCT ({KEY})
)"""
    )
    op.execute(_apply("lead_board_counts_insert", _rows("new_leads", "")))
    op.execute(_apply("lead_board_counts_delete", _rows("old_leads", "-")))
    op.execute(_apply("lead_board_counts_update", f"{_rows('new_leads', '')} UNION ALL {_rows('old_leads', '-')}"))
    op.execute(
        """
CREATE FUNCTION lead_board_counts_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM lead_board_counts;
    RETURN NULL;
END $$"""
    )
    for event, tables in (
        ("INSERT", "NEW TABLE AS new_leads"),
        ("DELETE", "OLD TABLE AS old_leads"),
        ("UPDATE", "OLD TABLE AS old_leads NEW TABLE AS new_leads"),
    ):
        op.execute(
            f"CREATE TRIGGER lead_board_counts_{event.lower()} AFTER {event} ON leads REFERENCING {tables}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION lead_board_counts_{event.lower()}()"
        )
    op.execute(
        "CREATE TRIGGER lead_board_counts_truncate AFTER TRUNCATE ON leads"
        " FOR EACH STATEMENT EXECUTE FUNCTION lead_board_counts_truncate()"
    )
    op.execute(
        f"INSERT INTO lead_board_counts ({KEY}, leads, value, valued)"
        f" SELECT {KEY}, count(*), coalesce(sum(value), 0), count(value) FROM leads WHERE archived_at IS NULL"
        f" GROUP BY {KEY}"
    )


def downgrade() -> None:
    for event in ("insert", "delete", "update", "truncate"):
        op.execute(f"DROP TRIGGER lead_board_counts_{event} ON leads")
        op.execute(f"DROP FUNCTION lead_board_counts_{event}()")
    op.execute("DROP TABLE lead_board_counts")
